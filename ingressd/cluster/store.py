"""The one place cluster state lives: every object, user-written or derived, with watch.

Objects are plain dicts in Kubernetes JSON shape. The store behaves like a (tiny) kube-apiserver
where that matters to controllers and clients:

- `metadata.uid`, `resourceVersion` (one global counter, as a string), `creationTimestamp` and
  `generation` are owned by the store; `generation` bumps only when something other than
  metadata/status changes, so controllers can compare it with `status.observedGeneration`.
- `apply` is create-or-replace. An object given without `status` keeps the stored status (status
  is a subresource in Kubernetes, so re-applying a manifest does not wipe it). Replacing with an
  identical object is a no-op: no new resourceVersion, no event. That keeps controllers quiescent.
- An object written at another version its kind is served at (an HTTPRoute at
  gateway.networking.k8s.io/v1beta1) is stored at the kind's storage version: one object per name
  whatever version wrote it (ingressd.apimachinery.conversion).
- Deleting a pod that a kubelet runs (`spec.nodeName` set, not finished) is graceful: the store
  sets `deletionTimestamp`/`deletionGracePeriodSeconds` and the kubelet removes the object once
  the containers stopped (`delete(..., grace_period_seconds=0)`). Everything else goes at once.

Pure and synchronous: subscribers are called inline, in order, with their own copy.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable

from ingressd.cluster.clock import Clock, format_timestamp, time_source
from ingressd.cluster.labels import labels_match
from ingressd.cluster import namespaces
from ingressd.apimachinery.conversion import to_storage_version
from ingressd.apimachinery.defaults import default_object, service_ip_allocator
from ingressd.kinds import is_cluster_scoped

Callback = Callable[[str, dict], None]

DEFAULT_TERMINATION_GRACE_SECONDS = 30
_TERMINAL_POD_PHASES = ("Succeeded", "Failed")
_STORE_OWNED_METADATA = ("uid", "creationTimestamp", "generation", "resourceVersion")


def _new_uid() -> str:
    return str(uuid.uuid4())


HISTORY_EVENTS = 1000  # watch history kept for resourceVersion resumption (the API server keeps ~5 min)


class Store:
    def __init__(
        self,
        clock: Clock | Callable[[], float] = time.time,
        new_uid: Callable[[], str] = _new_uid,
        history: int = HISTORY_EVENTS,
    ) -> None:
        self._now = time_source(clock)
        self._new_uid = new_uid
        self._objects: dict[str, dict[tuple[str, str], dict]] = {}
        self._subscribers: list[Callback] = []
        self._history: deque[tuple[int, str, dict]] = deque(maxlen=history)
        self.resource_version = 0
        self._kind_versions: dict[str, int] = {}
        self._history_floor = 0  # watch history before this resourceVersion is gone (restored state)
        self._service_ips: set[str] | None = None  # _used_service_ips(); None: to be computed
        # Changes that may leave an object without its owners (the garbage collector's business): a
        # delete, or a write of an object with ownerReferences, a deletionTimestamp or finalizers.
        self.owner_changes = 0

    # -- reads -------------------------------------------------------------------------------

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        obj = self._objects.get(kind, {}).get((_namespace_key(kind, namespace), name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, kind: str, namespace: str | None = None, selector: dict | None = None) -> list[dict]:
        """Objects of `kind`, sorted by namespace/name; `selector` is matchLabels-style equality."""
        found = []
        for (ns, name), obj in sorted(self._objects.get(kind, {}).items()):
            if namespace is not None and ns != _namespace_key(kind, namespace):
                continue
            if selector and not labels_match(selector, obj["metadata"].get("labels") or {}):
                continue
            found.append(copy.deepcopy(obj))
        return found

    def list_stored(self, kind: str) -> list[dict]:
        """The stored objects of `kind` themselves, sorted by namespace/name, without a copy: for
        readers that only look (stored objects are never changed in place; the caller must not
        change them either)."""
        return [obj for _, obj in sorted(self._objects.get(kind, {}).items())]

    def freeze(self, kinds: Iterable[str]) -> StoreView:
        """An immutable view of `kinds` as they are now, for a reader on another thread (the
        routing snapshot builder): the buckets are copied (not the objects, which are never
        changed in place), so later writes do not show through."""
        return StoreView({kind: dict(self._objects.get(kind, {})) for kind in kinds},
                         {kind: self._kind_versions.get(kind, 0) for kind in kinds})

    def _service_ip_allocator(self, namespace: str, name: str):
        def allocate() -> str:  # only for a Service without a clusterIP: most applies never call it
            return service_ip_allocator(self._used_service_ips(), f"{namespace}/{name}")()
        return allocate

    def _used_service_ips(self) -> set[str]:
        """The clusterIPs in use; kept up to date as Services are added (an allocation adds its
        address), computed again after a Service changed or went away."""
        if self._service_ips is None:
            self._service_ips = {ip for svc in self._objects.get("Service", {}).values()
                                 for ip in ((svc.get("spec") or {}).get("clusterIPs") or [])}
        return self._service_ips

    def kind_version(self, kind: str) -> int:
        """The resourceVersion of the last change to an object of `kind` (0: never changed): what
        a cache of anything built from one kind's objects is keyed on."""
        return self._kind_versions.get(kind, 0)

    def kinds(self) -> list[str]:
        """Kinds with at least one object (the garbage collector walks them all)."""
        return sorted(kind for kind, objs in self._objects.items() if objs)

    # -- restore -----------------------------------------------------------------------------

    def restore(self, objects: list[dict], resource_version: int) -> None:
        """Fill an empty store with `objects` (handed over, not copied) as they were stored before
        (uid, resourceVersion, creationTimestamp, generation and status kept) and continue the
        resourceVersion counter from `resource_version` (never below the newest object's). No
        subscriber is called and no watch history exists before it: a watch from an older
        resourceVersion is "too old"."""
        if self.resource_version or any(self._objects.values()):
            raise RuntimeError("restore() fills an empty store only")
        newest = resource_version
        for obj in objects:
            kind, meta = _identify(obj)
            for field in _STORE_OWNED_METADATA:
                if field not in meta:
                    raise ValueError(f"{kind} {meta.get('namespace', '')}/{meta['name']}: no metadata.{field}")
            rv = int(meta["resourceVersion"])
            newest = max(newest, rv)
            key = (_namespace_key(kind, meta.get("namespace")), meta["name"])
            self._objects.setdefault(kind, {})[key] = obj  # never changed in place, as every stored object
        self.resource_version = newest
        self._history_floor = newest
        self._service_ips = None
        self.owner_changes += 1
        for kind in self._objects:
            self._kind_versions[kind] = newest

    # -- writes ------------------------------------------------------------------------------

    def apply(self, obj: dict, copy_result: bool = True) -> dict | None:
        """Create or replace the object with the same (kind, namespace, name); return the stored copy
        (None with `copy_result=False`: a writer that does not read it back saves the copy)."""
        new = to_storage_version(copy.deepcopy(obj))  # one object whatever version it was written at
        kind, meta = _identify(new)
        namespace = _namespace_key(kind, meta.get("namespace"))
        if kind == "Service":
            old_spec = (self._objects.get(kind, {}).get((namespace, meta["name"])) or {}).get("spec") or {}
            spec = new.get("spec") if isinstance(new.get("spec"), dict) else {}
            if old_spec.get("clusterIP") and not spec.get("clusterIP") and spec.get("type") != "ExternalName":
                spec["clusterIP"] = old_spec["clusterIP"]  # kept across updates, as the registry does
                spec.setdefault("clusterIPs", old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
        default_object(new, self._service_ip_allocator(namespace, meta["name"]) if kind == "Service" else None)
        if is_cluster_scoped(kind):
            meta.pop("namespace", None)
        else:
            meta["namespace"] = namespace
        bucket = self._objects.setdefault(kind, {})
        key = (namespace, meta["name"])
        old = bucket.get(key)

        if kind == "Namespace":  # the namespace strategy's PrepareForCreate / PrepareForUpdate
            namespaces.prepare_create(new) if old is None else namespaces.prepare_update(new, old)
        if old is None:
            for field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(field, None)  # an object is never created already terminating
            meta["uid"] = self._new_uid()
            meta["creationTimestamp"] = format_timestamp(self._now())
            meta["generation"] = 1
            meta["resourceVersion"] = self._next_resource_version()
            bucket[key] = new
            self._notify("ADDED", new)
            return copy.deepcopy(new) if copy_result else None

        old_meta = old["metadata"]
        for field in _STORE_OWNED_METADATA:
            meta[field] = old_meta[field]
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            # Once terminating, always terminating: a replace can neither set nor clear it.
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        if "status" not in new and "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        if _desired_state(new) != _desired_state(old):
            meta["generation"] = old_meta["generation"] + 1
        if new == old:
            return copy.deepcopy(old) if copy_result else None
        meta["resourceVersion"] = self._next_resource_version()
        bucket[key] = new
        self._notify("MODIFIED", new)
        return copy.deepcopy(new) if copy_result else None

    def update_status(self, kind: str, namespace: str, name: str, status: dict) -> dict | None:
        """Replace only `status` (never bumps generation); None if the object does not exist."""
        key = (_namespace_key(kind, namespace), name)
        old = self._objects.get(kind, {}).get(key)
        if old is None:
            return None
        if old.get("status") == status:
            return copy.deepcopy(old)
        new = {**old, "status": copy.deepcopy(status), "metadata": dict(old["metadata"])}
        new["metadata"]["resourceVersion"] = self._next_resource_version()
        self._objects[kind][key] = new
        self._notify("MODIFIED", new)
        return copy.deepcopy(new)

    def delete(
        self, kind: str, namespace: str, name: str, grace_period_seconds: int | None = None
    ) -> dict | None:
        """Delete, or for a running pod start graceful termination; returns the object, None if absent.

        `grace_period_seconds` None means the object's default (a scheduled pod's
        spec.terminationGracePeriodSeconds, 30 if unset; 0 for everything else).
        """
        key = (_namespace_key(kind, namespace), name)
        old = self._objects.get(kind, {}).get(key)
        if old is None:
            return None
        if kind == "Namespace" and (not namespaces.is_terminating(old) or (old.get("spec") or {}).get("finalizers")):
            # The first DELETE marks it Terminating; the lifecycle controller removes its content,
            # then its finalizer, then deletes it again, which removes it.
            if namespaces.is_terminating(old):
                return copy.deepcopy(old)  # still finalizing
            new = namespaces.terminate(old, self._now())
            new["metadata"]["resourceVersion"] = self._next_resource_version()
            self._objects[kind][key] = new
            self._notify("MODIFIED", new)
            return copy.deepcopy(new)
        grace = _grace_period(old) if grace_period_seconds is None else max(0, int(grace_period_seconds))
        if kind == "Pod" and _runs_nowhere(old):
            grace = 0  # whatever grace was asked, as kube-apiserver decides
        if grace > 0:
            meta = old["metadata"]
            current = meta.get("deletionGracePeriodSeconds")
            if current is not None and current <= grace:
                return copy.deepcopy(old)  # already terminating at least this fast
            new = {**old, "metadata": dict(meta)}
            new["metadata"]["deletionTimestamp"] = format_timestamp(self._now() + grace)
            new["metadata"]["deletionGracePeriodSeconds"] = grace
            new["metadata"]["resourceVersion"] = self._next_resource_version()
            self._objects[kind][key] = new
            self._notify("MODIFIED", new)
            return copy.deepcopy(new)
        del self._objects[kind][key]
        gone = {**old, "metadata": dict(old["metadata"])}
        gone["metadata"]["resourceVersion"] = self._next_resource_version()
        self._notify("DELETED", gone)
        return copy.deepcopy(gone)

    # -- watch -------------------------------------------------------------------------------

    def subscribe(self, callback: Callback, copy_objects: bool = True) -> Callable[[], None]:
        """Call `callback(event_type, obj_copy)` after every change; returns an unsubscribe function.
        `copy_objects=False`: the callback gets the stored object itself, which it must not change
        (stored objects are never changed in place, so it may keep it)."""
        entry = callback if copy_objects else _Uncopied(callback)
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)

        return unsubscribe

    def events_since(self, resource_version: int) -> list[tuple[str, dict]] | None:
        """Watch events after `resource_version`, oldest first; None when history no longer
        reaches back that far (the API server answers 410 Gone: "too old resource version")."""
        if self._history and len(self._history) == self._history.maxlen \
                and resource_version < self._history[0][0] - 1:
            return None
        if resource_version < self._history_floor:
            return None
        return [(event_type, copy.deepcopy(obj)) for rv, event_type, obj in self._history if rv > resource_version]

    def oldest_resource_version(self) -> int:
        if self._history:
            return self._history[0][0]
        return self._history_floor + 1 if self._history_floor else self.resource_version

    def _notify(self, event_type: str, obj: dict) -> None:
        # Stored objects are never mutated in place (writes build new dicts), so history can hold
        # the same reference: it costs memory only for versions that have been superseded.
        self._history.append((self.resource_version, event_type, obj))
        self._kind_versions[obj["kind"]] = self.resource_version
        meta = obj["metadata"]
        if event_type == "DELETED" or "ownerReferences" in meta or "deletionTimestamp" in meta or "finalizers" in meta:
            self.owner_changes += 1
        if obj["kind"] == "Service" and self._service_ips is not None:
            if event_type == "ADDED":
                self._service_ips.update((obj.get("spec") or {}).get("clusterIPs") or ())
            else:
                self._service_ips = None  # an address may have been given up
        for callback in list(self._subscribers):
            if isinstance(callback, _Uncopied):
                callback.callback(event_type, obj)
            else:
                callback(event_type, copy.deepcopy(obj))

    def _next_resource_version(self) -> str:
        self.resource_version += 1
        return str(self.resource_version)


class StoreView:
    """Some kinds of a store at one moment (Store.freeze): an ObjectSource for the snapshot
    builder that later writes do not change. Objects are shared with the store: read only."""

    __slots__ = ("_objects", "_versions")

    def __init__(self, objects: dict[str, dict[tuple[str, str], dict]], versions: dict[str, int]) -> None:
        self._objects = objects
        self._versions = versions

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        return self._bucket(kind).get((_namespace_key(kind, namespace), name))

    def list(self, kind: str) -> list[dict]:
        return [obj for _, obj in sorted(self._bucket(kind).items())]

    def kind_version(self, kind: str) -> int:
        self._bucket(kind)
        return self._versions[kind]

    def _bucket(self, kind: str) -> dict:
        bucket = self._objects.get(kind)
        if bucket is None:
            raise KeyError(f"{kind} is not in this view (Store.freeze)")
        return bucket


class _Uncopied:
    """A subscriber that reads the stored objects without a copy of its own."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callback) -> None:
        self.callback = callback


def _identify(obj: dict) -> tuple[str, dict]:
    kind = obj.get("kind")
    meta = obj.get("metadata")
    if not isinstance(kind, str) or not kind:
        raise ValueError("object has no kind")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise ValueError(f"{kind} has no metadata.name")
    return kind, meta


def _namespace_key(kind: str, namespace: str | None) -> str:
    if is_cluster_scoped(kind):
        return ""
    return namespace or "default"


def _desired_state(obj: dict) -> dict:
    return {key: value for key, value in obj.items() if key not in ("metadata", "status")}


def _runs_nowhere(pod: dict) -> bool:
    """Unscheduled or finished: nothing runs it, so a deletion has nothing to wait for."""
    return not (pod.get("spec") or {}).get("nodeName") or (pod.get("status") or {}).get("phase") in _TERMINAL_POD_PHASES


def _grace_period(obj: dict) -> int:
    if obj.get("kind") != "Pod" or _runs_nowhere(obj):
        return 0
    spec = obj.get("spec") or {}
    grace = spec.get("terminationGracePeriodSeconds")
    return DEFAULT_TERMINATION_GRACE_SECONDS if grace is None else max(0, int(grace))
