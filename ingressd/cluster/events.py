"""v1 Events, recorded as the client-go event recorder does: one object per (involved object,
reason, message, source), later occurrences bump `count` and `lastTimestamp`.

Used by every component that reports what it did: the kubelet, the scheduler, the HPA, VPA and
cluster-autoscaler shells. `kubectl describe` and `get events` read them back.
"""

from __future__ import annotations

from collections.abc import Callable

from ingressd.cluster.clock import format_timestamp
from ingressd.cluster.store import Store

# kind -> apiVersion for involvedObject references
_API_VERSIONS = {
    "Pod": "v1", "Node": "v1", "Service": "v1", "PersistentVolumeClaim": "v1",
    "Deployment": "apps/v1", "ReplicaSet": "apps/v1", "StatefulSet": "apps/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2", "VerticalPodAutoscaler": "autoscaling.k8s.io/v1",
}


_last_ns = 0  # the last name suffix given, so two events in one nanosecond still sort in order


class EventRecorder:
    def __init__(self, store: Store, now: Callable[[], float], component: str, host: str = "") -> None:
        self._store = store
        self._now = now
        self.component = component
        self.host = host
        self._names: dict[tuple, tuple[str, str]] = {}  # key -> (namespace, Event name)

    def record(self, involved: dict, reason: str, message: str, event_type: str = "Normal",
               field_path: str | None = None) -> None:
        """`involved`: the object (or a reference with kind, namespace, name, uid)."""
        meta = involved.get("metadata") or involved
        kind = involved.get("kind", "")
        namespace = meta.get("namespace") or "default"  # cluster-scoped objects' Events live in default
        name, uid = meta.get("name", ""), meta.get("uid", "")
        key = (kind, namespace, name, uid, reason, message, field_path)
        now = format_timestamp(self._now())
        known = self._names.get(key)
        existing = self._store.get("Event", *known) if known else None
        if existing is not None:
            existing["count"] = int(existing.get("count") or 1) + 1
            existing["lastTimestamp"] = now
            self._store.apply(existing)
            return
        event_name = f"{name}.{self._suffix()}"
        reference = {"apiVersion": involved.get("apiVersion") or _API_VERSIONS.get(kind, "v1"), "kind": kind,
                     "namespace": namespace, "name": name, "uid": uid}
        if field_path:
            reference["fieldPath"] = field_path
        source = {"component": self.component, **({"host": self.host} if self.host else {})}
        self._store.apply({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": event_name, "namespace": namespace},
            "involvedObject": reference,
            "reason": reason,
            "message": message,
            "type": event_type,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": source,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        })
        self._names[key] = (namespace, event_name)

    def _suffix(self) -> str:
        """client-go's `<name>.<hex of the time in ns>`: names sort in the order events happened, so
        lists (and `kubectl describe`, which keeps list order for equal timestamps) read in order.
        Strictly increasing across every recorder of the process."""
        global _last_ns
        stamp = max(int(self._now() * 1e9), _last_ns + 1)
        _last_ns = stamp
        return f"{stamp:x}"

    def forget(self, uid: str) -> None:
        """Drop the aggregation keys of an object that is gone (its Events stay in the store)."""
        self._names = {k: v for k, v in self._names.items() if k[3] != uid}
