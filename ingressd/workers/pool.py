"""The control side of `--workers N`: a ProxyServer that serves nothing itself.

`WorkerPool` keeps the routing snapshot, the balancers (for `explain`) and the metrics the admin
API reads, like the single-process ProxyServer, and:
- `listen()` binds the port once per worker with SO_REUSEPORT (a port 0 resolves with the first
  socket; the kernel spreads connections across the sockets), keeps every socket and hands socket
  i to worker i: a worker that crashes leaves its socket's pending connections to its successor;
- `swap()` ships the parts of the snapshot that changed (pickled once, large ones on a thread) to
  every worker, in order;
- the one --access-log: a regular file is handed to every worker (a copy of the descriptor, again
  after SIGUSR1 reopened it), which writes its own batches of whole lines to it with one write()
  each; any other stream gets the workers' batches through this process (G reports);
- reports from workers: metric deltas are summed into the control process's ProxyMetrics (so
  /metrics shows the total, names and labels unchanged) and pod traffic into TrafficTotals;
- a worker that exits unexpectedly is reported on stderr and started again; so is one that has
  reported nothing (not even its heartbeat, every 0.2 s) for --worker-timeout, after a SIGKILL.

`make_proxy()` is what the app calls: a plain ProxyServer for one worker (today's path, no
extra process), a WorkerPool for more.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import pickle
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import ingressd
from ingressd.offloop import collections_deferred
from ingressd.proxy.server import ProxyServer
from ingressd.routing.snapshot import Snapshot
from ingressd.workers.channel import dumps_yielding, frame, read_frame, send_frame
from ingressd.workers.merge import SilenceWatch, TrafficTotals, merge, reuseport_unavailable, worker_seed

READY_TIMEOUT = 30.0  # seconds for a new worker to take its snapshot and listeners
LISTEN_TIMEOUT = 10.0
STOP_GRACE = 10.0  # seconds a worker gets to close its connections before SIGKILL
RESTART_BACKOFF = (0.0, 0.5, 1.0, 2.0, 5.0)  # after crashes in quick succession
PICKLE = pickle.HIGHEST_PROTOCOL
TERM_GRACE = 1.0  # seconds to see whether a worker's SIGTERM was the whole group's
WORKER_TIMEOUT = 30.0  # --worker-timeout: a worker silent this long is killed and started again
# Snapshot parts rebuilt from configuration (Ingresses, Gateways, TLS Secrets): large with many
# rules (1.4 MB for 10 000), so pickled on a thread (channel.dumps_yielding) so that this loop (the
# admin API, in-process pods) keeps running. Endpoints and pod names change with every pod and are
# pickled at once.
CONFIG_PARTS = frozenset({"table", "tls", "gateway"})


def make_proxy(options, warn, state: Snapshot, **kwargs) -> ProxyServer:
    """The data plane for `options.workers` (RunOptions): this process's own ProxyServer for 1
    (or where SO_REUSEPORT cannot spread connections: said on stderr), else a WorkerPool."""
    count = getattr(options, "workers", 1)
    if count > 1:
        why = reuseport_unavailable()
        if why is not None:
            warn(f"ingressd: --workers {count}: {why}; serving with 1 worker in this process")
            count = 1
    if count == 1:
        return ProxyServer(state, **kwargs)
    return WorkerPool(state, count=count, state_dir=options.state_dir, log_format=options.log_format,
                      seed=options.seed, warn=warn, worker_timeout=getattr(options, "worker_timeout", WORKER_TIMEOUT),
                      **kwargs)


def bind_reuseport(host: str, port: int, count: int) -> list[list[socket.socket]]:
    """`count` listening sockets per address of host:port (as create_server binds them), all with
    SO_REUSEPORT; [slot][address]. Raises OSError as a bind would."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    seen, addresses = set(), []
    for family, kind, proto, _name, address in infos:
        if (family, address) not in seen:
            seen.add((family, address))
            addresses.append((family, kind, proto, address))
    slots: list[list[socket.socket]] = [[] for _ in range(count)]
    try:
        for family, kind, proto, address in addresses:
            # A socket without SO_REUSEPORT first: another process listening there (another
            # ingressd --workers too, which would otherwise join this group and take a share of the
            # connections) is EADDRINUSE, as for a single process. A port 0 resolves here.
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.bind(address)
                address = (address[0], probe.getsockname()[1], *address[2:])
            for slot in slots:
                sock = socket.socket(family, kind, proto)
                slot.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(1024)
                sock.setblocking(False)
    except OSError:
        for slot in slots:
            for sock in slot:
                sock.close()
        raise
    return slots


def regular_file_fd(stream) -> int | None:
    """The file descriptor of `stream` (flushed) when it is a regular file, else None."""
    try:
        stream.flush()
        fd = stream.fileno()
        return fd if stat.S_ISREG(os.fstat(fd).st_mode) else None
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None


class SharedListener:
    """One listener of the pool (what ProxyServer.listen returns, for the app and GatewayListeners):
    the control process's copies of every worker's sockets."""

    def __init__(self, pool: WorkerPool, key: int, slots: list[list[socket.socket]], spec: dict) -> None:
        self.pool = pool
        self.key = key
        self.slots = slots
        self.spec = spec
        self.sockets = slots[0]

    def close(self) -> None:
        if self.pool.listeners.pop(self.key, None) is None:
            return
        for worker in self.pool.live():
            worker.send(frame(b"U", pickle.dumps(self.key)))
        for slot in self.slots:
            for sock in slot:
                sock.close()

    async def wait_closed(self) -> None:
        return None


@dataclasses.dataclass(eq=False)
class WorkerProcess:
    index: int
    proc: asyncio.subprocess.Process
    cmd: socket.socket
    outbox: asyncio.Queue
    started: float
    ready: asyncio.Future
    acks: dict[int, asyncio.Future] = dataclasses.field(default_factory=dict)
    tasks: list[asyncio.Task] = dataclasses.field(default_factory=list)
    gone: bool = False
    shipped: int = 0  # the last snapshot version it was sent (its start-up snapshot included)

    def send(self, data: bytes, fds: list[int] | None = None, owned: bool = False) -> None:
        """Queue a command; with `owned`, its `fds` are this frame's own (dups), closed once sent."""
        if not self.gone:
            self.outbox.put_nowait((data, fds, owned))
        elif owned:
            for fd in fds or ():
                os.close(fd)


class WorkerPool(ProxyServer):
    """A ProxyServer whose listeners are served by `count` worker processes."""

    def __init__(self, state: Snapshot, *, count: int, state_dir: str, log_format: str, seed: int | None,
                 warn, worker_timeout: float = WORKER_TIMEOUT, **kwargs) -> None:
        self._https_port = 443
        self.workers: list[WorkerProcess | None] = [None] * count
        super().__init__(state, **kwargs)
        self.count = count
        self.state_dir = state_dir
        self.log_format = log_format
        self.seed = seed
        self.warn = warn
        self.traffic = TrafficTotals()
        self.listeners: dict[int, SharedListener] = {}
        self._keys = itertools.count(1)
        self._shipped = state
        self._version = 0  # of the snapshot: one more each swap that changed a part
        self._outgoing: asyncio.Queue | None = None  # (version, changed parts), for _ship
        self._shipper: asyncio.Task | None = None
        self._started = False
        self._closing = False
        self._crashes: list[int] = [0] * count  # quick successive crashes, for the back-off
        self._restarts: set[asyncio.Task] = set()
        self.worker_timeout = worker_timeout  # 0: never
        self._silence = SilenceWatch(worker_timeout, min(1.0, worker_timeout / 4), time.monotonic()) \
            if worker_timeout > 0 else None
        self._watchdog: asyncio.Task | None = None
        if self.access_log is not None:
            self.access_log.on_reopen.append(self._access_log_reopened)

    # ---- what the app sets and reads -------------------------------------------------------

    @property
    def https_port(self) -> int:
        return self._https_port

    @https_port.setter
    def https_port(self, port: int) -> None:
        self._https_port = port
        for worker in self.live():
            worker.send(frame(b"H", pickle.dumps(port)))

    def live(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w is not None and not w.gone]

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.live()]

    # ---- snapshots --------------------------------------------------------------------------

    def swap(self, state: Snapshot) -> None:
        super().swap(state)
        old, self._shipped = self._shipped, state
        parts = {f.name: getattr(state, f.name) for f in dataclasses.fields(Snapshot)
                 if getattr(state, f.name) is not getattr(old, f.name)}
        if not parts:
            return
        self._version += 1
        if self._outgoing is None:  # the first swap (on the loop, once workers may exist)
            self._outgoing = asyncio.Queue()
            self._shipper = asyncio.create_task(self._ship(self._outgoing))
        self._outgoing.put_nowait((self._version, parts))

    async def _ship(self, outgoing: asyncio.Queue) -> None:
        """Pickle each swap's changed parts once (off the loop when large) and send them, in order,
        to every worker that does not have that version yet (a worker started since has it)."""
        while True:
            version, parts = await outgoing.get()
            if CONFIG_PARTS.isdisjoint(parts):
                data = pickle.dumps(parts, protocol=PICKLE)
            else:
                with collections_deferred():  # many objects made: a freeze instead of a full collection
                    data = await asyncio.to_thread(dumps_yielding, parts)
            data = frame(b"P", data)
            for worker in self.live():
                if worker.shipped < version:
                    worker.shipped = version
                    worker.send(data)
            outgoing.task_done()

    # ---- listeners --------------------------------------------------------------------------

    async def listen(self, host: str, port: int, ssl=None, scheme: str = "http",
                     gateway_port: int | None = None, sock=None) -> SharedListener:
        slots = bind_reuseport(host, port, self.count)  # before any worker starts: a bind error ends the run
        key = next(self._keys)
        bound = slots[0][0].getsockname()
        spec = {"key": key, "scheme": scheme, "gateway_port": gateway_port, "tls": ssl is not None,
                "fds": len(slots[0]), "address": f"{host}:{bound[1]}"}
        listener = self.listeners[key] = SharedListener(self, key, slots, spec)
        self.servers.append(listener)
        if not self._started:
            await self.start()  # each new worker is handed every listener registered
            acks = [ack for worker in self.live() if (ack := worker.acks.get(key)) is not None]
        else:
            acks = [self._send_listen(worker, listener) for worker in self.live()]
        if acks:
            await asyncio.wait(acks, timeout=LISTEN_TIMEOUT)
        return listener

    def _send_listen(self, worker: WorkerProcess, listener: SharedListener) -> asyncio.Future:
        ack = worker.acks[listener.key] = asyncio.get_running_loop().create_future()
        worker.send(frame(b"L", pickle.dumps(listener.spec)), [s.fileno() for s in listener.slots[worker.index]])
        return ack

    # ---- workers ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every worker and wait until each has its snapshot."""
        self._started = True
        if self._silence is not None:
            self._watchdog = asyncio.create_task(self._watch(self._silence))
        workers = [await self._spawn(index) for index in range(self.count)]
        await asyncio.wait([w.ready for w in workers], timeout=READY_TIMEOUT)
        for worker in workers:
            if not worker.ready.done():
                self.warn(f"ingressd: worker {worker.index} (pid {worker.proc.pid}) did not start within "
                          f"{READY_TIMEOUT:.0f}s")
        self.warn(f"ingressd: {self.count} data-plane workers (pids {', '.join(map(str, self.pids()))})")

    async def _spawn(self, index: int) -> WorkerProcess:
        cmd, cmd_child = socket.socketpair()
        report, report_child = socket.socketpair()
        package_root = str(Path(ingressd.__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH"))
                                                           if p)}
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ingressd.workers.worker", str(cmd_child.fileno()),
                str(report_child.fileno()), str(index), str(os.getpid()),
                pass_fds=(cmd_child.fileno(), report_child.fileno()), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, env=env)
        finally:
            cmd_child.close()
            report_child.close()
        cmd.setblocking(False)
        loop = asyncio.get_running_loop()
        worker = WorkerProcess(index, proc, cmd, asyncio.Queue(), time.monotonic(), loop.create_future(),
                               shipped=self._version)
        self.workers[index] = worker
        if self._silence is not None:
            self._silence.heard(index, worker.started)
        config = {"index": index, "seed": worker_seed(self.seed, index), "expose_upstream": self.expose_upstream,
                  "state_dir": self.state_dir, "log_format": self.log_format,
                  "access_log": self.access_log is not None, "https_port": self._https_port,
                  "snapshot": self._shipped}
        worker.send(frame(b"I", pickle.dumps(config, protocol=PICKLE)))
        self._send_log_file(worker)
        for listener in self.listeners.values():
            self._send_listen(worker, listener)
        reader, writer = await asyncio.open_unix_connection(sock=report)
        worker.tasks = [asyncio.create_task(self._sender(worker)),
                        asyncio.create_task(self._reader(worker, reader, writer)),
                        asyncio.create_task(self._monitor(worker))]
        return worker

    async def _sender(self, worker: WorkerProcess) -> None:
        try:
            while True:
                data, fds, owned = await worker.outbox.get()
                try:
                    await send_frame(worker.cmd, data, fds)
                finally:
                    if owned:
                        for fd in fds:
                            os.close(fd)
        except (ConnectionError, OSError):
            pass  # the worker is gone; _monitor reports it

    async def _reader(self, worker: WorkerProcess, reader: asyncio.StreamReader, writer) -> None:
        try:
            while (item := await read_frame(reader)) is not None:
                kind, body = item
                if self._silence is not None and not worker.gone:
                    self._silence.heard(worker.index, time.monotonic())
                try:
                    self._report(worker, kind, body)
                except Exception as exc:  # a bad report must not stop the others
                    self.warn(f"ingressd: worker {worker.index}: unreadable report {kind!r}: {exc!r}")
        finally:
            writer.close()

    def _report(self, worker: WorkerProcess, kind: bytes, body: bytes) -> None:
        if kind == b"B":
            return  # a heartbeat: heard
        if kind == b"G":
            self._write_log(body.decode("utf-8", "surrogatepass"))
        elif kind == b"M":
            taken, traffic = pickle.loads(body)
            if taken is not None:
                merge(self.metrics, taken)
            if not worker.gone:
                self.traffic.report(worker.index, traffic)
        elif kind == b"R":
            if not worker.ready.done():
                worker.ready.set_result(True)
        elif kind == b"A":
            ack = worker.acks.pop(pickle.loads(body), None)
            if ack is not None and not ack.done():
                ack.set_result(True)

    def _access_log_reopened(self) -> None:
        """SIGUSR1 reopened the --access-log file: every worker writes to the new one from now on."""
        for worker in self.live():
            self._send_log_file(worker)

    def _send_log_file(self, worker: WorkerProcess) -> None:
        """Hand `worker` the --access-log file to write its lines to itself, when it is a regular
        file (a copy of this process's descriptor, so its O_APPEND or its shared offset: one write()
        of whole lines is never interleaved with another worker's). Anything else (a pipe, where
        writes over PIPE_BUF bytes can interleave; a terminal; a socket; a stream without a file
        descriptor) gets the worker's lines through this process, as G reports."""
        log = self.access_log
        if log is None:
            return
        fd = regular_file_fd(log.stream)
        encoding = getattr(log.stream, "encoding", None) or "utf-8"
        errors = getattr(log.stream, "errors", None) or "strict"
        body = pickle.dumps((fd is not None, encoding, errors))
        if fd is None:
            worker.send(frame(b"O", body))
        else:
            log.flush()
            worker.send(frame(b"O", body), [os.dup(fd)], owned=True)

    def _write_log(self, text: str) -> None:
        """One worker's batch of whole lines, written whole to the --access-log stream."""
        log = self.access_log
        if log is None:
            return
        log.flush()
        try:
            log.stream.write(text)
            log.stream.flush()
        except (OSError, ValueError):
            pass  # as AccessLog.flush: a closed stdout must not take ingressd down

    async def _watch(self, silence: SilenceWatch) -> None:
        """Kill a worker silent for --worker-timeout (its loop stuck, or the process stopped);
        _monitor then starts it again, as after a crash."""
        while True:
            await asyncio.sleep(silence.interval)
            for index in silence.tick(time.monotonic()):
                worker = self.workers[index]
                if worker is None or worker.gone:
                    continue
                self.warn(f"ingressd: worker {index} (pid {worker.proc.pid}) has not reported for "
                          f"{self.worker_timeout:g}s (--worker-timeout); killing it")
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.kill()

    async def _monitor(self, worker: WorkerProcess) -> None:
        status = await worker.proc.wait()
        worker.gone = True
        if self._silence is not None and self.workers[worker.index] is worker:
            self._silence.forget(worker.index)
        sender, reader, _monitor = worker.tasks
        sender.cancel()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(5.0):
                await asyncio.shield(reader)  # its last lines and metrics
        worker.cmd.close()
        self.traffic.retire(worker.index)
        for ack in worker.acks.values():
            if not ack.done():
                ack.set_result(False)
        if not worker.ready.done():
            worker.ready.set_result(False)
        if status in (0, -signal.SIGTERM) and not self._closing:
            # Stopped on purpose: by a SIGTERM to the whole process group, ours too, the app is
            # about to close the pool; only a worker stopped alone is started again.
            await asyncio.sleep(TERM_GRACE)
        if self._closing:
            return
        how = f"killed by {signal.Signals(-status).name}" if status < 0 else f"exited with status {status}"
        quick = time.monotonic() - worker.started < 10.0
        self._crashes[worker.index] = self._crashes[worker.index] + 1 if quick else 0
        delay = RESTART_BACKOFF[min(self._crashes[worker.index], len(RESTART_BACKOFF) - 1)]
        self.warn(f"ingressd: worker {worker.index} (pid {worker.proc.pid}) {how}; "
                  f"starting it again{f' in {delay:g}s' if delay else ''}")
        task = asyncio.create_task(self._restart(worker.index, delay))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _restart(self, index: int, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._closing:
            return
        try:
            worker = await self._spawn(index)
        except OSError as exc:
            self.warn(f"ingressd: cannot start worker {index}: {exc}; trying again")
            task = asyncio.create_task(self._restart(index, RESTART_BACKOFF[-1]))
            self._restarts.add(task)
            task.add_done_callback(self._restarts.discard)
            return
        await asyncio.wait([worker.ready], timeout=READY_TIMEOUT)
        if worker.ready.done() and worker.ready.result():
            self.warn(f"ingressd: worker {index} started again (pid {worker.proc.pid})")

    async def close(self) -> None:
        """Stop every worker (each closes its connections as a single process would), take their
        last lines and metrics, then close the sockets."""
        self._closing = True
        for task in list(self._restarts):
            task.cancel()
        for task in (self._shipper, self._watchdog):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        workers = [w for w in self.workers if w is not None]
        for worker in workers:
            worker.send(frame(b"S", b""))
        monitors = [w.tasks[2] for w in workers if len(w.tasks) == 3]
        if monitors:
            _done, pending = await asyncio.wait(monitors, timeout=STOP_GRACE)
            for worker in workers:
                if not worker.gone:
                    with contextlib.suppress(ProcessLookupError):
                        worker.proc.kill()
            if pending:
                await asyncio.wait(pending, timeout=5.0)
        for worker in workers:
            for task in worker.tasks:
                task.cancel()
            await asyncio.gather(*worker.tasks, return_exceptions=True)
        for listener in list(self.listeners.values()):
            listener.close()
        await super().close()
