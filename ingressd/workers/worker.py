"""One data-plane worker of `ingressd run --workers N`: `python -m ingressd.workers.worker CMD_FD REPORT_FD INDEX PARENT_PID`.

It serves the listeners the control process hands it with the unchanged proxy, on the snapshots
the control process ships; it writes access-log lines to the --access-log file the control process
hands it (or reports them, where that is not a regular file) and reports metric deltas. It never outlives
the control process: PR_SET_PDEATHSIG (Linux) kills it with its parent, and the end of the command
stream (the parent's socket closed, however it ended) stops it too. SIGINT and SIGUSR1 are the
control process's to handle (a terminal's Ctrl-C reaches the whole process group); SIGTERM stops
the worker gracefully (exit 0), as the control process's stop command does.
"""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import os
import pickle
import random
import signal
import socket
import sys
from pathlib import Path

from ingressd.accesslog import AccessLog
from ingressd.metrics import ProxyMetrics
from ingressd.offloop import collections_deferred, freeze_heap
from ingressd.proxy.server import ProxyServer
from ingressd.proxy.tls import SniContexts, server_context
from ingressd.workers.channel import CommandReader, frame, loads_yielding
from ingressd.workers.merge import drain

PR_SET_PDEATHSIG = 1  # linux/prctl.h
REPORT_INTERVAL = 0.2  # access-log lines are written and metric deltas reported this often
THREADED_LOAD_BYTES = 64 * 1024  # a larger snapshot frame is loaded on a thread (channel.loads_yielding)


def die_with_parent(parent: int) -> None:
    """Be killed when the control process dies; exit now if it is gone already."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the end of the command stream still stops the worker
    if os.getppid() != parent:
        os._exit(0)


class WorkerSniContexts(SniContexts):
    """SniContexts on the default certificate the control process generated (one for every worker),
    with this worker's own copies of per-host key files (no two processes write one file)."""

    def __init__(self, state_dir: str, table_source, index: int) -> None:
        directory = Path(state_dir) / "tls"
        super().__init__(state_dir, table_source, default=server_context(directory / "default.crt",
                                                                         directory / "default.key"),
                         file_suffix=f".w{index}")
        self.index = index


class ReportStream:
    """The worker's access log stream. Each flush is whole lines, written with one write() to the
    --access-log file itself when the control process handed the worker that file (a regular file:
    one write to it is never interleaved with another process's, O_APPEND or a shared offset), else
    sent as one frame to the control process, which writes it (pipes, terminals, sockets)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.fd: int | None = None  # the access-log file, from an O command
        self.encoding = "utf-8"
        self.errors = "strict"

    def use(self, fd: int | None, encoding: str, errors: str) -> None:
        """Write to `fd` from now on (None: through the control process); the previous file is closed."""
        old, self.fd = self.fd, fd
        self.encoding, self.errors = encoding, errors
        if old is not None:
            os.close(old)

    def write(self, text: str) -> None:
        # Frames carry UTF-8 (the control process decodes them so); the file takes its own encoding.
        self.write_bytes(text.encode("utf-8", "surrogatepass") if self.fd is None else
                         text.encode(self.encoding, self.errors))

    def write_bytes(self, data: bytes) -> None:
        """Whole lines already encoded (AccessLog's: ASCII)."""
        fd = self.fd
        if fd is None:
            if not self.writer.is_closing():
                self.writer.write(frame(b"G", data))
            return
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except (OSError, ValueError):
            pass  # as AccessLog.flush: a full disk must not take the proxy down

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        pass


class Worker:
    def __init__(self, cmd: socket.socket, report: asyncio.StreamWriter, index: int) -> None:
        self.cmd = cmd
        self.report = report
        self.index = index
        self.commands = CommandReader(cmd)
        self.queue: asyncio.Queue = asyncio.Queue()
        self.proxy: ProxyServer | None = None
        self.sni: WorkerSniContexts | None = None
        self.config: dict = {}
        self.servers: dict[int, list] = {}  # listener key -> its servers here
        self.done = asyncio.Event()
        self._traffic_sent: dict | None = None
        self.log_stream = ReportStream(report)

    def warn(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def on_readable(self) -> None:
        for kind, body in self.commands.read():
            # Sockets are taken in the order their frames came. A new access-log file (logrotate's
            # SIGUSR1 to ingressd) is used at once, not after the commands queued before it.
            if kind == b"O":
                has_fd, encoding, errors = pickle.loads(body)
                self.log_stream.use(self.commands.take_fds(1)[0] if has_fd else None, encoding, errors)
                continue
            if kind == b"L":
                spec = pickle.loads(body)
                body = (spec, self.commands.take_fds(spec["fds"]))
            self.queue.put_nowait((kind, body))
        if self.commands.closed:
            asyncio.get_running_loop().remove_reader(self.cmd)
            self.queue.put_nowait((b"S", b""))  # the control process is gone: stop

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.cmd, self.on_readable)
        # SIGTERM (a service manager's to the whole group, say): stop as when told to, exit 0.
        loop.add_signal_handler(signal.SIGTERM, self.queue.put_nowait, (b"S", b""))
        reporter = asyncio.create_task(self.report_loop())
        try:
            while True:
                kind, body = await self.queue.get()
                if kind == b"S":
                    break
                await self.handle(kind, body)
        finally:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
            if self.proxy is not None:
                await self.proxy.close()
            self.send_reports()
            try:
                await self.report.drain()
                self.report.close()
            except (ConnectionError, OSError):
                pass

    async def handle(self, kind: bytes, body: bytes) -> None:
        proxy = self.proxy
        if kind == b"P" and proxy is not None:
            with collections_deferred():  # as the control process's reload: a freeze instead of a full collection
                if len(body) > THREADED_LOAD_BYTES:
                    parts = await asyncio.to_thread(loads_yielding, body)
                else:
                    parts = pickle.loads(body)
                proxy.swap(dataclasses.replace(proxy.state, **parts))
        elif kind == b"I":
            self.start(pickle.loads(body))
            # As the single process before serving: what lives now (modules, the snapshot) is out of
            # the collector's sight, so a full collection under load does not scan it all again.
            freeze_heap(full=True)
            self.report.write(frame(b"R", b""))
        elif kind == b"L" and proxy is not None:
            spec, fds = body
            await self.listen(spec, fds)
            self.report.write(frame(b"A", pickle.dumps(spec["key"])))
        elif kind == b"U":
            for srv in self.servers.pop(pickle.loads(body), []):
                srv.close()
                if proxy is not None and srv in proxy.servers:
                    proxy.servers.remove(srv)
        elif kind == b"H" and proxy is not None:
            proxy.https_port = pickle.loads(body)

    def start(self, config: dict) -> None:
        self.config = config
        log = AccessLog(self.log_stream, config["log_format"]) if config["access_log"] else None
        self.proxy = ProxyServer(config["snapshot"], metrics=ProxyMetrics(), access_log=log,
                                 expose_upstream=config["expose_upstream"], on_error=self._proxy_error,
                                 error_log=self.warn, rand=random.Random(config["seed"]))
        self.proxy.body_temp_dir = str(Path(config["state_dir"]) / "client-body-temp")
        self.proxy.https_port = config["https_port"]

    def _proxy_error(self, exc: BaseException) -> None:
        self.warn(f"ingressd: internal error while proxying: {exc!r}")

    async def listen(self, spec: dict, fds: list[int]) -> None:
        proxy = self.proxy
        ctx = None
        if spec["tls"]:
            if self.sni is None:
                self.sni = WorkerSniContexts(self.config["state_dir"], lambda: proxy.state.tls, self.index)
            ctx = self.sni.default
        servers = []
        for fd in fds:
            sock = socket.socket(fileno=fd)
            try:
                servers.append(await proxy.listen("", 0, ssl=ctx, scheme=spec["scheme"],
                                                  gateway_port=spec["gateway_port"], sock=sock))
            except OSError as exc:
                sock.close()
                self.warn(f"ingressd: worker {self.index}: cannot serve {spec['address']}: {exc}")
        self.servers[spec["key"]] = servers

    async def report_loop(self) -> None:
        """Every REPORT_INTERVAL: the reports, or a heartbeat when there is nothing to report (the
        control process's --worker-timeout takes silence for a stuck loop)."""
        while True:
            await asyncio.sleep(REPORT_INTERVAL)
            if not self.send_reports() and not self.report.is_closing():
                self.report.write(frame(b"B", b""))

    def send_reports(self) -> bool:
        """Access-log lines queued, then the metric delta and the traffic counts if they changed.
        True if a report was sent."""
        proxy = self.proxy
        if proxy is None or self.report.is_closing():
            return False
        if proxy.access_log is not None:
            proxy.access_log.flush()
        taken = drain(proxy.metrics)
        traffic = proxy.traffic.snapshot()
        if taken is None and traffic == self._traffic_sent:
            return False
        self._traffic_sent = traffic
        self.report.write(frame(b"M", pickle.dumps((taken, traffic), protocol=pickle.HIGHEST_PROTOCOL)))
        return True


async def main(cmd_fd: int, report_fd: int, index: int) -> int:
    cmd = socket.socket(fileno=cmd_fd)
    cmd.setblocking(False)
    _reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=report_fd))
    await Worker(cmd, writer, index).run()
    return 0


def run(argv: list[str]) -> int:
    cmd_fd, report_fd, index, parent = (int(a) for a in argv)
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    sys.stdout = sys.stderr  # stdout is the control process's access log; nothing else goes there
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main(cmd_fd, report_fd, index))
    return uvloop.run(main(cmd_fd, report_fd, index))


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
