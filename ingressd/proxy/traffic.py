"""Requests the proxy sent to each endpoint IP: total and in flight (the HPA's Pods metrics).

Counted per upstream attempt: a retried request counts once for each pod it reached, as each pod's
own request counter would.
"""

from __future__ import annotations


class PodTraffic:
    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = {}  # ip -> [requests started, in flight]

    def begin(self, ip: str) -> None:
        counts = self.counts.get(ip)
        if counts is None:
            counts = self.counts[ip] = [0, 0]
        counts[0] += 1
        counts[1] += 1

    def end(self, ip: str) -> None:
        counts = self.counts.get(ip)
        if counts is not None and counts[1] > 0:
            counts[1] -= 1

    def snapshot(self) -> dict[str, tuple[int, int]]:
        return {ip: (c[0], c[1]) for ip, c in self.counts.items()}
