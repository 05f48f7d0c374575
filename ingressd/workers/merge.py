"""The pure parts of `--workers`: how many, each worker's seed, metric deltas, traffic totals and
which workers went silent.

No asyncio, no sockets: table-tested in tests/workers/test_merge.py.
"""

from __future__ import annotations

import os
import socket
import sys

from ingressd.metrics import ProxyMetrics

MAX_WORKERS = 64


def parse_workers(text: str) -> int:
    """`--workers N|auto`: a count from 1 to MAX_WORKERS, or the number of CPUs for `auto`.
    Raises ValueError with the sentence argparse shows."""
    if text == "auto":
        return max(1, min(os.cpu_count() or 1, MAX_WORKERS))
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"invalid value {text!r}: want a number of workers (1 to {MAX_WORKERS}) or auto") from None
    if not 1 <= count <= MAX_WORKERS:
        raise ValueError(f"invalid value {text!r}: want a number of workers from 1 to {MAX_WORKERS}, or auto")
    return count


def reuseport_unavailable(platform: str = sys.platform, has_option: bool = hasattr(socket, "SO_REUSEPORT")) -> str | None:
    """Why N worker processes cannot share the listeners here (None: they can). Only Linux spreads
    the connections of one port across SO_REUSEPORT sockets; BSD and macOS hand them all to one."""
    if not has_option:
        return f"SO_REUSEPORT is not available on this platform ({platform})"
    if not platform.startswith("linux"):
        return f"SO_REUSEPORT does not spread connections across processes on this platform ({platform})"
    return None


def worker_seed(seed: int | None, index: int) -> int | None:
    """Worker `index` (0-based) seeds its random source with seed+index: each worker's draws are
    reproducible, though which worker gets a connection is the kernel's choice."""
    return None if seed is None else seed + index


def drain(metrics: ProxyMetrics) -> tuple | None:
    """Take what `metrics` counted since the last drain (it starts again from empty), or None when
    it counted nothing: (requests counter values, then the four histograms' children)."""
    if not metrics.requests.cells:
        return None
    families = (metrics.request_duration, metrics.response_duration, metrics.request_size, metrics.response_size)
    taken = (metrics.requests.values, *(family.children for family in families))
    metrics.requests.cells = {}
    for family in families:
        family.children = {}
    metrics._children = {}
    return taken


def merge(metrics: ProxyMetrics, taken: tuple) -> None:
    """Add one drained delta to `metrics` (the control process's, which /metrics exposes)."""
    counts, *histograms = taken
    for labels, value in counts.items():
        metrics.requests.inc(labels, value)
    families = (metrics.request_duration, metrics.response_duration, metrics.request_size, metrics.response_size)
    for family, children in zip(families, histograms):
        for labels, (buckets, total) in children.items():
            child = family.child(labels)
            into = child[0]
            for i, count in enumerate(buckets):
                into[i] += count
            child[1] += total


class TrafficTotals:
    """The proxy's requests per pod IP across workers: [started, in flight], as PodTraffic.snapshot.

    Each worker reports its own cumulative counts; a worker that exits keeps its started requests
    in the totals (none of its requests is in flight any more)."""

    def __init__(self) -> None:
        self.live: dict[int, dict[str, tuple[int, int]]] = {}  # worker index -> its last report
        self.retired: dict[str, int] = {}  # ip -> requests started by workers that exited

    def report(self, worker: int, counts: dict[str, tuple[int, int]]) -> None:
        self.live[worker] = counts

    def retire(self, worker: int) -> None:
        for ip, (started, _flight) in self.live.pop(worker, {}).items():
            self.retired[ip] = self.retired.get(ip, 0) + started

    def snapshot(self) -> dict[str, tuple[int, int]]:
        totals = {ip: [started, 0] for ip, started in self.retired.items()}
        for counts in self.live.values():
            for ip, (started, flight) in counts.items():
                total = totals.setdefault(ip, [0, 0])
                total[0] += started
                total[1] += flight
        return {ip: (started, flight) for ip, (started, flight) in totals.items()}


class SilenceWatch:
    """Which workers have been silent for longer than `timeout` seconds (`--worker-timeout`, as
    gunicorn's --timeout): a worker reports at least every 0.2 s while its loop runs, so silence
    means a loop stuck in a handler or a stopped process. Time the control process itself did not
    run (a tick more than a second late) is not counted against anyone: it read nothing either."""

    LATE = 1.0

    def __init__(self, timeout: float, interval: float, now: float) -> None:
        self.timeout = timeout
        self.interval = interval
        self.heard_at: dict[int, float] = {}
        self.named: set[int] = set()
        self._tick = now

    def heard(self, worker: int, now: float) -> None:
        self.heard_at[worker] = now
        self.named.discard(worker)

    def forget(self, worker: int) -> None:
        self.heard_at.pop(worker, None)
        self.named.discard(worker)

    def tick(self, now: float) -> list[int]:
        """The workers silent too long as of `now`; each is named once (until heard or forgotten)."""
        late = now - self._tick - self.interval
        self._tick = now
        if late > self.LATE:
            for worker, at in self.heard_at.items():
                self.heard_at[worker] = min(now, at + late)
            return []
        silent = sorted(worker for worker, at in self.heard_at.items()
                        if now - at > self.timeout and worker not in self.named)
        self.named.update(silent)
        return silent
