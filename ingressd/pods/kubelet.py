"""The kubelet: runs the store's pods as real listeners on their own loopback IPs.

`sync()` reconciles what runs with the pods in the store; the app calls it after store changes.
A pod it takes is bound to this node (`spec.nodeName`), gets the next pod IP, and each container
is started:

- image `ingressd/echo[:tag]` without a command: the built-in echo app, in-process, on
  podIP:containerPort for each TCP containerPort (8080 if none);
- a container with a `command`: not run yet (it will run as a local process in a later issue):
  waiting, reason `CommandNotSupportedYet`;
- any other image: waiting, reason `ImageNotSupported`.

Status is Kubernetes-shaped: phase Pending -> Running, PodScheduled/Initialized/ContainersReady/
Ready conditions, containerStatuses with state/ready/started/restartCount. A listener that cannot
bind crash-loops like a real container (waiting `CrashLoopBackOff`, lastState terminated with the
reason, retried with back-off 10 s doubling to 5 min, restartCount counting).

A pod with a deletionTimestamp stops accepting connections, closes WebSockets, lets in-flight
requests finish within its grace period, then the kubelet deletes the pod object. Probes come later;
a running pod's spec is not re-read (Kubernetes restarts a container whose image is changed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ingressd.cluster.clock import Clock, format_timestamp, time_source
from ingressd.cluster.pod_status import is_terminal
from ingressd.cluster.store import Store
from ingressd.pods.echo import EchoConfig, EchoServer, container_ports, is_echo_image
from ingressd.pods.ips import PodIPPool

log = logging.getLogger(__name__)

NODE_NAME = "ingressd"
HOST_IP = "127.0.0.1"
DEFAULT_BACKOFF = (10.0, 300.0)  # kubelet's crash-loop back-off: initial, maximum (seconds)


@dataclass
class _Container:
    spec: dict
    server: EchoServer | None = None
    state: dict = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: dict = field(default_factory=dict)
    restart_count: int = 0
    container_id: str = ""
    backoff: float = 0.0
    retry: asyncio.Task | None = None

    @property
    def name(self) -> str:
        return self.spec.get("name", "")

    @property
    def running(self) -> bool:
        return self.server is not None


@dataclass
class _Sandbox:
    """What runs for one pod (by uid)."""

    uid: str
    namespace: str
    name: str
    ip: str
    start_time: str
    containers: list[_Container]
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
    ) -> None:
        self._store = store
        self._now = time_source(clock)
        self._ips = PodIPPool(ip_base)
        self.node_name = node_name
        self._rand = rand or random.Random()
        self._backoff = backoff
        self._sandboxes: dict[str, _Sandbox] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    # -- public ------------------------------------------------------------------------------

    async def sync(self) -> None:
        """Start pods that should run, begin terminating deleted ones, stop pods that vanished."""
        async with self._lock:
            if self._closed:
                return
            seen: set[str] = set()
            for pod in self._store.list("Pod"):
                meta, spec = pod["metadata"], pod.get("spec") or {}
                if spec.get("nodeName") not in (None, "", self.node_name):
                    continue
                sandbox = self._sandboxes.get(meta["uid"])
                if sandbox is None and is_terminal(pod):
                    continue
                seen.add(meta["uid"])
                if meta.get("deletionTimestamp"):
                    if sandbox is None:  # never started here: nothing to wait for
                        self._store.delete("Pod", meta["namespace"], meta["name"], grace_period_seconds=0)
                    elif sandbox.termination is None:
                        grace = float(meta.get("deletionGracePeriodSeconds") or 0)
                        sandbox.termination = self._spawn(self._terminate(sandbox, grace, delete=True))
                elif sandbox is None:
                    await self._start(pod)
            for uid, sandbox in list(self._sandboxes.items()):
                if uid not in seen and sandbox.termination is None:
                    # Removed without grace (forced, or replaced under the same name): stop at once.
                    sandbox.termination = self._spawn(self._terminate(sandbox, 0.0, delete=False))

    async def close(self) -> None:
        """Stop every listener now (ingressd is exiting); pod objects are left as they are."""
        async with self._lock:
            self._closed = True
            sandboxes = list(self._sandboxes.values())
            tasks = [s.termination for s in sandboxes if s.termination is not None]
            tasks += [c.retry for s in sandboxes for c in s.containers if c.retry is not None]
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.gather(*(c.server.stop(0) for s in sandboxes for c in s.containers if c.server))
            for sandbox in sandboxes:
                self._ips.release(sandbox.ip)
            self._sandboxes.clear()

    def pod_ip(self, uid: str) -> str | None:
        sandbox = self._sandboxes.get(uid)
        return sandbox.ip if sandbox else None

    # -- lifecycle ---------------------------------------------------------------------------

    @staticmethod
    def _spawn(coro) -> asyncio.Task:
        """A background task whose failure is logged rather than lost."""
        task = asyncio.create_task(coro)
        task.add_done_callback(_log_failure)
        return task

    async def _start(self, pod: dict) -> None:
        meta = pod["metadata"]
        if not (pod.get("spec") or {}).get("nodeName"):
            pod["spec"] = {**(pod.get("spec") or {}), "nodeName": self.node_name}  # the scheduler's binding
            pod = self._store.apply(pod)
        sandbox = _Sandbox(
            uid=meta["uid"],
            namespace=meta["namespace"],
            name=meta["name"],
            ip=self._ips.allocate(),
            start_time=format_timestamp(self._now()),
            containers=[_Container(spec=c) for c in (pod.get("spec") or {}).get("containers") or ()],
        )
        self._sandboxes[sandbox.uid] = sandbox
        for container in sandbox.containers:
            await self._start_container(sandbox, pod, container)
        self._publish(sandbox)

    async def _start_container(self, sandbox: _Sandbox, pod: dict, container: _Container) -> None:
        spec = container.spec
        image = spec.get("image", "")
        if spec.get("command"):
            container.state = _waiting(
                "CommandNotSupportedYet",
                f"container {container.name!r} has a command; ingressd does not run commands yet, "
                "only the built-in image ingressd/echo",
            )
            return
        if not is_echo_image(image):
            container.state = _waiting(
                "ImageNotSupported",
                f'image "{image}" is not runnable by ingressd: use ingressd/echo or give the container a command',
            )
            return
        try:
            config = EchoConfig.for_container(pod, spec, sandbox.ip)
        except ValueError as exc:
            container.state = _waiting("CreateContainerConfigError", str(exc))
            return
        server = EchoServer(config, sandbox.ip, container_ports(spec), self._rand)
        started_at = format_timestamp(self._now())
        try:
            await server.start()
        except OSError as exc:
            log.warning("pod %s/%s container %s: %s", sandbox.namespace, sandbox.name, container.name, exc.strerror)
            self._crash(sandbox, container, exc.strerror or str(exc), started_at)
            return
        container.server = server
        container.container_id = f"ingressd://{uuid.uuid4().hex}"
        container.state = {"running": {"startedAt": started_at}}

    def _crash(self, sandbox: _Sandbox, container: _Container, message: str, started_at: str) -> None:
        initial, maximum = self._backoff
        container.backoff = initial if container.backoff == 0 else min(container.backoff * 2, maximum)
        container.last_state = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "message": message,
                "startedAt": started_at,
                "finishedAt": format_timestamp(self._now()),
            }
        }
        container.state = _waiting(
            "CrashLoopBackOff",
            f"back-off {container.backoff:g}s restarting failed container={container.name} "
            f"pod={sandbox.name}_{sandbox.namespace}({sandbox.uid})",
        )
        container.retry = self._spawn(self._restart_later(sandbox, container, container.backoff))

    async def _restart_later(self, sandbox: _Sandbox, container: _Container, delay: float) -> None:
        await asyncio.sleep(delay)
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
        try:
            await asyncio.gather(*(c.server.stop(grace) for c in sandbox.containers if c.server))
        finally:
            for container in sandbox.containers:
                container.server = None
            if self._sandboxes.get(sandbox.uid) is sandbox:
                del self._sandboxes[sandbox.uid]
                self._ips.release(sandbox.ip)
        if delete and self._current_pod(sandbox) is not None:
            self._store.delete("Pod", sandbox.namespace, sandbox.name, grace_period_seconds=0)

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
        unready = [c.name for c in containers if not c.running]
        never_started = any(not c.running and not c.last_state for c in containers)
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
            "phase": "Pending" if never_started or not containers else "Running",
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
            "qosClass": qos_class(pod_spec),
        }


def qos_class(pod_spec: dict) -> str:
    """Guaranteed (every container limits cpu and memory, requests equal), Burstable (some
    request or limit), else BestEffort; as the API server computes it."""
    containers = pod_spec.get("containers") or ()
    guaranteed, any_resources = bool(containers), False
    for c in containers:
        resources = c.get("resources") or {}
        limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
        any_resources = any_resources or bool(limits or requests)
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                guaranteed = False
    if guaranteed:
        return "Guaranteed"
    return "Burstable" if any_resources else "BestEffort"


def _container_status(container: _Container) -> dict:
    status = {
        "name": container.name,
        "state": container.state,
        "lastState": container.last_state,
        "ready": container.running,
        "restartCount": container.restart_count,
        "image": container.spec.get("image", ""),
        "imageID": "",
        "started": container.running,
    }
    if container.container_id:
        status["containerID"] = container.container_id
    return status


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("kubelet task failed", exc_info=task.exception())


def _waiting(reason: str, message: str) -> dict:
    return {"waiting": {"reason": reason, "message": message}}
