"""The echo app's CPU cost model: a processor-sharing server (pure; time is passed in).

Each request needs `work` CPU-seconds. With n requests in progress on a container of `capacity`
cores, each progresses at min(1, capacity / n) cores — one request cannot use more than one core,
and past capacity they share it equally, so latency grows with load as a saturated pod's does.
Cumulative CPU is the integral of min(n, capacity): what a kubelet's cgroup counter would report.
"""

from __future__ import annotations

EPSILON = 1e-9  # CPU-seconds below which a job counts as done (float residue)


class ProcessorSharing:
    """Jobs in progress and their remaining work; `now` is any monotonic clock in seconds."""

    __slots__ = ("_cpu_seconds", "_last", "capacity", "jobs")

    def __init__(self, capacity: float, now: float) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be > 0 cores")
        self.capacity = capacity
        self.jobs: dict[object, float] = {}  # job -> CPU-seconds still needed
        self._last = now
        self._cpu_seconds = 0.0

    def rate(self) -> float:
        """Cores each job gets right now."""
        n = len(self.jobs)
        return min(1.0, self.capacity / n) if n else 0.0

    def advance(self, now: float) -> None:
        """Apply the work done since the last call."""
        dt = now - self._last
        if dt <= 0:
            return
        self._last = now
        n = len(self.jobs)
        if not n:
            return
        rate = min(1.0, self.capacity / n)
        busy = 0.0
        for job, remaining in self.jobs.items():
            done = min(remaining, rate * dt)
            self.jobs[job] = remaining - done
            busy += done
        self._cpu_seconds += busy

    def add(self, job: object, work: float, now: float) -> None:
        self.advance(now)
        self.jobs[job] = max(work, 0.0)

    def remove(self, job: object, now: float) -> None:
        """A job that left early (client gone): the work it got stays counted."""
        self.advance(now)
        self.jobs.pop(job, None)

    def pop_finished(self, now: float, slack: float = 0.0) -> list[object]:
        """Jobs done by `now`, or within `slack` seconds of it (a timer that fired a little early)."""
        self.advance(now)
        limit = max(EPSILON, slack * self.rate())
        finished = [job for job, remaining in self.jobs.items() if remaining <= limit]
        for job in finished:
            del self.jobs[job]
        return finished

    def next_completion(self) -> float | None:
        """Seconds from the last advance until the next job finishes, if nothing else arrives."""
        if not self.jobs:
            return None
        return max(min(self.jobs.values()), 0.0) / self.rate()

    def cpu_seconds(self, now: float) -> float:
        """Cumulative CPU-seconds used since creation."""
        self.advance(now)
        return self._cpu_seconds
