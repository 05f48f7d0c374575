"""The container shim: one small process per process container, the parent of everything it runs.

A process group is not a container: a daemon (double fork + `setsid`) leaves it, and killing the
group misses it. Like containerd-shim, the shim is a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`):
whatever the command spawns, however it detaches, is re-parented to the shim, so the shim's
descendants are exactly the container's processes and can be found through /proc and killed:

- it runs the command (posix_spawnp: the container's PATH, cwd, env and stdio) and exits with the
  command's status: the same exit code, or killed by the same signal, so lastState reads as before;
- SIGTERM (ingressd sends it to the shim's process group) is passed on, once, to the descendants
  that left the group;
- when the command exits, the remaining descendants are SIGKILLed, as a runtime does when a
  container's PID 1 exits;
- when ingressd is gone (killed, crashed: the shim's parent changed, polled every POLL_SECONDS
  rather than PR_SET_PDEATHSIG, which fires when the spawning *thread* ends), it sends SIGTERM to
  every descendant and SIGKILL after ORPHAN_GRACE (the reaper does the same from outside).

`kill_tree()` is the SIGKILL for a whole container from outside (ingressd after the grace period,
the reaper): descendants first, the shim last, so nothing is re-parented out of reach meanwhile.

Run as `python -I -S shim.py [--parent PID] --error-fd FD -- COMMAND...` (stdlib only, ~20 ms):
`-I` keeps the container's PYTHON* variables and working directory from affecting the shim. An exec
failure is written to FD as "errno strerror" (ingressd raises it as the OSError of a failed
start); FD closes empty once the command runs. Linux only: elsewhere ingressd runs commands
directly in their own process group (descendants that leave it are not tracked there).
"""

from __future__ import annotations

import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
ORPHAN_GRACE = 2.0  # seconds between SIGTERM and SIGKILL once ingressd is gone
POLL_SECONDS = 0.25  # how often the shim checks that ingressd is still its parent
KILL_DEADLINE = 5.0  # bound on the kill loop (a fork bomb keeps making descendants)
_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def supported() -> bool:
    """Whether this platform can track descendants (child subreaper and /proc)."""
    return sys.platform.startswith("linux") and os.path.isdir("/proc/self")


# -- the process tree, from /proc (also used by process.py and the reaper) ------------------------

def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, pgid, state) of every process, from /proc/<pid>/stat."""
    result = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        result[int(name)] = (int(fields[1]), int(fields[2]), fields[0].decode())
    return result


def descendants(root: int) -> list[tuple[int, int]]:
    """(pid, pgid) of every living (not zombie) descendant of `root`, parents before children."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in processes.items():
        children.setdefault(ppid, []).append(pid)
    result, queue = [], list(children.get(root, ()))
    while queue:
        pid = queue.pop(0)
        ppid, pgid, state = processes[pid]
        if state not in ("Z", "X"):
            result.append((pid, pgid))
        queue.extend(children.get(pid, ()))
    return result


def signal_descendants(root: int, sig: int, outside_group: int | None = None) -> int:
    """Send `sig` to the descendants of `root` (only those not in `outside_group`, if given);
    how many were signalled."""
    count = 0
    for pid, pgid in descendants(root):
        if outside_group is not None and pgid == outside_group:
            continue
        try:
            os.kill(pid, sig)
            count += 1
        except (ProcessLookupError, PermissionError):
            pass
    return count


def kill_descendants(root: int, deadline: float = KILL_DEADLINE) -> None:
    """SIGKILL the descendants of `root` until none is left (new forks included), within `deadline` s."""
    end = time.monotonic() + deadline
    while signal_descendants(root, signal.SIGKILL) and time.monotonic() < end:
        time.sleep(0.001)


def kill_tree(root: int) -> None:
    """SIGKILL the container whose shim (or, without a shim, group leader) is `root`: its
    descendants while the shim still adopts orphans, then the shim's process group. Descendants
    are walked only while `root` still leads its group (not a reused pid)."""
    if supported() and _leads_group(root):
        kill_descendants(root)
    try:
        os.killpg(root, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except (ProcessLookupError, PermissionError):
        return False


# -- the shim ---------------------------------------------------------------------------------

def _become_subreaper() -> bool:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _exit_like(status: int) -> None:
    """Leave with the command's wait status: its exit code, or death by its signal."""
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        os._exit(code)
    sig = -code
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the command dumped core already, if at all
    except (ImportError, ValueError, OSError):
        pass
    signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)  # a signal that does not kill (cannot happen for a death signal)


def run(command: list[str], error_fd: int, parent: int | None) -> None:
    me = os.getpid()
    _become_subreaper()
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        child = os.posix_spawnp(
            command[0], command, os.environ, setsigmask=old_mask,
            # Python ignores SIGPIPE and SIGXFSZ; the command gets defaults, as subprocess gives
            setsigdef=[s for s in _SIGNALS if s != signal.SIGCHLD] + [signal.SIGPIPE, signal.SIGXFSZ],
        )
    except OSError as exc:
        os.write(error_fd, f"{exc.errno} {exc.strerror or exc}".encode())
        os._exit(127)
    os.close(error_fd)
    terminating = orphaned_at = None
    while True:
        info = signal.sigtimedwait(_SIGNALS, POLL_SECONDS)
        if info is not None and info.si_signo == signal.SIGCHLD:
            while True:  # reap the command and every orphan that ended
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if pid == child:
                    kill_descendants(me)  # the command is gone: so is the rest of the container
                    _reap_all()
                    _exit_like(status)
        elif info is not None and terminating is None:  # SIGTERM (SIGINT, SIGHUP): stop the container
            terminating = time.monotonic()
            signal_descendants(me, signal.SIGTERM, outside_group=os.getpgid(0))  # the group has it
        if orphaned_at is None and parent is not None and os.getppid() != parent:
            orphaned_at = time.monotonic()  # ingressd is gone, however it went
            if terminating is None:
                terminating = orphaned_at
                signal_descendants(me, signal.SIGTERM)
        if orphaned_at is not None and time.monotonic() - orphaned_at >= ORPHAN_GRACE:
            kill_descendants(me)  # the command among them: its SIGCHLD ends the loop


def _reap_all() -> None:
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def main(argv: list[str]) -> None:
    parent = error_fd = None
    while argv and argv[0] != "--":
        option, value, *argv = argv
        if option == "--parent":
            parent = int(value)
        elif option == "--error-fd":
            error_fd = int(value)
        else:
            raise SystemExit(f"shim: unknown option {option}")
    if error_fd is None or len(argv) < 2:
        raise SystemExit("usage: shim.py [--parent PID] --error-fd FD -- COMMAND...")
    os.set_inheritable(error_fd, False)
    run(argv[1:], error_fd, parent)


if __name__ == "__main__":
    main(sys.argv[1:])
