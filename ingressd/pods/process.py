"""A container with a `command`, run as a local process (the kubelet's shell around it).

The process gets its own session (process group), so stopping it reaches everything it spawned:
SIGTERM to the group, SIGKILL after the grace period, as the kubelet does. Every group is also
registered with the reaper (`ingressd.pods.reaper`), which stops them if ingressd dies without
cleaning up (even SIGKILL); `kill_all()` runs at interpreter exit for the ordinary paths. stdout and
stderr go, merged, to the container's log file (`ingressd logs POD`).

Without a readiness probe the container is ready as soon as it runs, as in Kubernetes; give it a
`tcpSocket` or `httpGet` readinessProbe so traffic waits until it listens on $POD_IP:$PORT.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

_LIVE_GROUPS: set[int] = set()  # process-group ids of running containers, for kill_all()
_reaper: subprocess.Popen | None = None


def _tell_reaper(line: str) -> None:
    """Register (+) or forget (-) a group with the reaper, starting it on first use."""
    global _reaper
    if _reaper is None or _reaper.poll() is not None:
        _reaper = subprocess.Popen(
            [sys.executable, "-m", "ingressd.pods.reaper"], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, start_new_session=True,
        )
        for pgid in _LIVE_GROUPS:
            _reaper.stdin.write(f"+{pgid}\n".encode())
    with contextlib.suppress(BrokenPipeError):
        _reaper.stdin.write(f"{line}\n".encode())
        _reaper.stdin.flush()


def kill_all() -> None:
    """SIGKILL every container process group still running (ingressd is exiting); stop the reaper."""
    global _reaper
    for pgid in list(_LIVE_GROUPS):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    _LIVE_GROUPS.clear()
    reaper, _reaper = _reaper, None
    if reaper is not None:
        with contextlib.suppress(BrokenPipeError):
            reaper.stdin.close()
        reaper.wait()


atexit.register(kill_all)


class ProcessServer:
    """The EchoServer interface (start/stop/started/wait_started) over a child process."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str, log_path: Path | None) -> None:
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self._stopping = False

    @property
    def started(self) -> bool:
        return self.process is not None

    async def wait_started(self) -> None:
        return None

    @property
    def stopping(self) -> bool:
        """True once stop() began: an exit from now on is the kill, not a crash."""
        return self._stopping

    async def start(self) -> None:
        """Spawn the process; OSError (not found, not executable, bad cwd) if it cannot start."""
        if not os.path.isdir(self.cwd):
            raise FileNotFoundError(2, f"working directory {self.cwd} does not exist", self.cwd)
        log = self._open_log()
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT if log is not None else asyncio.subprocess.DEVNULL,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
            )
        finally:
            if log is not None:
                os.close(log)
        _LIVE_GROUPS.add(self.process.pid)
        _tell_reaper(f"+{self.process.pid}")

    def usage(self) -> tuple[float, int]:
        """(cumulative CPU-seconds, resident bytes) of the process and its descendants, via psutil
        (reaped children's CPU included through children_user/children_system)."""
        if self.process is None or self.process.returncode is not None:
            return 0.0, 0
        cpu, memory = 0.0, 0
        try:
            leader = psutil.Process(self.process.pid)
            members = [leader, *leader.children(recursive=True)]
        except psutil.Error:
            return 0.0, 0
        for member in members:
            try:
                with member.oneshot():
                    times = member.cpu_times()
                    cpu += times.user + times.system + times.children_user + times.children_system
                    memory += member.memory_info().rss
            except psutil.Error:
                continue
        return cpu, memory

    async def wait(self) -> int:
        """The exit code once the process ends (negative: killed by that signal)."""
        assert self.process is not None
        return await self.process.wait()

    async def stop(self, grace_seconds: float = 0.0) -> None:
        """SIGTERM the group, SIGKILL it after `grace_seconds` if still running."""
        self._stopping = True
        process = self.process
        if process is None or process.returncode is not None:
            self._reap_group()
            return
        self._signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(max(grace_seconds, 0.0)):
                await process.wait()
        except TimeoutError:
            pass
        self._reap_group()
        await process.wait()

    def _reap_group(self) -> None:
        """SIGKILL whatever is left in the group (children that ignored SIGTERM or outlived the leader)."""
        if self.process is not None:
            self._signal(signal.SIGKILL)
            if self.process.pid in _LIVE_GROUPS:
                _LIVE_GROUPS.discard(self.process.pid)
                _tell_reaper(f"-{self.process.pid}")

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def _open_log(self) -> int | None:
        if self.log_path is None:
            return None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def exit_reason(code: int) -> tuple[int, str]:
    """(exitCode, reason) as a container runtime reports them: signal N -> 128+N."""
    if code < 0:
        return 128 - code, "Error"
    return code, "Completed" if code == 0 else "Error"
