"""Composition root: manifests → store → controllers and kubelet → route table → proxy; admin beside.

This is the only module that knows every part; each part only knows the store or the snapshot it
is handed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import watchfiles
from aiohttp import web

from ingressd.access import AccessError, admin_server_url, admin_tls, load_or_create_token, write_kubeconfig
from ingressd.admin.site import DualSite
from ingressd.accesslog import AccessLog, open_access_log
from ingressd.admin.app import build_admin_app
from ingressd.admin.canaries import canary_documents
from ingressd.cluster.autoscaling import Autoscaling, AutoscalingOptions
from ingressd.apimachinery.apply import (ManagedFieldsError, decode_managed, owned_by, reapplied_config,
                                         server_side_apply)
from ingressd.cluster.clock import RealClock, format_timestamp
from ingressd.cluster.hpa import HPAConfig
from ingressd.cluster.node_plan import NodeFlags, autoscaler_config, initial_nodes, node_group
from ingressd.cluster.nodes import complete_node, group_settings
from ingressd.cluster.namespaces import SYSTEM_NAMESPACES, namespace_object, used_namespaces
from ingressd.cluster.runner import NotQuiescent, Runner
from ingressd.cluster.store import Store
from ingressd.gateway_listeners import GatewayListeners
from ingressd.metrics import ContainerMetrics, ProxyMetrics
from ingressd.listeners import (Listener, bind_errors_message, is_loopback_bind, listeners, port_clash_message,
                                url_host)
from ingressd.local_tls import local_ca_secrets
from ingressd.objects.gateway import BUILTIN_GATEWAY_CLASS, builtin_gateway_class
from ingressd.kinds import STORED_KINDS, is_cluster_scoped
from ingressd.objects.load import LoadResult, Manifest, find_manifest_files
from ingressd.objects.manifests import load_paths
from ingressd.objects.reload import Files, ReloadGate, fingerprint, manifest_change_filter, settle_windows
from ingressd.pods.ips import PodBlockClaim, PodCIDRError, claim_pod_block, loopback_advice, parse_pod_cidr
from ingressd.apimachinery.log_rotation import LogPolicy
from ingressd.pods.kubelet import Kubelet
from ingressd.proxy.server import ProxyServer
from ingressd.proxy.tls import SniContexts
from ingressd.routing.decide import Request
from ingressd.routing.endpoints import build_endpoint_index
from ingressd.routing.explain_view import explain_document
from ingressd.routing.routes_view import RouteRow, gateway_route_rows, route_changes, route_documents, route_rows
from ingressd.routing.snapshot import SnapshotBuilder
from ingressd.offloop import (build_off_loop, collections_deferred, freeze_heap, release, run_in_slices,
                              snapshot_versions)
from ingressd.store_db import StoreDB, StoreDBError, manifest_body
from ingressd.words import count
from ingressd.workers.pool import WORKER_TIMEOUT, make_proxy

@dataclass
class RunOptions:
    paths: list[str]
    bind: str = "127.0.0.1"
    http_port: int = 80
    https_port: int = 443
    admin_port: int = 10254
    admin_bind: str = "127.0.0.1"  # plain HTTP, its token in the clear: loopback unless asked otherwise
    state_dir: str = ".ingressd"
    ingress_class: str = "nginx"
    log_format: str = "nginx"
    access_log: str = "stdout"  # stdout, stderr, off or a file path (ingressd.accesslog.open_access_log)
    expose_upstream: bool = False
    reload_interval: float = 0.5
    seed: int | None = None
    certs_dir: str = "certs"
    configmap: str | None = None  # "namespace/name" of an ingress-nginx controller ConfigMap
    metric_resolution: float = 15.0
    hpa_sync_period: float = 15.0
    vpa_recommender_interval: float = 60.0
    hpa_downscale_stabilization: float = 300.0
    hpa_tolerance: float = 0.1
    hpa_cpu_initialization_period: float = 300.0
    hpa_initial_readiness_delay: float = 30.0
    nodes: int | None = None
    node_cpu: str | None = None
    node_memory: str | None = None
    node_group_min: int | None = None
    node_group_max: int | None = None
    node_group_configmap: str | None = None  # "namespace/name"
    scale_down_unneeded_time: float | None = None
    scale_down_delay_after_add: float | None = None
    pod_cidr: str | None = None  # "127.X.Y.0/24"; None: a free block derived from the state dir
    workers: int = 1  # data-plane processes (ingressd.workers); 1: this process serves, as always
    worker_timeout: float = WORKER_TIMEOUT  # seconds a silent worker is given before it is killed and restarted; 0: never
    container_log_max_size: int = 10 * 1024 * 1024  # bytes (--container-log-max-size); negative: no rotation
    container_log_max_files: int = 5  # per container instance, the current file included
    pod_log_retention: float = 3600.0  # seconds a gone pod's logs are kept
    extra: dict = field(default_factory=dict)


class StartupError(Exception):
    """A reason not to start, with the process exit status (1 bad config, 2 cannot bind)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def split_errors(errors: list) -> tuple[list, list]:
    """(errors that stop a load, errors ingressd serves through).

    A TLS Secret that cannot serve (bad base64, key mismatch, expired) is an error for `validate`,
    but `run` serves the default certificate for its hosts rather than taking every other host
    down with it, as ingress-nginx does.
    """
    serving = [p for p in errors if p.kind == "Secret" and p.field.startswith(("data[tls.", "stringData[tls."))]
    return [p for p in errors if p not in serving], serving


def builtin_ingress_class(name: str) -> dict:
    """The IngressClass ingress-nginx's installation creates (controller k8s.io/ingress-nginx), so
    `kubectl get ingressclass` and Ingresses naming it behave as on a cluster; manifests that define
    one with this name replace it."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "ingress-nginx",
                                                  "app.kubernetes.io/component": "controller"}},
            "spec": {"controller": "k8s.io/ingress-nginx"}}


FILE_MANAGER = "ingressd-file"  # the field manager of what the manifest files apply


def manifest_key(obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    kind = obj.get("kind", "")
    ns = "" if is_cluster_scoped(kind) else (meta.get("namespace") or "default")
    return kind, ns, meta.get("name", "")


class Ingressd:
    """The running process: owns the store, the controllers, the kubelet and every listener."""

    def __init__(self, options: RunOptions, out=None, err=None) -> None:
        self.options = options
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.clock = RealClock()
        self.store = Store(clock=self.clock.now)
        self.kubelet = Kubelet(self.store, self.clock, logs_dir=Path(options.state_dir) / "logs", register_node=False,
                               log_policy=LogPolicy(options.container_log_max_size, options.container_log_max_files),
                               log_retention=options.pod_log_retention)
        self.autoscaling = Autoscaling(
            self.store,
            AutoscalingOptions(
                metric_resolution=options.metric_resolution,
                hpa_sync_period=options.hpa_sync_period,
                vpa_recommender_interval=options.vpa_recommender_interval,
                hpa=HPAConfig(tolerance=options.hpa_tolerance,
                              cpu_initialization_period=options.hpa_cpu_initialization_period,
                              initial_readiness_delay=options.hpa_initial_readiness_delay,
                              downscale_stabilization=options.hpa_downscale_stabilization),
            ),
            stats=self.kubelet.stats,
            traffic=self._pod_traffic,
            rand=random.Random(options.seed),
            warn=self.warn,
        )
        self.runner = Runner(self.store, self.clock, state_dir=options.state_dir, admission=self.autoscaling.admit_pod)
        self.admin_token: str | None = None  # <state-dir>/admin-token, the admin API's bearer token
        self.kubeconfig: Path | None = None  # <state-dir>/kubeconfig, written once the admin port is bound
        self.metrics = ProxyMetrics()
        self.metrics.registry.register(ContainerMetrics(self.kubelet.stats))
        self.access_log: AccessLog | None = None  # opened by start(); stays None with --access-log off
        self.proxy: ProxyServer | None = None
        self.gateway_listeners: GatewayListeners | None = None  # Gateway listener ports beyond 80/443, status
        self.admin_runner: web.AppRunner | None = None
        self.ready = False
        self.applied: dict[tuple[str, str, str], dict] = {}
        # Objects the files define that existed before the files did (created through the API):
        # removing them from the files leaves them. Kept in store.db with what the files applied.
        self.adopted: set[tuple[str, str, str]] = set()
        self.snapshots = SnapshotBuilder(options.ingress_class, options.configmap)
        self._reconcile_wanted = asyncio.Event()
        self._manifest_record_stale = False  # store.db's record of the applied objects missed a write
        self._reload_lock = asyncio.Lock()  # held while a reload applies the files in slices
        self._routing_lock = asyncio.Lock()  # one snapshot build at a time (ingressd.offloop)
        self._built: tuple = ((), None)  # (snapshot_versions, the snapshot) of the last off-loop build
        self._tasks: list[asyncio.Task] = []
        self._file_state: dict[str, tuple[int, int]] = {}
        self.ports: dict[str, int] = {}
        self.pod_block: PodBlockClaim | None = None
        self.db: StoreDB | None = None  # <state-dir>/store.db, opened by start()
        self._routes_shown: tuple[RouteRow, ...] | None = None  # the routes last printed; None: not yet

    # ---- messages ---------------------------------------------------------------------

    def warn(self, message: str) -> None:
        print(message, file=self.err, flush=True)

    # ---- manifests ----------------------------------------------------------------------

    def load(self) -> LoadResult:
        return load_paths(self.options.paths, ingress_class=self.options.ingress_class)

    def apply_manifests(self, manifests: list[Manifest]) -> int:
        """Make the store's user objects equal the manifests; return how many changed."""
        counted = [0]
        for _ in self._apply_steps(manifests, counted):
            pass
        return counted[0]

    def _apply_steps(self, manifests: list[Manifest], counted: list[int]):
        """apply_manifests one object at a time (a generator: a reload runs it in slices,
        ingressd.offloop.run_in_slices); the count of changes ends in counted[0]."""
        desired: dict[tuple[str, str, str], dict] = {}
        for i, m in enumerate(manifests):
            if m.obj.get("kind") in STORED_KINDS:  # anything else was a validation warning
                desired[manifest_key(m.obj)] = m.obj
            if i % 1000 == 999:
                yield
        for secret in local_ca_secrets([o for k, o in desired.items() if k[0] in ("Ingress", "Gateway")],
                                       [o for k, o in desired.items() if k[0] == "Secret"], self.options.certs_dir):
            desired[manifest_key(secret)] = secret  # issued from the local CA (ingressd.io/local-ca)
        own_class = ("IngressClass", "", self.options.ingress_class)
        if own_class not in desired:  # as installing ingress-nginx creates it
            desired[own_class] = builtin_ingress_class(self.options.ingress_class)
        if ("GatewayClass", "", BUILTIN_GATEWAY_CLASS) not in desired:  # the bundled Gateway API class
            desired[("GatewayClass", "", BUILTIN_GATEWAY_CLASS)] = builtin_gateway_class()
        changed = 0
        for key, obj in desired.items():
            if self.applied.get(key) != obj:
                self.apply_file_object(key, obj, self.applied.get(key))
                changed += 1
            yield
        for key in list(self.applied):
            if key not in desired:
                if key in self.adopted:  # not the files' to delete: they only stop managing it
                    self.adopted.discard(key)
                else:
                    self.store.delete(*key)
                changed += 1
                yield
        previous, self.applied = self.applied, desired
        if self.db is not None:
            if self._manifest_record_stale:  # a write failed: the whole record, compared with the file's
                self._manifest_record_stale = not self.db.save_manifest_objects(desired)
            else:  # the rows that changed, a step each (JSON for thousands of objects takes a while)
                rows: dict[tuple[str, str, str], str | None] = {}
                for key in previous:
                    if key not in desired:
                        rows[key] = None
                for key, obj in desired.items():
                    if previous.get(key) != obj:
                        rows[key] = manifest_body(obj)
                    yield
                keys = list(rows)
                for start in range(0, len(keys), 200):
                    if not self.db.write_manifest_rows({key: rows[key] for key in keys[start:start + 200]}):
                        self._manifest_record_stale = True
                    yield
            self.db.save_adopted(self.adopted)
        # The previous manifests go a thousand at a time: freeing 100 000 objects at once is a pause.
        for i, key in enumerate(list(previous)):
            del previous[key]
            if i % 1000 == 999:
                yield
        counted[0] = changed + self.ensure_namespaces(desired.values())

    def apply_file_object(self, key: tuple[str, str, str], obj: dict, previous: dict | None) -> None:
        """Server-side apply of one object the files define, as field manager `ingressd-file` with
        force (README "Files and the API together"): it changes only what the file owns, and a
        field another writer took over (`kubectl scale`) stays theirs until the file changes it."""
        kind = key[0]
        config = complete_node(obj, self.clock.now()) if kind == "Node" else obj
        live = self.store.get(*key)
        if live is None:
            previous = None
        elif previous is None:
            self.adopted.add(key)
        else:
            config = reapplied_config(kind, previous, config, owned_by(live, FILE_MANAGER))
        api_version = obj.get("apiVersion", "")
        if live is not None:
            live = {**live, "apiVersion": api_version, "kind": kind}
            try:
                decode_managed(live)
            except ManagedFieldsError:  # unreadable: reset, as kube-apiserver does
                live["metadata"] = {k: v for k, v in live["metadata"].items() if k != "managedFields"}
        # A file may set status (Nodes do), so nothing is reset as on the API's main resource.
        self.store.apply(server_side_apply(kind, api_version, live, config, FILE_MANAGER,
                                           format_timestamp(self.clock.now()), force=True), copy_result=False)

    def ensure_namespaces(self, objects=()) -> int:
        """The system namespaces, and those `objects` use without defining them (`ingressd validate`
        warns about those), exist; returns how many were created. A namespace created this way
        stays when the files stop using it, as one made with `kubectl create namespace`."""
        created = 0
        for name in (*SYSTEM_NAMESPACES, *used_namespaces(objects)):
            if self.store.get("Namespace", "", name) is None:
                self.store.apply(namespace_object(name))
                created += 1
        return created

    def _snapshot_files(self) -> Files:
        """The manifest files now: path -> (size, content digest)."""
        state = {}
        for path in find_manifest_files(self.options.paths):
            try:
                with open(path, "rb") as f:
                    state[path] = fingerprint(f.read())
            except OSError:
                continue
        return state

    async def watch_files(self) -> None:
        """Hot reload: when the manifest files have settled (ingressd.objects.reload), apply a valid
        edit; keep the previous configuration on an invalid one."""
        settle, emptied_settle = settle_windows(self.options.reload_interval)
        gate = ReloadGate(self._file_state, settle, emptied_settle)
        # A safety net for changes no notification reports (a symlinked directory swapped, a
        # watched directory replaced): look anyway now and then.
        resync = max(5.0, 10 * self.options.reload_interval)
        woken = asyncio.Event()
        events = asyncio.create_task(self._file_events(woken))
        recheck: float | None = None
        try:
            while True:
                wait = resync if recheck is None else min(max(recheck - time.monotonic(), 0), resync)
                try:
                    async with asyncio.timeout(wait):  # not wait_for: see test_app_cancel
                        await woken.wait()
                except TimeoutError:
                    pass
                woken.clear()
                try:
                    with collections_deferred():  # loading makes many long-lived objects (ingressd.offloop)
                        recheck = await self._reload_when_settled(gate)
                except Exception as exc:  # the watcher must survive anything a file system does
                    self.warn(f"ingressd: reload failed: {exc!r}")
                    recheck = time.monotonic() + settle
        finally:
            events.cancel()
            await asyncio.gather(events, return_exceptions=True)

    async def _reload_when_settled(self, gate: ReloadGate) -> float | None:
        """Observe the files; load them once settled. Returns when to look again without an event."""
        files = await asyncio.to_thread(self._snapshot_files)
        verdict = gate.observe(files, time.monotonic())
        if not verdict.apply:
            return verdict.recheck_at
        result = await asyncio.to_thread(self.load)
        try:
            return await self._apply_loaded(gate, files, result)
        finally:  # the loaded manifests go in slices too (ingressd.offloop.release)
            await run_in_slices(release(result.manifests), contextlib.nullcontext)

    async def _apply_loaded(self, gate: ReloadGate, files, result) -> float | None:
        after = await asyncio.to_thread(self._snapshot_files)
        if after != files:  # written to while being read: what was read may be half a file
            return gate.observe(after, time.monotonic()).recheck_at
        gate.loaded(files)
        self._file_state = files
        blocking, serving = split_errors(result.errors)
        for problem in [*result.warnings, *serving]:
            self.warn(str(problem))
        if blocking:
            self.metrics.last_reload_successful.set(0)
            self.warn("ingressd: reload rejected; keeping the previous configuration:")
            for problem in blocking:
                self.warn(str(problem))
            return None
        # In slices, the proxy serving between them; the controllers and the routing snapshot see
        # the files' objects once all are applied (reconcile waits for the lock).
        counted = [0]
        async with self._reload_lock:
            await run_in_slices(self._apply_steps(result.manifests, counted), self.store_batch)
        self._reconcile_wanted.set()
        changed = counted[0]
        self.metrics.last_reload_successful.set(1)
        self.warn(f"ingressd: configuration reloaded ({count(changed, 'object')} changed)")
        return None

    async def _file_events(self, woken: asyncio.Event) -> None:
        """Set `woken` when something under the manifest paths may have changed: watchfiles with
        the platform's notifications (inotify, FSEvents, ReadDirectoryChangesW), else watchfiles
        polling every --reload-interval, else a plain timer."""
        interval_ms = max(int(self.options.reload_interval * 1000), 1)
        paths = [os.path.abspath(p) for p in self.options.paths]
        # Directories recursively; a file given alone through its directory, so that a rename
        # over it (an atomic save) is seen.
        watches = [(sorted({p for p in paths if os.path.isdir(p)}), True),
                   (sorted({os.path.dirname(p) for p in paths if not os.path.isdir(p)}), False)]
        wakes = manifest_change_filter(paths)

        async def watch(roots: list[str], recursive: bool, force_polling: bool) -> None:
            async for _changes in watchfiles.awatch(*roots, watch_filter=wakes, recursive=recursive,
                                                    step=min(50, interval_ms), debounce=max(interval_ms, 50),
                                                    force_polling=force_polling or None,
                                                    poll_delay_ms=interval_ms):
                woken.set()

        for force_polling in (False, True):
            try:
                async with asyncio.TaskGroup() as group:
                    for roots, recursive in watches:
                        if roots:
                            group.create_task(watch(roots, recursive, force_polling))
            except Exception as exc:
                how = "by polling" if force_polling else "with file system notifications"
                self.warn(f"ingressd: warning: cannot watch the manifests {how} ({exc!r}); "
                          f"{'looking every --reload-interval' if force_polling else 'polling instead'}")
                woken.set()  # changes while no watch was in place
        while True:
            await asyncio.sleep(self.options.reload_interval)
            woken.set()

    # ---- control loop -------------------------------------------------------------------

    def _on_store_event(self, _event: str, _obj: dict) -> None:
        self._reconcile_wanted.set()

    async def reconcile(self) -> None:
        """Run controllers and the kubelet until nothing changes.

        The routing snapshot is swapped after the controllers and *before* the kubelet acts: a
        deleted pod's EndpointSlice entry is already terminating, so it leaves the proxy's pools
        before its container is told to stop (the kubelet may also wait on a starting pod)."""
        async with self._reload_lock:  # never between two slices of a reload
            for _ in range(100):
                self._reconcile_wanted.clear()
                try:
                    with self.store_batch():  # one commit of store.db for the pass
                        self.runner.run_until_quiescent()
                except NotQuiescent as exc:
                    self.warn(f"ingressd: controllers did not settle: {exc}")
                await self.refresh_routing_off_loop()
                await self.kubelet.sync()
                if not self._reconcile_wanted.is_set():
                    break
            await self.refresh_routing_off_loop()
        if self.gateway_listeners is not None:
            await self.gateway_listeners.sync()

    def refresh_routing(self) -> None:
        """Swap in the routing snapshot for the store now (the builder rebuilds only the parts
        whose kinds changed, and hands back the same snapshot when none did)."""
        if self.proxy is None:
            return
        old = self.proxy.state
        state = self.build_state()
        if state is old:
            return
        self.proxy.swap(state)
        if (state.table is not old.table or state.tls is not old.tls or state.gateway is not old.gateway) \
                and self._routes_shown is not None:
            self.print_route_changes()

    async def refresh_routing_off_loop(self) -> None:
        """refresh_routing with the snapshot (and the route rows to print) built on a thread from
        a frozen view of the store (ingressd.offloop); the swap stays one assignment on the loop."""
        if self.proxy is None:
            return
        async with self._routing_lock:
            old = self.proxy.state
            versions = snapshot_versions(self.store)
            if old is self._built[1] and versions == self._built[0]:
                return  # nothing the snapshot reads changed: not even a view to make
            built = await build_off_loop(self.snapshots, self.store, old, self._routes_shown)
            self._built = (versions, built.state)
            for message in built.warnings:
                self.warn(message)
            if built.state is old:
                return
            self.proxy.swap(built.state)
            if built.rows is not None:
                for line in built.changes:
                    self.warn(line)
                self._routes_shown = built.rows

    def route_rows(self) -> tuple[RouteRow, ...]:
        """The proxy's routes now, with ready/total endpoint counts (the totals from the store)."""
        state = self.proxy.state
        every = build_endpoint_index(self.store.list("Service"), self.store.list("EndpointSlice"),
                                     self.store.list("Endpoints"), not_ready=True)
        return route_rows(state.table, state.endpoints, state.tls, every) + \
            gateway_route_rows(state.gateway, state.endpoints, every)

    def explain(self, request: Request) -> dict:
        """GET /ingressd/v1/explain: the proxy's decision for `request` on its live snapshot."""
        request.https_port = self.proxy.https_port
        return explain_document(self.proxy.state, request, self.proxy.balancers)

    def print_route_changes(self) -> None:
        """One stderr line per route added (+), removed (−) or changed (~) since last printed."""
        rows = self.route_rows()
        for line in route_changes(self._routes_shown or (), rows):
            self.warn(line)
        self._routes_shown = rows

    def build_state(self):
        """The routing snapshot for the store now; its new warnings printed."""
        state, warnings = self.snapshots.build(self.store)
        for message in warnings:
            self.warn(message)
        return state

    async def control_loop(self) -> None:
        while True:
            try:
                # Store events wake the loop at once; the 1 s tick serves time-based rules. Not
                # asyncio.wait_for: on 3.11 it drops a cancel that meets a wake-up (cpython#86296).
                async with asyncio.timeout(1.0):
                    await self._reconcile_wanted.wait()
            except TimeoutError:
                pass
            try:
                await self.reconcile()
            except Exception as exc:  # a controller bug must not stop the data plane
                self.warn(f"ingressd: reconcile failed: {exc!r}")
                await asyncio.sleep(1)

    def _pod_traffic(self) -> dict[str, tuple[int, int]]:
        """The proxy's requests per pod (by IP), keyed by pod uid for metrics-server."""
        if self.proxy is None:
            return {}
        uids = self.kubelet.pod_uids_by_ip()
        return {uids[ip]: counts for ip, counts in self.proxy.traffic.snapshot().items() if ip in uids}

    async def autoscaling_loop(self) -> None:
        """metrics-server, HPA, VPA and cluster autoscaler, each on its period."""
        while True:
            now = self.clock.now()
            with self.store_batch():
                self.autoscaling.tick(now)
            await asyncio.sleep(min(max(self.autoscaling.next_due() - self.clock.now(), 0.05), 1.0))

    def setup_nodes(self) -> None:
        """Nodes from manifests are kept; otherwise --nodes N (default 1) are registered. A node
        group (flags or --node-group-configmap) turns the cluster autoscaler on."""
        opts = self.options
        flags = NodeFlags(opts.nodes, opts.node_cpu, opts.node_memory, opts.node_group_min, opts.node_group_max,
                          opts.scale_down_unneeded_time, opts.scale_down_delay_after_add)
        settings = self._node_group_settings()
        try:
            group = node_group(flags, settings)
        except ValueError as exc:
            raise StartupError(1, f"ingressd: {exc}") from None
        if group is not None:
            self.autoscaling.options.node_group = group
            self.autoscaling.options.cluster_autoscaler = autoscaler_config(
                self.autoscaling.options.cluster_autoscaler, flags, settings)
        if self.store.list("Node"):
            return
        for node in initial_nodes(flags, group, self.clock.now(), self.autoscaling.rand):
            self.store.apply(node)
        if opts.nodes == 0 and group is None:
            self.warn("ingressd: warning: --nodes 0 and no node group: no pod can be scheduled")

    def _node_group_settings(self) -> dict | None:
        """--node-group-configmap: the ConfigMap's settings (it must be among the manifests)."""
        ref = self.options.node_group_configmap
        if not ref:
            return None
        namespace, _, name = ref.rpartition("/")
        config = self.store.get("ConfigMap", namespace or "default", name)
        if config is None:
            raise StartupError(1, f"ingressd: --node-group-configmap {ref}: no such ConfigMap in the manifests")
        try:
            return group_settings(config.get("data") or {}, f"ConfigMap {namespace or 'default'}/{name}")
        except ValueError as exc:
            raise StartupError(1, f"ingressd: {exc}") from None

    async def periodic(self) -> None:
        """Flush the access log and give time-driven controllers a tick."""
        while True:
            await asyncio.sleep(0.2)
            if self.access_log is not None:
                self.access_log.flush()

    # ---- lifecycle ----------------------------------------------------------------------

    def open_access_log(self) -> None:
        try:
            self.access_log = open_access_log(self.options.access_log, self.options.log_format, self.out, self.err)
        except OSError as exc:
            raise StartupError(2, f"ingressd: --access-log {self.options.access_log}: {exc}") from None

    def reopen_access_log(self) -> None:
        """SIGUSR1 (as nginx): append to the --access-log file anew, after logrotate moved it away."""
        if self.access_log is None or self.access_log.path is None:
            return
        try:
            self.access_log.reopen()
        except OSError as exc:
            self.warn(f"ingressd: cannot reopen --access-log {self.access_log.path} ({exc.strerror or exc}); "
                      "still writing to the file open before")

    async def start(self) -> None:
        opts = self.options
        self.open_access_log()
        self._file_state = self._snapshot_files()
        result = self.load()
        blocking, serving = split_errors(result.errors)
        for problem in [*result.warnings, *serving]:
            self.warn(str(problem))
        if blocking:
            raise StartupError(1, "\n".join(str(p) for p in blocking))
        self._open_store_db()
        self._claim_pod_block()
        self.store.subscribe(self._on_store_event, copy_objects=False)  # it only wakes the control loop
        self.apply_manifests(result.manifests)
        self.setup_nodes()
        self.proxy = make_proxy(opts, self.warn, self.build_state(), metrics=self.metrics,  # --workers
                                access_log=self.access_log, expose_upstream=opts.expose_upstream,
                                on_error=self._proxy_error, error_log=self.warn, rand=random.Random(opts.seed))
        self.proxy.body_temp_dir = str(Path(opts.state_dir) / "client-body-temp")  # nginx's client_body_temp
        await self._bind_all()
        await self.reconcile()
        self.print_route_changes()  # every route as "+", with the endpoints the first reconcile made
        freeze_heap(full=True)  # before serving: later collections do not scan the loaded state (offloop)
        self._tasks = [
            asyncio.create_task(self.control_loop()),
            asyncio.create_task(self.watch_files()),
            asyncio.create_task(self.periodic()),
            asyncio.create_task(self.autoscaling_loop()),
        ]
        self.ready = True
        self.warn(
            f"ingressd: serving {count(len(self.applied), 'object')}; HTTP {opts.bind}:{self.ports['http']}, "
            f"HTTPS {opts.bind}:{self.ports['https']}, admin http://{url_host(opts.admin_bind)}:{self.ports['admin']}/healthz; "
            f"kubeconfig {self.kubeconfig}"
        )

    def _proxy_error(self, exc: BaseException) -> None:
        self.warn(f"ingressd: internal error while proxying: {exc!r}")

    async def _bind_all(self) -> None:
        """Bind every listener, or fail with one message naming every port that could not bind."""
        opts = self.options
        assert self.proxy is not None
        wanted = listeners(opts)
        clash = port_clash_message(wanted)
        if clash:
            raise StartupError(2, clash)
        http, https, admin_listener = wanted
        failures: list[tuple[Listener, OSError]] = []
        try:
            srv = await self.proxy.listen(opts.bind, opts.http_port, scheme="http")
            self.ports["http"] = srv.sockets[0].getsockname()[1]
        except OSError as exc:
            failures.append((http, exc))
        sni = SniContexts(opts.state_dir, lambda: self.proxy.state.tls)
        try:
            srv = await self.proxy.listen(opts.bind, opts.https_port, ssl=sni.default, scheme="https")
            self.ports["https"] = self.proxy.https_port = srv.sockets[0].getsockname()[1]
        except OSError as exc:
            failures.append((https, exc))
        self.gateway_listeners = GatewayListeners(self.proxy, self.store, self.clock, opts.bind, sni, self.warn)
        try:
            self.admin_token = load_or_create_token(opts.state_dir, warn=self.warn)  # kept: never logged
            admin_ssl, admin_ca = admin_tls(opts.state_dir, opts.admin_bind)  # kubectl sends tokens over TLS only
        except AccessError as exc:
            raise StartupError(1, str(exc)) from None
        admin = build_admin_app(self.store, self.metrics.registry, self.health,
                                canaries=lambda: canary_documents(self.proxy.state.table),
                                routes=lambda: route_documents(self.route_rows()),
                                explain=self.explain,
                                logs_dir=Path(opts.state_dir) / "logs",
                                computed={"PodMetrics": self.autoscaling.pod_metrics,
                                          "NodeMetrics": self.autoscaling.node_metrics,
                                          "MetricValue": self.autoscaling.custom_metric_values},
                                bind=opts.admin_bind, token=self.admin_token)
        self.admin_runner = web.AppRunner(admin, access_log=None)
        await self.admin_runner.setup()
        site = DualSite(self.admin_runner, opts.admin_bind, opts.admin_port, admin_ssl)  # HTTP and HTTPS
        try:
            await site.start()
            self.ports["admin"] = site._server.sockets[0].getsockname()[1]
        except OSError as exc:
            failures.append((admin_listener, exc))
        if failures:
            raise StartupError(2, bind_errors_message(failures, wanted))
        try:  # for kubectl and ingressd's own clients: the bound port, the state dir's token
            self.kubeconfig = write_kubeconfig(opts.state_dir, admin_server_url(opts.admin_bind, self.ports["admin"]),
                                               self.admin_token, admin_ca)
        except AccessError as exc:
            raise StartupError(1, str(exc)) from None
        if not is_loopback_bind(opts.admin_bind):
            self.warn(f"ingressd: WARNING: the admin API listens on {opts.admin_bind}:{self.ports['admin']} "
                      "(--admin-bind) and answers plain HTTP too: a client using http:// sends its bearer token "
                      "across the network unencrypted, and whoever sees it can delete pods and scale workloads. "
                      "Bind it to 127.0.0.1 unless this network is trusted.")

    def store_batch(self):
        """Store changes made synchronously inside are committed to store.db once, at the end."""
        return self.db.batch() if self.db is not None else contextlib.nullcontext()

    def _open_store_db(self) -> None:
        """The store as the last run with this state dir left it (`ingressd.store_db`); the
        manifests are applied over it after."""
        try:
            self.db = StoreDB(self.options.state_dir, warn=self.warn)
            loaded = self.db.load()
            self.store.restore(loaded.objects, loaded.resource_version)
        except StoreDBError as exc:
            raise StartupError(exc.status, exc.message) from None
        except (ValueError, KeyError, TypeError) as exc:  # a row that is JSON but not a stored object
            raise StartupError(1, f"ingressd: {self.db.path} holds an object ingressd cannot restore ({exc}): "
                               f"move the file away (mv {self.db.path} {self.db.path}.bad) to start with an "
                               "empty store") from None
        self.applied = loaded.manifest_objects
        self.adopted = loaded.adopted & set(self.applied)
        self.db.attach(self.store)
        if not loaded.empty:
            expired = f"; {count(loaded.expired_events, 'Event')} older than 1h dropped" if loaded.expired_events else ""
            self.warn(f"ingressd: restored {count(len(loaded.objects), 'object')} from {self.db.path} "
                      f"(resourceVersion {self.store.resource_version}{expired})")
            if self.options.nodes is not None and self.store.list("Node"):
                self.warn("ingressd: --nodes applies to a new state dir only: the Nodes stored in "
                          f"{self.db.path} are kept")

    def _claim_pod_block(self) -> None:
        """This instance's pod addresses (`ingressd.pods.ips`), held until stop()."""
        opts = self.options
        try:
            cidr = parse_pod_cidr(opts.pod_cidr) if opts.pod_cidr else None
            self.pod_block = claim_pod_block(opts.state_dir, cidr)
        except ValueError as exc:
            raise StartupError(1, f"ingressd: --pod-cidr {exc}") from None
        except PodCIDRError as exc:
            raise StartupError(2, str(exc)) from None
        block = self.pod_block
        self.kubelet.use_pod_network(block.network)
        origin = "--pod-cidr" if not block.derived else f"derived from {Path(opts.state_dir).resolve()}" + (
            f"; taken by other instances: {', '.join(map(str, block.skipped))}" if block.skipped else "")
        unchecked = "" if block.socket is not None else "; unchecked: its claim address is not configured on loopback"
        self.warn(f"ingressd: pod addresses {block.network} ({origin}{unchecked})")
        advice = loopback_advice(block.network)
        if advice:
            self.warn(advice)

    def health(self) -> tuple[bool, str]:
        if not self.ready:
            return False, "starting: manifests loading or listeners not bound yet"
        problems = self.kubelet.bind_failures() + ([self.db.problem] if self.db is not None and self.db.problem else [])
        return True, "\n".join(problems) or "ok"

    async def stop(self) -> None:
        self.ready = False
        pending = set(self._tasks)
        while pending:  # a loop that swallowed its cancel (a library's bug) is asked again
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)
        for task in self._tasks:  # retrieved, so that none is reported as never retrieved
            if not task.cancelled():
                task.exception()
        self._tasks = []
        if self.proxy is not None:
            await self.proxy.close()
        if self.admin_runner is not None:
            await self.admin_runner.cleanup()
        await self.kubelet.close()
        if self.pod_block is not None:
            self.pod_block.close()
        if self.access_log is not None:
            self.access_log.close()
        if self.db is not None:
            self.db.close()
            self.db = None


async def serve(options: RunOptions) -> int:
    app = Ingressd(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    if hasattr(signal, "SIGUSR1"):  # not on Windows
        try:
            loop.add_signal_handler(signal.SIGUSR1, app.reopen_access_log)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        await app.start()
    except StartupError as exc:
        print(exc.message, file=sys.stderr, flush=True)
        await app.stop()
        return exc.status
    await stop.wait()
    app.warn("ingressd: shutting down")
    await app.stop()
    return 0


def run(options: RunOptions) -> int:
    """Run until SIGINT/SIGTERM; on uvloop where it is installed (a default dependency off Windows)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(serve(options))
    return uvloop.run(serve(options))
