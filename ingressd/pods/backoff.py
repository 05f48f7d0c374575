"""The kubelet's crash-loop back-off for one container, as pure data (no asyncio, no clock).

Upstream (pkg/kubelet/kuberuntime/kuberuntime_manager.go `doBackOff`, over client-go
util/flowcontrol/backoff.go): a container that exits is restarted at once unless its key is "in
back-off since" the exit, i.e. an entry exists and less than `entry.backoff` has passed since
finishedAt. Every restart calls `Next`, which creates the entry at the initial 10 s or doubles it
(capped at 5 min) and stamps lastUpdate. An entry not updated for more than twice the maximum
(the container ran well for 10 min) has expired: the next crash restarts at once again.

So the first crash restarts immediately, the second waits 10 s (CrashLoopBackOff), then 20 s, 40 s…
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """One container's flowcontrol entry: the current window (0: no entry yet) and when it moved."""

    window: float = 0.0
    last_update: float = 0.0


def next_restart(entry: Backoff, finished_at: float, initial: float, maximum: float) -> tuple[float, Backoff]:
    """(seconds to wait before restarting a container that finished at `finished_at`, the entry
    after that restart). A delay of 0 is a restart without CrashLoopBackOff."""
    expired = finished_at - entry.last_update > 2 * maximum
    if entry.window <= 0 or expired:
        return 0.0, Backoff(initial, finished_at)
    delay = entry.window
    return delay, Backoff(min(entry.window * 2, maximum), finished_at + delay)
