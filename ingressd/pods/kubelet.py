"""The kubelet: runs the store's pods as real listeners on their own loopback IPs.

`sync()` reconciles what runs with the pods in the store; the app calls it after store changes.
A pod it takes is bound to this node (`spec.nodeName`), gets the next pod IP, and each container
is started:

- image `ingressd/echo[:tag]` without a command: the built-in echo app, in-process, on
  podIP:containerPort for each TCP containerPort (8080 if none);
- a container with a `command`: a local process (`ingressd.pods.process`) in `workingDir` (default:
  ingressd's working directory), with the environment of `ingressd.pods.environment` over a few
  host variables (PATH, HOME, LANG, ...); stdout/stderr to `<logs-dir>/<ns>/<pod>/<container>.log`
  (the previous instance's to `<container>.previous.log`; echo containers write their start line
  there), rotated by size as the kubelet rotates them (`log_policy`: containerLogMaxSize,
  containerLogMaxFiles; `ingressd.pods.container_log`). Its exit is the container's: restarted
  per restartPolicy with the crash-loop back-off, exit code and reason in lastState;
- any other image: waiting, reason `ImageNotSupported`.

Status is Kubernetes-shaped: phase Pending -> Running, PodScheduled/Initialized/ContainersReady/
Ready conditions, containerStatuses with state/ready/started/restartCount. A listener that cannot
bind crash-loops like a real container (waiting `CrashLoopBackOff`, lastState terminated with the
reason, restarted at once the first time, then after a back-off of 10 s doubling to 5 min, restartCount
counting: `ingressd.pods.backoff`).

A pod with a deletionTimestamp stops accepting connections, closes WebSockets, lets in-flight
requests finish within its grace period, then the kubelet deletes the pod object. A running pod's
spec is not re-read (Kubernetes restarts a container whose image is changed).

Volumes: a `persistentVolumeClaim` volume is the directory in its claim's `ingressd.io/volume-path`
annotation (created if missing; `subPath` is honoured). Until every claim exists and carries one,
the pod is not started (Pending, a `FailedScheduling` event, as an unbound claim does).

Probes (`ingressd.pods.probes`): readinessProbe and livenessProbe with httpGet/tcpSocket/exec and
the Kubernetes timing fields, waited on with the injected `sleep` (tests scale time down). A
container is ready once it runs, the echo app's ECHO_STARTUP_MS has passed and its readiness probe
(if any) succeeded successThreshold times; failureThreshold failures make it unready again. A failed
liveness probe stops the container and restarts it per restartPolicy (Always/OnFailure: with the
crash-loop back-off; Never: it stays terminated and the pod fails).

Pod IPs come from the instance's own block (`ingressd.pods.ips`; the app claims it and hands the
pool over with `use_pod_network`). A container that cannot listen on its podIP:containerPort (an
echo container, or a process container whose declared port is already taken: checked before it
is started) is not hidden: lastState terminated `Error` with the address in the message, a
Warning `Failed` event, and `bind_failures()` for /healthz — until it binds.

Logs of pods gone for `log_retention` seconds (the directory's last change: the kubelet touches it
when the pod's containers stop) are removed, when the kubelet starts and every LOG_SWEEP_SECONDS.

Events (`v1` Event objects in the store, aggregated by reason and message with a count): Scheduled,
Pulled, Created, Started, Failed, Unhealthy, Killing, BackOff, FailedScheduling.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path

from ingressd.cluster.clock import Clock, format_timestamp, time_source
from ingressd.cluster.events import EventRecorder
from ingressd.cluster.metrics_server import PodStats
from ingressd.cluster.nodes import DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_PODS, is_live, node_object
from ingressd.cluster.pod_status import is_terminal
from ingressd.cluster.store import Store
from ingressd.apimachinery.log_rotation import DEFAULT_RETENTION, LogPolicy
from ingressd.apimachinery.writes import pod_qos_class
from ingressd.pods.backoff import Backoff, next_restart
from ingressd.pods.container_log import DEFAULT_POLICY, ContainerLog, open_instance_log, remove_expired_logs
from ingressd.pods.echo import EchoConfig, EchoServer, container_ports
from ingressd.pods.environment import argv, container_env
from ingressd.pods.images import runnable
from ingressd.pods.ips import PodIPPool
from ingressd.pods.probes import Probe, ProbeState, run_probe
from ingressd.pods.process import ProcessServer, exit_reason
from ingressd.pods.subpath import SubPathError, sub_path_directory

log = logging.getLogger(__name__)

NODE_NAME = "ingressd"
HOST_IP = "127.0.0.1"
DEFAULT_BACKOFF = (10.0, 300.0)  # kubelet's crash-loop back-off: initial, maximum (seconds)
VOLUME_PATH_ANNOTATION = "ingressd.io/volume-path"
LOG_SWEEP_SECONDS = 60.0  # how often logs of gone pods are looked for
CLOSE_GRACE_SECONDS = 1.0  # what processes get to exit when ingressd itself stops
# The host variables a process inherits; everything else comes from the container spec.
HOST_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM")


@dataclass
class _Container:
    spec: dict
    server: EchoServer | ProcessServer | None = None
    state: dict = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: dict = field(default_factory=dict)
    restart_count: int = 0
    container_id: str = ""
    backoff: Backoff = field(default_factory=Backoff)
    retry: asyncio.Task | None = None
    mounts: dict[str, str] = field(default_factory=dict)  # mountPath -> host directory
    volume_dirs: dict[str, str] = field(default_factory=dict)  # mounted volume name -> host directory
    env: dict[str, str] = field(default_factory=dict)  # for exec probes
    readiness: ProbeState | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)  # probes, startup wait
    bind_error: str = ""  # why its last start could not listen on podIP:port ("" once it did)
    config_error: str = ""  # why it cannot be created at all (a subPath outside its volume)

    @property
    def name(self) -> str:
        return self.spec.get("name", "")

    @property
    def running(self) -> bool:
        return self.server is not None

    @property
    def ready(self) -> bool:
        return (
            self.server is not None
            and self.server.started
            and (self.readiness is None or self.readiness.ok)
        )

    def cancel_tasks(self, keep: asyncio.Task | None = None) -> None:
        for task in self.tasks:
            if task is not keep:
                task.cancel()
        self.tasks = []


@dataclass
class _Sandbox:
    """What runs for one pod (by uid)."""

    uid: str
    namespace: str
    name: str
    ip: str
    start_time: str
    containers: list[_Container]
    restart_policy: str = "Always"
    node: str = NODE_NAME
    termination: asyncio.Task | None = None


class Kubelet:
    def __init__(
        self,
        store: Store,
        clock: Clock | Callable[[], float],
        ip_base: str = "127.1.0.0",
        node_name: str = NODE_NAME,
        rand: random.Random | None = None,
        backoff: tuple[float, float] = DEFAULT_BACKOFF,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        logs_dir: str | os.PathLike | None = None,
        working_dir: str | None = None,
        register_node: bool = True,
        ip_pool: PodIPPool | None = None,
        log_policy: LogPolicy = DEFAULT_POLICY,
        log_retention: float = DEFAULT_RETENTION,
    ) -> None:
        """`logs_dir`: where container output is captured (None: processes' output is discarded);
        `working_dir`: a process container's directory when it sets no `workingDir`;
        `register_node`: create the Node `node_name` now if the store has no Node (the app
        registers nodes itself, from manifests or --nodes); `ip_pool`: pod IPs (default: from `ip_base`);
        `log_policy`: when container logs rotate; `log_retention`: seconds a gone pod's logs are kept."""
        self._store = store
        self._now = time_source(clock)
        self._ips = ip_pool or PodIPPool(ip_base)
        self.node_name = node_name
        self._rand = rand or random.Random()
        self._backoff = backoff
        self._sleep = sleep
        self._logs_dir = Path(logs_dir) if logs_dir is not None else None
        self._log_policy = log_policy
        self._log_retention = log_retention
        self._log_swept_at: float | None = None
        self._working_dir = working_dir or os.getcwd()
        self._recorder = EventRecorder(store, self._now, "kubelet", node_name)
        self._scheduler_recorder = EventRecorder(store, self._now, "default-scheduler")
        self._unschedulable: dict[str, str] = {}  # uid -> the reason already reported
        self._sandboxes: dict[str, _Sandbox] = {}
        self._lock = asyncio.Lock()
        self._closed = False
        if register_node and not store.list("Node"):
            store.apply(node_object(node_name, DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_PODS, self._now()))

    # -- public ------------------------------------------------------------------------------

    async def sync(self) -> None:
        """Start pods that should run, begin terminating deleted ones, stop pods that vanished."""
        async with self._lock:
            if self._closed:
                return
            self._sweep_logs()
            seen: set[str] = set()
            nodes = {n["metadata"]["name"] for n in self._store.list("Node") if is_live(n)}
            orphaned: set[str] = set()
            for pod in self._store.list("Pod"):
                meta, spec = pod["metadata"], pod.get("spec") or {}
                sandbox = self._sandboxes.get(meta["uid"])
                if spec.get("nodeName") not in nodes:
                    if sandbox is not None:
                        orphaned.add(meta["uid"])  # its Node was deleted under it
                    continue  # not scheduled yet (the scheduler binds), or bound to a node not served here
                if sandbox is None and is_terminal(pod):
                    continue
                seen.add(meta["uid"])
                if meta.get("deletionTimestamp"):
                    if sandbox is None:  # never started here: nothing to wait for
                        self._store.delete("Pod", meta["namespace"], meta["name"], grace_period_seconds=0)
                    elif sandbox.termination is None:
                        grace = float(meta.get("deletionGracePeriodSeconds") or 0)
                        for container in sandbox.containers:
                            if container.running:
                                self._event(sandbox, "Killing", f"Stopping container {container.name}", container=container)
                        sandbox.termination = self._spawn(self._terminate(sandbox, grace, delete=True))
                elif sandbox is None:
                    await self._start(pod)
            for uid, sandbox in list(self._sandboxes.items()):
                if uid not in seen and sandbox.termination is None:
                    # Removed without grace (forced, or replaced under the same name): stop at once.
                    # A pod whose Node went away is also deleted, as the pod garbage collector does.
                    sandbox.termination = self._spawn(self._terminate(sandbox, 0.0, delete=uid in orphaned))

    async def close(self) -> None:
        """Stop every listener now (ingressd is exiting); pod objects are left as they are."""
        async with self._lock:
            self._closed = True
            sandboxes = list(self._sandboxes.values())
            tasks = [s.termination for s in sandboxes if s.termination is not None]
            tasks += [c.retry for s in sandboxes for c in s.containers if c.retry is not None]
            tasks += [t for s in sandboxes for c in s.containers for t in c.tasks]
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.gather(*(
                c.server.stop(CLOSE_GRACE_SECONDS if isinstance(c.server, ProcessServer) else 0)
                for s in sandboxes for c in s.containers if c.server
            ))
            for sandbox in sandboxes:
                self._ips.release(sandbox.ip)
            self._sandboxes.clear()

    def _sweep_logs(self) -> None:
        """Remove the logs of pods gone for the retention period (at the first sync, then every
        LOG_SWEEP_SECONDS)."""
        now = self._now()
        if self._logs_dir is None or (self._log_swept_at is not None and now - self._log_swept_at < LOG_SWEEP_SECONDS):
            return
        self._log_swept_at = now
        live = {(p["metadata"].get("namespace", "default"), p["metadata"]["name"]) for p in self._store.list("Pod")}
        live |= {(s.namespace, s.name) for s in self._sandboxes.values()}
        try:
            removed = remove_expired_logs(self._logs_dir, live, now, self._log_retention)
        except OSError as exc:
            log.warning("cannot remove old pod logs in %s: %s", self._logs_dir, exc)
            return
        for name in removed:
            log.info("removed the logs of pod %s (gone for %gs or more)", name, self._log_retention)

    def stats(self) -> list[PodStats]:
        """The summary API: cumulative CPU and current memory of every running container."""
        result = []
        for sandbox in self._sandboxes.values():
            if sandbox.termination is not None:
                continue
            containers = {c.name: c.server.usage() for c in sandbox.containers if c.server is not None}
            if containers:
                result.append(PodStats(sandbox.namespace, sandbox.name, sandbox.uid, sandbox.node, containers))
        return result

    def pod_uids_by_ip(self) -> dict[str, str]:
        """Pod IP -> uid of the pod running there (for per-pod traffic from the proxy)."""
        return {s.ip: s.uid for s in self._sandboxes.values()}

    def pod_ip(self, uid: str) -> str | None:
        sandbox = self._sandboxes.get(uid)
        return sandbox.ip if sandbox else None

    def use_pod_network(self, network: IPv4Network) -> None:
        """Hand out pod IPs from `network` (the instance's claimed block); before any pod starts."""
        if self._sandboxes:
            raise RuntimeError("pods already run on addresses of the previous pod network")
        self._ips = PodIPPool.for_network(network)

    def bind_failures(self) -> list[str]:
        """One line per container whose last start could not listen on its address, for /healthz."""
        return [
            f"pod {s.namespace}/{s.name} container {c.name} cannot bind: {c.bind_error}"
            for s in sorted(self._sandboxes.values(), key=lambda s: (s.namespace, s.name))
            if s.termination is None
            for c in s.containers if c.bind_error
        ]

    # -- lifecycle ---------------------------------------------------------------------------

    @staticmethod
    def _spawn(coro) -> asyncio.Task:
        """A background task whose failure is logged rather than lost."""
        task = asyncio.create_task(coro)
        task.add_done_callback(_log_failure)
        return task

    async def _start(self, pod: dict) -> None:
        meta = pod["metadata"]
        volumes = self._resolve_volumes(pod)
        if isinstance(volumes, str):
            if self._unschedulable.get(meta["uid"]) != volumes:
                self._unschedulable[meta["uid"]] = volumes
                self._event(_ident(pod), "FailedScheduling", volumes, "Warning", component="default-scheduler")
            return
        self._unschedulable.pop(meta["uid"], None)
        spec = pod.get("spec") or {}
        sandbox = _Sandbox(
            uid=meta["uid"],
            namespace=meta["namespace"],
            name=meta["name"],
            ip=self._ips.allocate(preferred=_previous_ip(pod)),
            start_time=format_timestamp(self._now()),
            containers=[
                _new_container(c, volumes) for c in spec.get("containers") or ()
            ],
            restart_policy=spec.get("restartPolicy") or "Always",
            node=spec.get("nodeName") or self.node_name,
        )
        _carry_over(sandbox, pod.get("status") or {}, format_timestamp(self._now()))
        self._sandboxes[sandbox.uid] = sandbox
        for container in sandbox.containers:
            await self._start_container(sandbox, pod, container)
        self._publish(sandbox)

    async def _start_container(self, sandbox: _Sandbox, pod: dict, container: _Container) -> None:
        spec = container.spec
        if container.config_error:  # a subPath that leaves its volume: nothing is created or started
            container.state = _waiting("CreateContainerConfigError", container.config_error)
            return
        image = spec.get("image", "")
        if not runnable(spec):
            container.state = _waiting(
                "ImageNotSupported",
                f'image "{image}" is not runnable by ingressd: use ingressd/echo or give the container a command',
            )
            return
        try:
            for directory in container.mounts.values():
                os.makedirs(directory, exist_ok=True)
            env = container_env(pod, spec, sandbox.ip, HOST_IP, container.volume_dirs, self._lookup)
            server = self._make_server(sandbox, pod, container, env)
        except OSError as exc:
            container.state = _waiting("CreateContainerConfigError", f"cannot create volume directory: {exc}")
            return
        except ValueError as exc:  # ConfigError included
            container.state = _waiting("CreateContainerConfigError", str(exc))
            return
        started_at = format_timestamp(self._now())
        taken = _taken_port(sandbox.ip, spec) if isinstance(server, ProcessServer) else None
        try:
            if taken is not None:
                raise taken
            await server.start()
        except OSError as exc:
            message = exc.strerror or str(exc)
            if isinstance(server, ProcessServer) and exc is not taken:  # could not exec it: StartError, 128
                message, exit_code, reason = f"exec: {server.argv[0]!r}: {message}", 128, "StartError"
            else:
                exit_code, reason = 1, "Error"
            log.warning("pod %s/%s container %s: %s", sandbox.namespace, sandbox.name, container.name, message)
            if exc.errno in _BIND_ERRORS:
                container.bind_error = message
                self._event(sandbox, "Failed", f"Error: {message}", "Warning", container=container)
            self._crash(sandbox, container, message, started_at, exit_code=exit_code, reason=reason)
            return
        container.bind_error = ""
        if isinstance(server, EchoServer):
            self._echo_log(sandbox, container, server)
        container.server = server
        container.container_id = f"ingressd://{uuid.uuid4().hex}"
        container.state = {"running": {"startedAt": started_at}}
        container.env = env
        self._event(sandbox, "Pulled", f'Container image "{image}" already present on machine', container=container)
        self._event(sandbox, "Created", f"Created container: {container.name}", container=container)
        self._event(sandbox, "Started", f"Started container {container.name}", container=container)
        self._start_container_tasks(sandbox, container)
        if isinstance(server, ProcessServer):
            container.tasks.append(self._spawn(self._watch_exit(sandbox, container, server)))

    def _make_server(self, sandbox: _Sandbox, pod: dict, container: _Container, env: dict[str, str]):
        spec = container.spec
        if spec.get("command"):
            host_env = {k: os.environ[k] for k in HOST_ENV if k in os.environ}
            cwd = os.path.join(self._working_dir, spec["workingDir"]) if spec.get("workingDir") else self._working_dir
            return ProcessServer(
                argv(spec, env), {**host_env, "HOSTNAME": sandbox.name, **env}, cwd,
                None if self._logs_dir is None else lambda: self._open_log(sandbox, container),
            )
        config = EchoConfig.for_container(pod, spec, sandbox.ip, container.mounts, env)
        return EchoServer(config, sandbox.ip, container_ports(spec), self._rand)

    def _lookup(self, kind: str, namespace: str, name: str) -> dict | None:
        return self._store.get(kind, namespace, name)

    def _open_log(self, sandbox: _Sandbox, container: _Container) -> ContainerLog:
        """The log of the container instance starting now; on a restart the last instance's log
        becomes `.previous.log` (a first start, of a pod name reused by a new pod too, starts fresh)."""
        return open_instance_log(self._logs_dir / sandbox.namespace / sandbox.name, container.name,
                                 restarted=container.restart_count > 0, policy=self._log_policy, now=self._now)

    def _echo_log(self, sandbox: _Sandbox, container: _Container, server: EchoServer) -> None:
        """What the echo app prints when it starts (it logs no requests: that is the access log's job)."""
        if self._logs_dir is None:
            return
        config = server.config
        addresses = ", ".join(f"{server.host}:{port}" for port in server.ports)
        line = (f"{format_timestamp(self._now())} ingressd/echo {config.version} listening on {addresses} "
                f"(pod {config.namespace}/{config.pod}, container {config.container})\n")
        try:
            container_log = self._open_log(sandbox, container)
            container_log.write(line.encode())
        except OSError as exc:
            log.warning("cannot write the log of pod %s/%s container %s: %s",
                        sandbox.namespace, sandbox.name, container.name, exc)
            return
        server.log_to(container_log)  # ECHO_LOG_REQUESTS; closed when the server stops

    async def _watch_exit(self, sandbox: _Sandbox, container: _Container, server: ProcessServer) -> None:
        """The process ended by itself: the container terminated; restart per restartPolicy."""
        code = await server.wait()
        if server.stopping or container.server is not server or self._closed or sandbox.termination is not None:
            return
        started_at = (container.state.get("running") or {}).get("startedAt", "")
        container.server = None
        container.cancel_tasks(keep=asyncio.current_task())
        await server.stop(0)  # whatever the process left behind in its group
        exit_code, reason = exit_reason(code)
        log.info("pod %s/%s container %s exited with code %d", sandbox.namespace, sandbox.name, container.name, exit_code)
        if exit_code == 0 and sandbox.restart_policy == "OnFailure":
            container.state = {"terminated": {
                "exitCode": 0, "reason": reason, "startedAt": started_at,
                "finishedAt": format_timestamp(self._now()), "containerID": container.container_id,
            }}
        else:
            self._crash(sandbox, container, "", started_at, exit_code=exit_code, reason=reason)
        self._publish(sandbox)

    def _start_container_tasks(self, sandbox: _Sandbox, container: _Container) -> None:
        container.cancel_tasks()
        container.readiness = None
        if not container.server.started:
            container.tasks.append(self._spawn(self._await_startup(sandbox, container, container.server)))
        for field_name, kind in (("readinessProbe", "Readiness"), ("livenessProbe", "Liveness")):
            if container.spec.get(field_name):
                state = ProbeState(Probe.from_spec(kind, container.spec[field_name]))
                if kind == "Readiness":
                    container.readiness = state
                container.tasks.append(self._spawn(self._probe_loop(sandbox, container, state)))

    async def _await_startup(self, sandbox: _Sandbox, container: _Container, server: EchoServer) -> None:
        await server.wait_started()
        if container.server is server and self._sandboxes.get(sandbox.uid) is sandbox:
            self._publish(sandbox)

    async def _probe_loop(self, sandbox: _Sandbox, container: _Container, state: ProbeState) -> None:
        probe, server = state.probe, container.server
        await self._sleep(probe.initial_delay)
        while True:
            ok, message = await run_probe(probe, container.spec, sandbox.ip, container.env)
            if container.server is not server or sandbox.termination is not None or self._closed:
                return
            if not ok:
                self._event(sandbox, "Unhealthy", f"{probe.kind} probe failed: {message}", "Warning", container=container)
            if state.record(ok):
                if probe.kind == "Readiness":
                    self._publish(sandbox)
                else:
                    await self._kill_unhealthy(sandbox, container, probe)
                    return
            await self._sleep(probe.period)

    async def _kill_unhealthy(self, sandbox: _Sandbox, container: _Container, probe: Probe) -> None:
        """A failed liveness probe: stop the container, then restart it per restartPolicy."""
        self._event(
            sandbox, "Killing", f"Container {container.name} failed {probe.kind.lower()} probe, will be restarted",
            container=container,
        )
        server, container.server = container.server, None
        container.cancel_tasks(keep=asyncio.current_task())
        started_at = (container.state.get("running") or {}).get("startedAt", "")
        self._publish(sandbox)  # unready at once
        pod = self._current_pod(sandbox)
        grace = (pod or {}).get("spec", {}).get("terminationGracePeriodSeconds")
        await server.stop(float(30 if grace is None else grace))
        if sandbox.termination is not None or self._closed:
            return
        self._crash(sandbox, container, f"{probe.kind} probe failed", started_at, exit_code=137)
        self._publish(sandbox)

    def _crash(
        self, sandbox: _Sandbox, container: _Container, message: str, started_at: str, exit_code: int = 1,
        reason: str = "Error",
    ) -> None:
        delay, container.backoff = next_restart(container.backoff, self._now(), *self._backoff)
        terminated = {
            "exitCode": exit_code,
            "reason": reason,
            "message": message,
            "startedAt": started_at,
            "finishedAt": format_timestamp(self._now()),
        }
        if not message:
            del terminated["message"]
        if sandbox.restart_policy == "Never":
            container.state = {"terminated": {**terminated, "containerID": container.container_id}}
            return
        container.last_state = {"terminated": terminated}
        if delay == 0:  # the first crash (or the first after a long good run): no back-off yet
            container.state = {"terminated": {**terminated, "containerID": container.container_id}}
            container.retry = self._spawn(self._restart_later(sandbox, container, 0.0))
            return
        self._event(
            sandbox, "BackOff", f"Back-off restarting failed container {container.name} in pod "
            f"{sandbox.name}_{sandbox.namespace}({sandbox.uid})", "Warning", container=container,
        )
        container.state = _waiting(
            "CrashLoopBackOff",
            f"back-off {delay:g}s restarting failed container={container.name} "
            f"pod={sandbox.name}_{sandbox.namespace}({sandbox.uid})",
        )
        container.retry = self._spawn(self._restart_later(sandbox, container, delay))

    async def _restart_later(self, sandbox: _Sandbox, container: _Container, delay: float) -> None:
        if delay > 0:
            await self._sleep(delay)
        async with self._lock:
            container.retry = None
            if self._closed or sandbox.termination is not None or self._sandboxes.get(sandbox.uid) is not sandbox:
                return
            pod = self._current_pod(sandbox)
            if pod is None:
                return
            container.restart_count += 1
            await self._start_container(sandbox, pod, container)
            self._publish(sandbox)

    async def _terminate(self, sandbox: _Sandbox, grace: float, delete: bool) -> None:
        for container in sandbox.containers:
            if container.retry is not None:
                container.retry.cancel()
            container.cancel_tasks()
        try:
            await asyncio.gather(*(c.server.stop(grace) for c in sandbox.containers if c.server))
        finally:
            for container in sandbox.containers:
                container.server = None
            if self._logs_dir is not None:  # when the pod went, for the log retention
                with contextlib.suppress(OSError):
                    now = self._now()
                    os.utime(self._logs_dir / sandbox.namespace / sandbox.name, (now, now))
            if self._sandboxes.get(sandbox.uid) is sandbox:
                del self._sandboxes[sandbox.uid]
                self._ips.release(sandbox.ip)
                self._recorder.forget(sandbox.uid)
                self._scheduler_recorder.forget(sandbox.uid)
        if delete and self._current_pod(sandbox) is not None:
            self._store.delete("Pod", sandbox.namespace, sandbox.name, grace_period_seconds=0)

    # -- volumes and events ------------------------------------------------------------------

    def _resolve_volumes(self, pod: dict) -> dict[str, str] | str:
        """Volume name -> host directory for the pod's claims; a message if one is not usable."""
        namespace = pod["metadata"].get("namespace", "default")
        resolved: dict[str, str] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or ():
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pvc = self._store.get("PersistentVolumeClaim", namespace, claim)
            if pvc is None:
                return f'persistentvolumeclaim "{claim}" not found'
            path = (pvc["metadata"].get("annotations") or {}).get(VOLUME_PATH_ANNOTATION)
            if not path:
                return "pod has unbound immediate PersistentVolumeClaims"
            resolved[volume["name"]] = path
        return resolved

    def _event(
        self,
        target: _Sandbox | tuple[str, str, str],
        reason: str,
        message: str,
        event_type: str = "Normal",
        container: _Container | None = None,
        component: str = "kubelet",
    ) -> None:
        """Record a v1 Event about a pod; the same (reason, message) again bumps its count."""
        uid, namespace, name = (target.uid, target.namespace, target.name) if isinstance(target, _Sandbox) else target
        recorder = self._recorder if component == "kubelet" else self._scheduler_recorder
        recorder.record({"kind": "Pod", "metadata": {"namespace": namespace, "name": name, "uid": uid}},
                        reason, message, event_type,
                        field_path=f"spec.containers{{{container.name}}}" if container is not None else None)

    # -- status ------------------------------------------------------------------------------

    def _current_pod(self, sandbox: _Sandbox) -> dict | None:
        pod = self._store.get("Pod", sandbox.namespace, sandbox.name)
        if pod is None or pod["metadata"].get("uid") != sandbox.uid:
            return None
        return pod

    def _publish(self, sandbox: _Sandbox) -> None:
        pod = self._current_pod(sandbox)
        if pod is not None:
            status = self._status(sandbox, pod.get("spec") or {}, pod.get("status") or {})
            self._store.update_status("Pod", sandbox.namespace, sandbox.name, status)

    def _status(self, sandbox: _Sandbox, pod_spec: dict, previous: dict) -> dict:
        now = format_timestamp(self._now())
        containers = sorted(sandbox.containers, key=lambda c: c.name)
        unready = [c.name for c in containers if not c.ready]
        never_started = any(not c.running and not c.last_state and "terminated" not in c.state for c in containers)
        finished = bool(containers) and all("terminated" in c.state and c.retry is None for c in containers)
        failed = any(c.state["terminated"].get("exitCode") for c in containers if "terminated" in c.state)
        old_conditions = {c.get("type"): c for c in previous.get("conditions") or ()}

        def cond(cond_type: str, ok: bool, reason: str | None = None, message: str | None = None) -> dict:
            status = "True" if ok else "False"
            old = old_conditions.get(cond_type)
            since = old["lastTransitionTime"] if old and old.get("status") == status and old.get("lastTransitionTime") else now
            result = {"type": cond_type, "status": status, "lastProbeTime": None, "lastTransitionTime": since}
            if not ok and reason:
                result.update(reason=reason, message=message)
            return result

        not_ready = ("ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]")
        return {
            "phase": ("Failed" if failed else "Succeeded") if finished
            else "Pending" if never_started or not containers else "Running",
            "conditions": [
                cond("PodReadyToStartContainers", True),
                cond("Initialized", True),
                cond("Ready", not unready, *not_ready),
                cond("ContainersReady", not unready, *not_ready),
                cond("PodScheduled", True),
            ],
            "hostIP": HOST_IP,
            "hostIPs": [{"ip": HOST_IP}],
            "podIP": sandbox.ip,
            "podIPs": [{"ip": sandbox.ip}],
            "startTime": sandbox.start_time,
            "containerStatuses": [_container_status(c) for c in containers],
            "qosClass": pod_qos_class({"spec": pod_spec}),
        }


def _container_status(container: _Container) -> dict:
    status = {
        "name": container.name,
        "state": container.state,
        "lastState": container.last_state,
        "ready": container.ready,
        "restartCount": container.restart_count,
        "image": container.spec.get("image", ""),
        "imageID": "",
        "started": container.running,
    }
    if container.container_id:
        status["containerID"] = container.container_id
    return status


def _previous_ip(pod: dict) -> str | None:
    """The address a pod had when it ran before ingressd restarted (None for a new pod)."""
    status = pod.get("status") or {}
    if any(c.get("containerID") for c in status.get("containerStatuses") or ()):
        return status.get("podIP") or None
    return None


def _carry_over(sandbox: _Sandbox, previous: dict, now: str) -> None:
    """A pod that ran before this kubelet (ingressd restarted with the same state dir; its
    processes ended with the old ingressd): as after a node reboot, its containers start again
    with restartCount + 1 and lastState terminated `Unknown` (exit code 255, what the runtime
    reports for a container it lost), and the pod keeps its startTime."""
    before = {c.get("name"): c for c in previous.get("containerStatuses") or () if c.get("containerID")}
    if not before:
        return
    sandbox.start_time = previous.get("startTime") or sandbox.start_time
    for container in sandbox.containers:
        old = before.get(container.name)
        if old is None:
            continue
        container.restart_count = int(old.get("restartCount") or 0) + 1
        started = (old.get("state") or {}).get("running", {}).get("startedAt")
        terminated = {"exitCode": 255, "reason": "Unknown", "finishedAt": now, "containerID": old["containerID"]}
        if started:
            terminated["startedAt"] = started
        container.last_state = {"terminated": terminated} if "running" in (old.get("state") or {}) \
            else old.get("lastState") or {}


def _ident(pod: dict) -> tuple[str, str, str]:
    meta = pod["metadata"]
    return meta["uid"], meta.get("namespace", "default"), meta["name"]


def _new_container(spec: dict, volumes: dict[str, str]) -> _Container:
    try:
        return _Container(spec=spec, mounts=_mounts(spec, volumes), volume_dirs=_volume_dirs(spec, volumes))
    except SubPathError as exc:
        return _Container(spec=spec, config_error=str(exc))


def _mounted(container: dict, volumes: dict[str, str]) -> list[tuple[str, str, str]]:
    """(volume name, mountPath, host directory) of the container's mounts of resolved (claim) volumes.

    SubPathError for a subPath that would leave its volume (validation already refuses them)."""
    mounted = []
    for mount in container.get("volumeMounts") or ():
        directory = volumes.get(mount.get("name"))
        if directory:
            sub = mount.get("subPath")
            mounted.append((mount["name"], mount.get("mountPath", ""),
                            sub_path_directory(directory, sub) if sub else directory))
    return mounted


def _mounts(container: dict, volumes: dict[str, str]) -> dict[str, str]:
    """mountPath -> host directory (what the echo app reports and keeps its kv file in)."""
    return {path: directory for _, path, directory in _mounted(container, volumes) if path}


def _volume_dirs(container: dict, volumes: dict[str, str]) -> dict[str, str]:
    """Volume name -> host directory (a process's `<VOLUME>_DIR` variables)."""
    return {name: directory for name, _, directory in _mounted(container, volumes)}


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("kubelet task failed", exc_info=task.exception())


_BIND_ERRORS = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)


def _taken_port(address: str, container: dict) -> OSError | None:
    """Whether a declared TCP containerPort of a process container cannot be bound on its pod IP
    (the process would fail to listen there, its reason only in its log): the error, else None."""
    for port in (p.get("containerPort") for p in container.get("ports") or () if p.get("protocol", "TCP") == "TCP"):
        if not port:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no obstacle
            try:
                probe.bind((address, int(port)))
            except OSError as exc:
                return OSError(exc.errno, f"cannot listen on {address}:{port}: {exc.strerror}")
    return None


def _waiting(reason: str, message: str) -> dict:
    return {"waiting": {"reason": reason, "message": message}}
