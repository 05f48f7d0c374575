"""A container with a `command`, run as a local process (the kubelet's shell around it).

On Linux the command runs under a shim (`ingressd.pods.shim`): a child subreaper in its own
session (process group) that adopts every descendant, daemons that `setsid` included, and exits
with the command's status. Stopping sends SIGTERM to the group (the shim passes it on to
descendants that left it) and, after the grace period, SIGKILLs every descendant, then the group,
as the kubelet does. Every group is also registered with the reaper (`ingressd.pods.reaper`), which
stops the containers if ingressd dies without cleaning up (even SIGKILL), and the shim stops its
container by itself when ingressd is gone; `kill_all()` runs at interpreter exit for the ordinary
paths. Elsewhere the command itself leads the group and a descendant that leaves it is not
tracked. stdout and stderr go, merged, through a pipe to ingressd, which appends them to the
container's log file (`ingressd logs POD`) and rotates it by size (`ingressd.pods.container_log`):
a file descriptor the child held could not be moved to a new file, so rotation could not happen
without losing or misplacing lines.

Without a readiness probe the container is ready as soon as it runs, as in Kubernetes; give it a
`tcpSocket` or `httpGet` readinessProbe so traffic waits until it listens on $POD_IP:$PORT.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil

from ingressd.pods import shim
from ingressd.pods.container_log import ContainerLog

SHIM = str(Path(shim.__file__).resolve())
USE_SHIM = shim.supported()
logger = logging.getLogger(__name__)
_LIVE_GROUPS: set[int] = set()  # process-group ids of running containers, for kill_all()
_reaper: subprocess.Popen | None = None
LOG_DRAIN_SECONDS = 2.0  # how long stop() waits for the output pipe to close once the group is killed


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
        shim.kill_tree(pgid)
    _LIVE_GROUPS.clear()
    reaper, _reaper = _reaper, None
    if reaper is not None:
        with contextlib.suppress(BrokenPipeError):
            reaper.stdin.close()
        reaper.wait()


atexit.register(kill_all)


class ProcessServer:
    """The EchoServer interface (start/stop/started/wait_started) over a child process."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str,
                 open_log: Callable[[], ContainerLog] | None) -> None:
        """`open_log`: opens the container's log when the process starts (None: output discarded)."""
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.open_log = open_log
        self.log: ContainerLog | None = None
        self.process: asyncio.subprocess.Process | None = None
        self._stopping = False
        self._output: _LogPipe | None = None

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
        errors_read = errors_write = output_read = output_write = None
        if self.open_log is not None:
            self.log = self.open_log()
            output_read, output_write = os.pipe()
        argv = self.argv
        if USE_SHIM:
            errors_read, errors_write = os.pipe()
            argv = [sys.executable, "-I", "-S", SHIM, "--parent", str(os.getpid()),
                    "--error-fd", str(errors_write), "--", *self.argv]
        try:
            self.process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output_write if output_write is not None else asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.STDOUT if output_write is not None else asyncio.subprocess.DEVNULL,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
                pass_fds=() if errors_write is None else (errors_write,),
            )
        except BaseException:
            if errors_read is not None:
                os.close(errors_read)
            if output_read is not None:
                os.close(output_read)
            self._close_log()
            raise
        finally:
            if output_write is not None:
                os.close(output_write)
            if errors_write is not None:
                os.close(errors_write)
        if output_read is not None:
            self._output = await _LogPipe.connect(output_read, self.log)
        if errors_read is not None:
            try:
                error = await _read_to_eof(errors_read)
            except BaseException:  # cancelled while the shim starts: it must not run on, unowned
                shim.kill_tree(self.process.pid)
                raise
            if error:  # the shim could not exec the command: the same OSError as a direct spawn
                await self.process.wait()
                self.process = None
                await self._drain_output()
                number, _, message = error.decode(errors="replace").partition(" ")
                raise OSError(int(number) if number.isdigit() else 0, message, self.argv[0])
        _LIVE_GROUPS.add(self.process.pid)
        _tell_reaper(f"+{self.process.pid}")

    def usage(self) -> tuple[float, int]:
        """(cumulative CPU-seconds, resident bytes) of the process and its descendants, via psutil
        (reaped children's CPU included through children_user/children_system). The shim's own
        CPU and memory are not the container's; what it reaped (adopted orphans) is."""
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
                    cpu += times.children_user + times.children_system
                    if not (USE_SHIM and member is leader):
                        cpu += times.user + times.system
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
            await self._reap_group()
            await self._drain_output()
            return
        self._signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(max(grace_seconds, 0.0)):
                await process.wait()
        except TimeoutError:
            pass
        await self._reap_group()
        await process.wait()
        await self._drain_output()

    async def _drain_output(self) -> None:
        """Write what the container's processes still had in the pipe, then close the log. The pipe
        closes once every holder of its write end is gone (killed with the group; a daemon that
        left the group where no shim tracks it is waited for LOG_DRAIN_SECONDS at most)."""
        output, self._output = self._output, None
        if output is not None:
            await output.drain(LOG_DRAIN_SECONDS)
        self._close_log()

    def _close_log(self) -> None:
        log, self.log = self.log, None
        if log is not None:
            log.close()

    async def _reap_group(self) -> None:
        """SIGKILL whatever is left (children that ignored SIGTERM or outlived the leader): while the
        shim runs, every descendant, then the group (in a thread: the kill loop waits for each to
        die); once the shim has exited (its pid may be reused), it has killed the descendants
        itself and only the group is left to signal."""
        if self.process is not None:
            if self.process.returncode is None:
                await asyncio.to_thread(shim.kill_tree, self.process.pid)
            else:
                self._signal(signal.SIGKILL)
            if self.process.pid in _LIVE_GROUPS:
                _LIVE_GROUPS.discard(self.process.pid)
                _tell_reaper(f"-{self.process.pid}")

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)



class _LogPipe(asyncio.Protocol):
    """The read end of a container's stdout/stderr pipe: every chunk is appended to its log."""

    def __init__(self, log: ContainerLog) -> None:
        self.log = log
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.ReadTransport | None = None
        self._failed = False

    @classmethod
    async def connect(cls, fd: int, log: ContainerLog) -> _LogPipe:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await loop.connect_read_pipe(lambda: cls(log), os.fdopen(fd, "rb", buffering=0))
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
        return protocol

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.log.closed:
            return
        try:
            self.log.write(data)
            self._failed = False
        except OSError as exc:  # a full disk: the container keeps running, its output is dropped
            if not self._failed:
                logger.warning("cannot write %s: %s", self.log.path, exc)
            self._failed = True

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    async def drain(self, timeout: float) -> None:
        """Wait until the pipe is closed by its writers (at most `timeout` s), then close it."""
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self.closed)
        except TimeoutError:
            pass
        finally:
            if self.transport is not None:
                self.transport.close()


async def _read_to_eof(fd: int) -> bytes:
    """Everything written to the pipe `fd` until its writers close it (then `fd` is closed)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0),
    )
    try:
        return await reader.read()
    finally:
        transport.close()


def exit_reason(code: int) -> tuple[int, str]:
    """(exitCode, reason) as a container runtime reports them: signal N -> 128+N."""
    if code < 0:
        return 128 - code, "Error"
    return code, "Completed" if code == 0 else "Error"
