"""The reaper: one small process per ingressd that outlives it just long enough to stop its containers.

ingressd writes `+PGID` / `-PGID` lines to the reaper's stdin as container process groups start and
stop. When the pipe reaches EOF, ingressd has gone, however it went (SIGKILL and crashes included: the
kernel closes the pipe). The reaper then sends SIGTERM to every group still listed, waits up to
GRACE seconds, SIGKILLs what is left, and exits. A group's leader is the container's shim (Linux),
so what is left includes the shim's descendants outside the group (daemons that `setsid`): they
are killed first, while the shim still adopts orphans, then the group (`shim.kill_tree`). It
ignores SIGINT/SIGTERM so a Ctrl-C aimed at ingressd cannot take it down first. Run as `python -m ingressd.pods.reaper`.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from ingressd.pods.shim import kill_tree

GRACE = 2.0


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    groups: set[int] = set()
    for line in sys.stdin:
        line = line.strip()
        if line[:1] in ("+", "-") and line[1:].isdigit():
            (groups.add if line[0] == "+" else groups.discard)(int(line[1:]))
    for pgid in groups:
        _signal(pgid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    while any(_alive(p) for p in groups) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pgid in groups:
        if _alive(pgid):
            kill_tree(pgid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
