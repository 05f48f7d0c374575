"""Drives the pure reconcilers against the store until nothing is left to do.

Synchronous on purpose: tests step it directly on a FakeClock; the async app calls
`run_until_quiescent()` after store changes (and on a periodic tick, for time-based rules such as
minReadySeconds). Each controller observes the store, computes actions and has them applied before
the next controller looks, in the order objects flow: namespace lifecycle (terminating namespaces
lose their content), garbage collection, Deployments,
ReplicaSets, StatefulSets, the scheduler, PersistentVolumeClaim binding, EndpointSlices.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Callable

from ingressd.cluster.actions import Action, execute
from ingressd.cluster.clock import Clock, time_source
from ingressd.cluster.deployment import reconcile_deployment
from ingressd.cluster.endpoints import reconcile_endpoint_slices
from ingressd.cluster.controller_events import controller_events
from ingressd.cluster.events import EventRecorder
from ingressd.cluster.gc import delete_orphans
from ingressd.cluster.namespaces import reconcile_namespaces
from ingressd.cluster.pvc import DEFAULT_STATE_DIR, bind_claims
from ingressd.cluster.replicaset import reconcile_replicaset
from ingressd.cluster.scheduler import schedule
from ingressd.cluster.statefulset import reconcile_statefulset
from ingressd.cluster.store import Store

log = logging.getLogger(__name__)

DEFAULT_MAX_ROUNDS = 100


class NotQuiescent(RuntimeError):
    """The controllers kept changing the store for max_rounds rounds (a reconciler bug)."""


class Runner:
    def __init__(
        self,
        store: Store,
        clock: Clock | Callable[[], float],
        rand: random.Random | None = None,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
        state_dir: str = DEFAULT_STATE_DIR,
        admission: Callable[[dict], dict] | None = None,
    ) -> None:
        """`state_dir`: where claims' volume directories live (`<state_dir>/volumes/<ns>/<claim>`);
        `admission`: a mutating admission step for pods a controller creates (the VPA's)."""
        self.admission = admission
        self.store = store
        self.state_dir = state_dir
        self._now = time_source(clock)
        self._rand = rand or random.Random()
        self.max_rounds = max_rounds
        self._scheduler_events = EventRecorder(store, self._now, "default-scheduler")
        self._recorders: dict[str, EventRecorder] = {}  # the workload controllers' (cluster.controller_events)
        self._gc_quiet_at: int | None = None  # the store's owner_changes when the collector last found nothing
        self._endpoints_quiet_at: tuple | None = None  # the versions of its kinds when the EndpointSlice one did
        self._controllers: list[tuple[str, Callable[[], list[Action]]]] = [
            ("namespace", self._namespaces),
            ("garbage-collector", self._garbage_collector),
            ("deployment", self._deployments),
            ("replicaset", self._replicasets),
            ("statefulset", self._statefulsets),
            ("scheduler", self._schedule),
            ("persistentvolumeclaim-binder", self._bind_claims),
            ("endpointslice", self._endpoint_slices),
        ]

    def run_once(self) -> int:
        """One pass of every controller; returns the number of actions applied."""
        applied = 0
        for name, controller in self._controllers:
            for action in controller():
                if action[0] == "apply" and self.admission is not None and action[1].get("kind") == "Pod":
                    meta = action[1]["metadata"]
                    if self.store.get("Pod", meta.get("namespace", "default"), meta["name"]) is None:
                        action = ("apply", self.admission(action[1]))  # a pod being created
                log.debug("%s: %s %s", name, action[0], action[1:4] if action[0] != "apply" else _describe(action[1]))
                events = controller_events(name, action, self.store.get)
                execute(self.store, action)
                for component, involved, reason, message, event_type in events:
                    self._recorder(component).record(involved, reason, message, event_type)
                applied += 1
        return applied

    def _recorder(self, component: str) -> EventRecorder:
        recorder = self._recorders.get(component)
        if recorder is None:
            recorder = self._recorders[component] = EventRecorder(self.store, self._now, component)
        return recorder

    def run_until_quiescent(self) -> int:
        """Repeat run_once until a pass changes nothing; returns the total. Raises NotQuiescent."""
        total = 0
        for _ in range(self.max_rounds):
            applied = self.run_once()
            total += applied
            if applied == 0:
                return total
        raise NotQuiescent(f"controllers still acting after {self.max_rounds} rounds")

    # -- controllers: observe, then reconcile --------------------------------------------------

    def _namespaces(self) -> list[Action]:
        namespaces = self.store.list("Namespace")
        if not any(ns["metadata"].get("deletionTimestamp") or not (ns.get("status") or {}).get("phase")
                   for ns in namespaces):
            return []  # nothing to do: skip copying every object
        objects = [obj for kind in self.store.kinds() for obj in self.store.list(kind)]
        return reconcile_namespaces(namespaces, objects, self._now())

    def _garbage_collector(self) -> list[Action]:
        # Orphans depend on nothing but the store's objects, and appear only by a delete or by a
        # write of an object with owners, a deletionTimestamp or finalizers (Store.owner_changes):
        # none since a pass that found nothing, nothing to do (a reload of 100 000 objects without
        # owners does not cost a pass over them all). The collector only reads: no copies.
        version = self.store.owner_changes
        if version == self._gc_quiet_at:
            return []
        objects = [obj for kind in self.store.kinds() for obj in self.store.list_stored(kind)]
        actions = delete_orphans(objects)
        self._gc_quiet_at = None if actions else version
        return actions

    def _deployments(self) -> list[Action]:
        replicasets = _by_namespace(self.store.list("ReplicaSet"))
        pods = _by_namespace(self.store.list("Pod"))
        now = self._now()
        actions: list[Action] = []
        for deployment in self.store.list("Deployment"):
            ns = deployment["metadata"]["namespace"]
            actions += reconcile_deployment(deployment, replicasets[ns], pods[ns], now)
        return actions

    def _replicasets(self) -> list[Action]:
        pods = _by_namespace(self.store.list("Pod"))
        now = self._now()
        actions: list[Action] = []
        for rs in self.store.list("ReplicaSet"):
            actions += reconcile_replicaset(rs, pods[rs["metadata"]["namespace"]], now, self._rand)
        return actions

    def _statefulsets(self) -> list[Action]:
        pods = _by_namespace(self.store.list("Pod"))
        claims = _by_namespace(self.store.list("PersistentVolumeClaim"))
        revisions = _by_namespace(self.store.list("ControllerRevision"))
        now = self._now()
        actions: list[Action] = []
        for sts in self.store.list("StatefulSet"):
            ns = sts["metadata"]["namespace"]
            actions += reconcile_statefulset(sts, pods[ns], claims[ns], revisions[ns], now, self.state_dir)
        return actions

    def _schedule(self) -> list[Action]:
        """Bind pending pods to Nodes; each bind or new failure is also an Event, as the scheduler's.

        A store without any Node has no scheduling model at all (pure controller tests): nothing
        is bound or marked. ingressd itself always has at least one Node."""
        nodes = self.store.list("Node")
        if not nodes:
            return []
        actions = schedule(self.store.list("Pod"), nodes, self._now(), self._rand)
        for action in actions:
            if action[0] == "apply":
                pod = action[1]
                meta = pod["metadata"]
                self._scheduler_events.record(
                    pod, "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} to {pod['spec']['nodeName']}")
            else:
                _, _, namespace, name, status = action
                pod = self.store.get("Pod", namespace, name)
                message = next(c.get("message", "") for c in status["conditions"] if c.get("type") == "PodScheduled")
                if pod is not None:
                    self._scheduler_events.record(pod, "FailedScheduling", message, "Warning")
        return actions

    def _bind_claims(self) -> list[Action]:
        return bind_claims(self.store.list("PersistentVolumeClaim"), self.state_dir)

    def _endpoint_slices(self) -> list[Action]:
        # A pure function of three kinds (no clock): nothing to do while none of them changed since
        # a pass that found nothing. It only reads them (what it writes, it builds anew): no copies.
        versions = tuple(self.store.kind_version(kind) for kind in ("Service", "Pod", "EndpointSlice"))
        if versions == self._endpoints_quiet_at:
            return []
        actions = reconcile_endpoint_slices(
            self.store.list_stored("Service"), self.store.list_stored("Pod"), self.store.list_stored("EndpointSlice"),
            self._rand,
        )
        self._endpoints_quiet_at = None if actions else versions
        return actions


def _by_namespace(objs: list[dict]) -> defaultdict[str, list[dict]]:
    grouped: defaultdict[str, list[dict]] = defaultdict(list)
    for obj in objs:
        grouped[obj["metadata"].get("namespace", "")].append(obj)
    return grouped


def _describe(obj: dict) -> str:
    meta = obj.get("metadata", {})
    return f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}"
