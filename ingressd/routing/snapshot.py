"""The routing snapshot: everything a request decision reads, built purely from the store's objects.

`SnapshotBuilder.build(source)` turns the objects into an immutable `Snapshot` (route table,
endpoint index, per-pod name index, TLS table, HSTS and client limits of the controller ConfigMap).
Each part is memoised on the versions of the kinds it reads, so a pod becoming ready rebuilds the
endpoint index and nothing else, and an unchanged source gives back the very same snapshot (the
proxy then has nothing to swap). Warnings come back only when they are new: each once, again only
after it went away and came back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ingressd.routing.annotations import LocationConfig
from ingressd.routing.controller_config import ClientLimits, controller_config
from ingressd.routing.endpoints import EndpointIndex, build_endpoint_index
from ingressd.routing.gateway import EMPTY_MODEL, GatewayModel, build_gateway_model
from ingressd.routing.podnames import PodNameIndex, build_pod_name_index
from ingressd.routing.table import RouteTable, build_route_table
from ingressd.routing.tls import TlsTable, build_tls_table, hsts_value, with_gateway_certificates

# What the Gateway API model reads, in build_gateway_model's argument order.
GATEWAY_INPUTS = ("GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant", "Service", "Secret", "Namespace")
DEFAULT_HSTS = "max-age=31536000; includeSubDomains"  # ingress-nginx: hsts on, a year, subdomains


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the proxy routes with; replaced whole, never changed in place."""

    table: RouteTable
    endpoints: EndpointIndex
    tls: TlsTable = field(default_factory=TlsTable)
    pods: PodNameIndex = field(default_factory=PodNameIndex)
    hsts: str | None = DEFAULT_HSTS  # the Strict-Transport-Security value on HTTPS answers; None: off
    limits: ClientLimits = field(default_factory=ClientLimits)  # the ConfigMap's client-* keys
    gateway: GatewayModel = EMPTY_MODEL  # the Gateway API listeners, route tables and their status facts


class ObjectSource(Protocol):
    """What the builder reads: the store, or `ManifestObjects` for files not running."""

    def list(self, kind: str) -> list[dict]: ...

    def get(self, kind: str, namespace: str, name: str) -> dict | None: ...

    def kind_version(self, kind: str) -> int: ...


class ManifestObjects:
    """Loaded manifests as an ObjectSource (`ingressd explain -f`): a fixed set, version 0."""

    def __init__(self, objects: Iterable[dict]) -> None:
        self._by_kind: dict[str, list[dict]] = {}
        for obj in objects:
            self._by_kind.setdefault(obj.get("kind", ""), []).append(obj)

    def list(self, kind: str) -> list[dict]:
        return list(self._by_kind.get(kind, ()))

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        for obj in self._by_kind.get(kind, ()):
            meta = obj.get("metadata") or {}
            if meta.get("name") == name and (meta.get("namespace") or "default") == namespace:
                return obj
        return None

    def kind_version(self, kind: str) -> int:
        return 0


@dataclass(frozen=True)
class _Settings:
    """The controller ConfigMap's part: HSTS, client limits and location defaults."""

    hsts: str | None
    limits: ClientLimits
    location_defaults: LocationConfig


class SnapshotBuilder:
    """Builds snapshots for one ingress class and (optionally) one controller ConfigMap."""

    def __init__(self, ingress_class: str = "nginx", configmap: str | None = None) -> None:
        self.ingress_class = ingress_class
        self.configmap = configmap  # "namespace/name" (--configmap), or None
        self._parts: dict[str, tuple[tuple, object]] = {}
        self._warned: dict[str, frozenset[str]] = {}
        self._new_warnings: list[str] = []
        self._last: Snapshot | None = None

    def build(self, source: ObjectSource) -> tuple[Snapshot, list[str]]:
        """(the snapshot for `source` now, warnings not given before). The same Snapshot object
        as last time when no part changed."""
        self._new_warnings = []
        cm = self._configmap(source)
        cm_version = None if cm is None else (cm.get("metadata") or {}).get("resourceVersion", "")
        settings: _Settings = self._part("settings", (self.configmap, cm_version), lambda: self._settings(cm))
        v = source.kind_version
        table = self._part("routes", (v("Ingress"), v("IngressClass"), self.ingress_class, settings),
                           lambda: self._routes(source, settings.location_defaults))
        gateway_key = tuple(v(kind) for kind in GATEWAY_INPUTS)
        gateway = self._part("gateway", gateway_key, lambda: self._gateway(source))
        tls = self._part("tls", (v("Ingress"), v("IngressClass"), v("Secret"), self.ingress_class, gateway_key),
                         lambda: self._tls(source, gateway))
        endpoints, pods = self._part("endpoints", (v("Service"), v("EndpointSlice"), v("Endpoints")),
                                     lambda: self._endpoints(source))
        last = self._last
        if last is not None and last.table is table and last.endpoints is endpoints and last.tls is tls \
                and last.pods is pods and last.hsts == settings.hsts and last.limits == settings.limits \
                and last.gateway is gateway:
            return last, self._new_warnings
        self._last = Snapshot(table, endpoints, tls, pods, settings.hsts, settings.limits, gateway)
        return self._last, self._new_warnings

    def _part(self, name: str, key: tuple, make: Callable[[], object]):
        memo = self._parts.get(name)
        if memo is not None and memo[0] == key:
            return memo[1]
        value = make()
        self._parts[name] = (key, value)
        return value

    def _warn(self, source: str, messages: list[str]) -> None:
        """Keep the warnings `source` has now; those it did not have last time are new."""
        previous = self._warned.get(source, frozenset())
        self._new_warnings += [m for m in dict.fromkeys(messages) if m not in previous]
        self._warned[source] = frozenset(messages)

    def _configmap(self, source: ObjectSource) -> dict | None:
        if not self.configmap:
            return None
        namespace, _, name = self.configmap.rpartition("/")
        return source.get("ConfigMap", namespace or "default", name)

    def _settings(self, cm: dict | None) -> _Settings:
        warnings = []
        if self.configmap and cm is None:
            warnings.append(f"ingressd: warning: --configmap {self.configmap}: no such ConfigMap; defaults apply")
        data = (cm or {}).get("data")
        hsts, problems = hsts_value(data)
        config, more = controller_config(data)
        warnings += [f"ingressd: warning: ConfigMap {self.configmap}: {p}" for p in [*problems, *more]]
        self._warn("configmap", warnings)
        return _Settings(hsts, config.limits, config.location_defaults)

    def _routes(self, source: ObjectSource, defaults: LocationConfig) -> RouteTable:
        return build_route_table(source.list("Ingress"), source.list("IngressClass"), self.ingress_class, defaults)

    def _tls(self, source: ObjectSource, gateway: GatewayModel) -> TlsTable:
        secrets = source.list("Secret")
        table = build_tls_table(source.list("Ingress"), secrets, source.list("IngressClass"), self.ingress_class)
        certificates = [c for t in gateway.ports.values() for c in t.certificates]
        table = with_gateway_certificates(table, certificates, secrets)
        self._warn("tls", [f"ingressd: warning: Ingress {ns}/{name}: {where}: {message}"
                           for ns, name, where, message in table.warnings])
        return table

    def _gateway(self, source: ObjectSource) -> GatewayModel:
        """The Gateway API model; rebuilt when a Gateway API object, a Service (backendRefs name
        Service ports), a Secret (certificateRefs) or a Namespace (allowedRoutes selectors) changes."""
        if not any(source.list(kind) for kind in ("GatewayClass", "Gateway")):
            self._warn("gateway", [])
            return EMPTY_MODEL
        model = build_gateway_model(*(source.list(kind) for kind in GATEWAY_INPUTS))
        self._warn("gateway", [f"ingressd: warning: {p}" for p in model.problems])
        return model

    def _endpoints(self, source: ObjectSource) -> tuple[EndpointIndex, PodNameIndex]:
        """The endpoint index and the per-pod name index, from the same objects."""
        services, slices = source.list("Service"), source.list("EndpointSlice")
        return build_endpoint_index(services, slices, source.list("Endpoints")), build_pod_name_index(services, slices)
