"""The autoscaling shell: metrics-server, the HPA, the VPA and the cluster autoscaler on their periods.

The math lives in pure modules (`metrics_server`, `hpa`, `vpa`, `autoscaler`); this class observes
the store, asks them, and writes their decisions back — scale targets' `spec.replicas`, HPA/VPA
status, evictions, Nodes — with Events, as the upstream controllers do. It is synchronous and takes
`now`, so tests drive it on a fake clock; the app calls `tick()` from one async loop.

Periods (the upstream defaults; flags shorten them for demos): metrics-server `--metric-resolution`
15 s, HPA `--hpa-sync-period` 15 s, VPA recommender 60 s, cluster autoscaler scan 10 s.
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ingressd.apimachinery.apply import CONTROLLER_MANAGER, record_update
from ingressd.cluster import hpa as hpa_math
from ingressd.cluster import vpa as vpa_math
from ingressd.cluster.actions import execute
from ingressd.cluster.autoscaler import AutoscalerConfig, AutoscalerState, NodeGroup, autoscale
from ingressd.cluster.clock import format_timestamp
from ingressd.cluster.events import EventRecorder
from ingressd.cluster.labels import selector_matches
from ingressd.cluster.metrics_server import MetricsServer, PodStats
from ingressd.cluster.quantity import parse_quantity
from ingressd.cluster.store import Store
from ingressd.kinds import SCALABLE_KINDS, SERVED_KINDS

log = logging.getLogger(__name__)

TRAFFIC_METRICS = ("requests_per_second", "requests_in_flight")
VPA_ACTIVE_MODES = ("Initial", "Recreate", "Auto", "InPlaceOrRecreate")
VPA_EVICTING_MODES = ("Recreate", "Auto", "InPlaceOrRecreate")


@dataclass
class AutoscalingOptions:
    metric_resolution: float = 15.0
    hpa_sync_period: float = 15.0
    vpa_recommender_interval: float = 60.0
    hpa: hpa_math.HPAConfig = field(default_factory=hpa_math.HPAConfig)
    node_group: NodeGroup | None = None  # None: no cluster autoscaler
    cluster_autoscaler: AutoscalerConfig = field(default_factory=AutoscalerConfig)


class Autoscaling:
    def __init__(
        self,
        store: Store,
        options: AutoscalingOptions,
        stats: Callable[[], list[PodStats]],
        traffic: Callable[[], dict[str, tuple[int, int]]] | None = None,
        rand: random.Random | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        """`stats`: the kubelet's summary; `traffic`: pod uid -> (requests total, in flight);
        `warn`: where a failure of one object's sync is reported (the others go on)."""
        self.warn = warn or log.warning
        self.store = store
        self.options = options
        self._stats = stats
        self._traffic = traffic or dict
        self.rand = rand or random.Random()
        self._last_now = 0.0  # the `now` of the current call: Events are stamped with it
        self.metrics = MetricsServer()
        self.recommender = vpa_math.Recommender()
        self._hpa_states: dict[tuple[str, str], hpa_math.HPAState] = {}
        self._failures: dict[str, str] = {}  # "Kind ns/name" or component -> the last failure reported
        self._ca_state = AutoscalerState()
        self._due: dict[str, float] = {}
        self._hpa_events = EventRecorder(store, lambda: self._last_now, "horizontal-pod-autoscaler")
        self._vpa_events = EventRecorder(store, lambda: self._last_now, "vpa-updater")
        self._ca_events = EventRecorder(store, lambda: self._last_now, "cluster-autoscaler")

    # -- the loop ------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Run whatever is due at `now`: each component on its own period, the first run at once
        (the cluster autoscaler's after one scan interval, as its loop starts with a wait)."""
        self._last_now = now
        periods = [("metrics-server", self.options.metric_resolution, self.scrape),
                   ("horizontal-pod-autoscaler", self.options.hpa_sync_period, self.sync_hpas),
                   ("vpa-recommender", self.options.vpa_recommender_interval, self.sync_vpas)]
        if self.options.node_group is not None:
            periods.append(("cluster-autoscaler", self.options.cluster_autoscaler.scan_interval, self.sync_cluster_autoscaler))
        for name, period, run in periods:
            if name == "cluster-autoscaler" and name not in self._due:
                self._due[name] = now + period  # its loop waits one scan interval before the first scan
                continue
            if now >= self._due.get(name, now):
                self._due[name] = now + period
                self._isolated(name, run, now)  # one component's bug must not stop the others

    def next_due(self) -> float:
        return min(self._due.values(), default=0.0)

    # -- metrics-server ------------------------------------------------------------------------

    def scrape(self, now: float) -> None:
        self._last_now = now
        self.metrics.scrape(now, self._stats(), self._traffic())
        self._feed_recommender(now)

    def pod_metrics(self, namespace: str | None = None) -> list[dict]:
        return self.metrics.pod_metrics(namespace)

    def node_metrics(self, _namespace: str | None = None) -> list[dict]:
        return self.metrics.node_metrics(self.store.list("Node"))

    def custom_metric_values(self, namespace: str, metric: str) -> list[dict] | None:
        """custom.metrics.k8s.io MetricValues of a Pods metric for the namespace's pods; None for
        a metric ingressd does not produce."""
        if metric not in TRAFFIC_METRICS:
            return None
        index = TRAFFIC_METRICS.index(metric)
        window = self.options.metric_resolution
        stamp = format_timestamp(self.metrics.last_scrape or 0.0)
        return [{
            "describedObject": {"kind": "Pod", "namespace": ns, "name": pod, "apiVersion": "/v1"},
            "metric": {"name": metric, "selector": None},
            "timestamp": stamp,
            "windowSeconds": int(window),
            "value": f"{round(values[index] * 1000)}m",
        } for (ns, pod), values in sorted(self.metrics.pod_traffic(namespace).items())]

    def metrics_source(self, namespace: str) -> hpa_math.MetricsSource:
        """What the HPA reads: metrics.k8s.io usage and the proxy's per-pod traffic."""
        pods = {
            u.name: hpa_math.PodMetric(
                containers={c: (usage.cpu_cores * 1000, usage.memory_bytes) for c, usage in u.containers.items()},
                timestamp=u.timestamp, window=u.window)
            for u in self.metrics.pod_usage(namespace)
        }
        traffic = self.metrics.pod_traffic(namespace)
        custom = {
            "requests_per_second": {pod: rate for (_, pod), (rate, _) in traffic.items()},
            "requests_in_flight": {pod: float(in_flight) for (_, pod), (_, in_flight) in traffic.items()},
        }
        return hpa_math.MetricsSource(
            pods=pods, custom=custom, objects=lambda ref, name: self._object_metric(namespace, ref, name),
            timestamp=self.metrics.last_scrape or 0.0)

    def _object_metric(self, namespace: str, ref: dict, metric: str) -> float | None:
        """Object metrics: the proxy's traffic summed over the pods of a Service or workload."""
        if metric not in TRAFFIC_METRICS:
            return None
        kind, name = ref.get("kind"), ref.get("name")
        obj = self.store.get(kind, namespace, name) if kind in ("Service", *SCALABLE_KINDS) else None
        if obj is None:
            return None
        spec = obj.get("spec") or {}
        selector = spec.get("selector") if kind != "Service" else {"matchLabels": spec.get("selector") or {}}
        if not selector:
            return None
        pods = {p["metadata"]["name"] for p in self.store.list("Pod", namespace)
                if selector_matches(selector, p["metadata"].get("labels") or {})}
        traffic = self.metrics.pod_traffic(namespace)
        index = 0 if metric == "requests_per_second" else 1
        return float(sum(values[index] for (_, pod), values in traffic.items() if pod in pods))

    # -- HPA -----------------------------------------------------------------------------------

    def sync_hpas(self, now: float) -> None:
        self._last_now = now
        live = set()
        selectors: dict[str, dict[str, dict]] = {}  # namespace -> "ns/name" -> the HPA target's selector
        for hpa in self.store.list("HorizontalPodAutoscaler"):
            ns = hpa["metadata"]["namespace"]
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            target = self.store.get(ref.get("kind"), ns, ref.get("name", "")) if ref.get("kind") in SCALABLE_KINDS else None
            selector = ((target or {}).get("spec") or {}).get("selector")
            if selector:
                selectors.setdefault(ns, {})[f"{ns}/{hpa['metadata']['name']}"] = selector
        for hpa in self.store.list("HorizontalPodAutoscaler"):
            meta = hpa["metadata"]
            key = (meta["namespace"], meta["name"])
            live.add(key)
            state = self._hpa_states.setdefault(key, hpa_math.HPAState([], [], []))
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            target = self.store.get(ref.get("kind"), meta["namespace"], ref.get("name", "")) \
                if ref.get("kind") in SCALABLE_KINDS else None
            result = self._isolated(f"HorizontalPodAutoscaler {key[0]}/{key[1]}", hpa_math.reconcile_hpa,
                                    hpa, target, self.store.list("Pod", meta["namespace"]),
                                    self.metrics_source(meta["namespace"]), now, state, self.options.hpa,
                                    selectors.get(meta["namespace"], {}))
            if result is None:
                continue
            if result.rescale and target is not None:
                old_target = copy.deepcopy(target)
                target.setdefault("spec", {})["replicas"] = result.desired_replicas
                # What PATCH .../scale does, recorded as upstream's HPA controller is (so a file's
                # replicas stays the HPA's until the file changes it).
                self.store.apply(record_update(target["kind"], SERVED_KINDS.get(target["kind"], ""), old_target,
                                               target, CONTROLLER_MANAGER, format_timestamp(now), "scale"))
            self.store.update_status("HorizontalPodAutoscaler", meta["namespace"], meta["name"], result.status)
            for event_type, reason, message in result.events:
                self._hpa_events.record(hpa, reason, message, event_type)
        for key in list(self._hpa_states):
            if key not in live:
                del self._hpa_states[key]
                self._failures.pop(f"HorizontalPodAutoscaler {key[0]}/{key[1]}", None)

    def _isolated(self, what: str, compute, *args):
        """compute(*args) for one object or component; a failure (say, a spec that validation let
        through) is reported once per distinct error and gives None, so the rest still syncs."""
        try:
            result = compute(*args)
        except Exception as exc:
            log.debug("%s failed", what, exc_info=True)
            message = f"ingressd: {what}: cannot sync: {exc!r}"
            if self._failures.get(what) != message:
                self._failures[what] = message
                self.warn(message)
            return None
        self._failures.pop(what, None)
        return result

    # -- VPA -----------------------------------------------------------------------------------

    def _vpa_targets(self) -> list[tuple[dict, dict | None, list[dict]]]:
        """(vpa, its target or None, the target's pods) for every VPA."""
        result = []
        for vpa in self.store.list("VerticalPodAutoscaler"):
            namespace = vpa["metadata"]["namespace"]
            ref = (vpa.get("spec") or {}).get("targetRef") or {}
            target = self.store.get(ref.get("kind"), namespace, ref.get("name", "")) \
                if ref.get("kind") in SCALABLE_KINDS else None
            selector = ((target or {}).get("spec") or {}).get("selector")
            pods = [p for p in self.store.list("Pod", namespace)
                    if selector and selector_matches(selector, p["metadata"].get("labels") or {})]
            result.append((vpa, target, pods))
        return result

    def _feed_recommender(self, now: float) -> None:
        usage = {(u.namespace, u.name): u for u in self.metrics.pod_usage()}
        for vpa, _target, pods in self._vpa_targets():
            namespace, name = vpa["metadata"]["namespace"], vpa["metadata"]["name"]
            for pod in pods:
                pod_usage = usage.get((namespace, pod["metadata"]["name"]))
                if pod_usage is None:
                    continue
                requests = {c.get("name"): ((c.get("resources") or {}).get("requests") or {})
                            for c in (pod.get("spec") or {}).get("containers") or ()}
                for container, used in pod_usage.containers.items():
                    cpu_request = requests.get(container, {}).get("cpu")
                    self.recommender.add_sample(
                        (namespace, name, container), used.cpu_cores, used.memory_bytes, now,
                        pod=pod["metadata"]["name"],
                        cpu_request_cores=float(parse_quantity(cpu_request)) if cpu_request else 0.0)

    def sync_vpas(self, now: float) -> None:
        """The recommender writes status; the updater evicts pods whose requests are out of bounds."""
        self._last_now = now
        for vpa, target, pods in self._vpa_targets():
            what = f"VerticalPodAutoscaler {vpa['metadata']['namespace']}/{vpa['metadata']['name']}"
            self._isolated(what, self._sync_vpa, vpa, target, pods, now)

    def _sync_vpa(self, vpa: dict, target: dict | None, pods: list[dict], now: float) -> None:
        namespace, name = vpa["metadata"]["namespace"], vpa["metadata"]["name"]
        template = (((target or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
        containers = [c.get("name", "") for c in template.get("containers") or ()]
        recommendations = []
        for container in containers:
            recommendation = self.recommender.recommendation(
                (namespace, name, container), now, vpa_math.container_policy(vpa, container),
                containers_per_pod=max(len(containers), 1))
            if recommendation is not None:
                recommendations.append(recommendation)
        status = vpa_math.vpa_status(vpa, recommendations, now)
        vpa = self.store.update_status("VerticalPodAutoscaler", namespace, name, status) or vpa
        if target is None or vpa_math.update_mode(vpa) not in VPA_EVICTING_MODES:
            return
        for pod in vpa_math.pods_to_evict(vpa, target, pods, now):
            self._vpa_events.record(pod, "EvictedByVPA",
                                    "Pod was evicted by VPA Updater to apply resource recommendation.")
            self.store.delete("Pod", namespace, pod["metadata"]["name"])

    def admit_pod(self, pod: dict) -> dict:
        """The VPA admission controller: a new pod of a VPA target gets the recommended requests."""
        owner = _controller_of(self.store, pod)
        if owner is None:
            return pod
        namespace = pod["metadata"].get("namespace", "default")
        for vpa in self.store.list("VerticalPodAutoscaler", namespace):
            ref = (vpa.get("spec") or {}).get("targetRef") or {}
            if (ref.get("kind"), ref.get("name")) == owner and vpa_math.update_mode(vpa) in VPA_ACTIVE_MODES:
                if (vpa.get("status") or {}).get("recommendation"):
                    return {**pod, "spec": vpa_math.apply_recommendation(pod.get("spec") or {}, vpa)}
        return pod

    # -- cluster autoscaler --------------------------------------------------------------------

    def sync_cluster_autoscaler(self, now: float) -> None:
        self._last_now = now
        group = self.options.node_group
        if group is None:
            return
        actions, events = autoscale(group, self.store.list("Node"), self.store.list("Pod"), now, self._ca_state,
                                    self.options.cluster_autoscaler, self.rand)
        for event_type, obj, reason, message in events:
            self._ca_events.record(obj, reason, message, event_type)
        for action in actions:
            execute(self.store, action)


def _controller_of(store: Store, pod: dict) -> tuple[str, str] | None:
    """(kind, name) of the workload that owns the pod: a StatefulSet, ReplicaSet, or the
    Deployment above the ReplicaSet (what a VPA's targetRef names)."""
    namespace = pod["metadata"].get("namespace", "default")
    owner = next((r for r in pod["metadata"].get("ownerReferences") or () if r.get("controller")), None)
    if owner is None:
        return None
    if owner.get("kind") == "ReplicaSet":
        rs = store.get("ReplicaSet", namespace, owner.get("name", ""))
        above = next((r for r in ((rs or {}).get("metadata") or {}).get("ownerReferences") or () if r.get("controller")),
                     None)
        if above is not None and above.get("kind") == "Deployment":
            return "Deployment", above.get("name", "")
    return owner.get("kind", ""), owner.get("name", "")
