"""Requests the proxy sent to each endpoint IP: total and in flight (the HPA's Pods metrics).

Counted per upstream attempt: a retried request counts once for each pod it reached, as each pod's
own request counter would.
"""

from __future__ import annotations


class PodTraffic:
    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = {}  # ip -> [requests started, in flight]

    def counts_for(self, ip: str) -> list[int]:
        """The [started, in flight] pair the exchange updates in place (no lookup per update)."""
        counts = self.counts.get(ip)
        if counts is None:
            counts = self.counts[ip] = [0, 0]
        return counts

    def snapshot(self) -> dict[str, tuple[int, int]]:
        return {ip: (c[0], c[1]) for ip, c in self.counts.items()}
