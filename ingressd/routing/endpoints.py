"""Ingress backend -> ready pod addresses, the way ingress-nginx reads EndpointSlices.

The index is computed eagerly from Services, EndpointSlices and legacy Endpoints, keyed by
(namespace, service, port as written in the Ingress: number or name), so a request pays one dict
lookup. It is rebuilt when endpoints change; the route table is not (ARCHITECTURE.md).
Slice ports are matched to the Service port by *name* (which is how a named targetPort resolves:
the slice carries the number), falling back to a numeric targetPort (ingress-nginx #7390).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ingressd.routing.table import BackendRef

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    pod: str | None = None  # pod name from targetRef
    address: str = field(init=False, repr=False, compare=False)  # "ip:port", "[v6]:port"

    def __post_init__(self) -> None:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        object.__setattr__(self, "address", f"{host}:{self.port}")


class EndpointIndex:
    __slots__ = ("_by_port", "_external", "_addresses")

    def __init__(
        self,
        by_port: dict[tuple[str, str, int | str], tuple[Endpoint, ...]],
        external_without_ports: dict[tuple[str, str], str] | None = None,
    ) -> None:
        self._by_port = by_port
        self._external = external_without_ports or {}
        self._addresses: frozenset[str] | None = None

    def addresses(self) -> frozenset[str]:
        """Every endpoint address ("ip:port") any Service routes to: the proxy keeps pooled
        connections only to these."""
        if self._addresses is None:
            self._addresses = frozenset(ep.address for eps in self._by_port.values() for ep in eps)
        return self._addresses

    def resolve(self, ref: BackendRef) -> tuple[Endpoint, ...] | None:
        """None: the Service or its port does not exist (503 and a warning); (): nothing ready (503)."""
        found = self._by_port.get((ref.namespace, ref.service, ref.port))
        if found is not None:
            return found
        external = self._external.get((ref.namespace, ref.service))
        if external is not None and isinstance(ref.port, int):
            return (Endpoint(external, ref.port),)  # ExternalName without ports: the Ingress port
        return None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _port_number(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    return None


def _is_tcp(port: dict) -> bool:
    return port.get("protocol") in (None, "TCP")


def _meta(obj: dict) -> tuple[str, str]:
    meta = _dict(obj.get("metadata"))
    namespace, name = meta.get("namespace"), meta.get("name")
    return (namespace if isinstance(namespace, str) and namespace else "default"), (name if isinstance(name, str) else "")


def _target_ports(endpoint_ports: list, service_port: dict) -> list[int]:
    """The pod ports a Service port maps to in one slice / Endpoints subset."""
    name = service_port.get("name") or ""
    target = service_port.get("targetPort", service_port.get("port"))
    numeric_target = _port_number(target)
    if not endpoint_ports:
        return [numeric_target] if numeric_target is not None else []
    ports: list[int] = []
    for port in map(_dict, endpoint_ports):
        if _is_tcp(port) and (not name or name == (port.get("name") or "")):
            number = _port_number(port.get("port"))
            if number is not None and number not in ports:
                ports.append(number)
    if not ports and numeric_target is not None:
        # ingress-nginx #7390; it adds the targetPort for every unmatched port, which only
        # differs from this when the slice contradicts the Service.
        ports.append(numeric_target)
    return ports


def _pod_name(target_ref: Any) -> str | None:
    ref = _dict(target_ref)
    name = ref.get("name")
    if isinstance(name, str) and ref.get("kind") in (None, "Pod"):
        return name
    return None


def _add(out: list[Endpoint], seen: set[tuple[str, int]], addresses: Iterable, ports: list[int], pod: str | None) -> None:
    for port in ports:
        for ip in addresses:
            if isinstance(ip, str) and ip and (ip, port) not in seen:
                seen.add((ip, port))
                out.append(Endpoint(ip, port, pod))


def _from_slices(slices: list[dict], service_port: dict, not_ready: bool = False) -> tuple[Endpoint, ...]:
    out: list[Endpoint] = []
    seen: set[tuple[str, int]] = set()
    for endpoint_slice in slices:
        ports = _target_ports(_list(endpoint_slice.get("ports")), service_port)
        for endpoint in map(_dict, _list(endpoint_slice.get("endpoints"))):
            conditions = _dict(endpoint.get("conditions"))
            ready = conditions.get("ready")
            if conditions.get("terminating") is True or (not not_ready and ready is not None and ready is not True):
                continue
            _add(out, seen, _list(endpoint.get("addresses")), ports, _pod_name(endpoint.get("targetRef")))
    return tuple(out)


def _from_legacy(endpoints: dict, service_port: dict, not_ready: bool = False) -> tuple[Endpoint, ...]:
    out: list[Endpoint] = []
    seen: set[tuple[str, int]] = set()
    for subset in map(_dict, _list(endpoints.get("subsets"))):
        ports = _target_ports(_list(subset.get("ports")), service_port)
        addresses = _list(subset.get("addresses")) + (_list(subset.get("notReadyAddresses")) if not_ready else [])
        for address in map(_dict, addresses):  # notReadyAddresses only with not_ready
            _add(out, seen, [address.get("ip")], ports, _pod_name(address.get("targetRef")))
    return tuple(out)


def build_endpoint_index(services: list[dict], endpoint_slices: list[dict], endpoints: list[dict],
                         not_ready: bool = False) -> EndpointIndex:
    """EndpointSlices (by the kubernetes.io/service-name label) when a Service has any, else the
    legacy Endpoints object of the same name (selectorless Services written by hand).

    `not_ready`: keep endpoints that are not ready yet too (terminating ones never), for the
    "ready/total" counts of `ingressd routes`; the proxy's index is always built without."""
    slices: dict[tuple[str, str], list[dict]] = {}
    for endpoint_slice in sorted((s for s in endpoint_slices if isinstance(s, dict)), key=_meta):
        service = _dict(_dict(endpoint_slice.get("metadata")).get("labels")).get(SERVICE_NAME_LABEL)
        if isinstance(service, str) and service:
            slices.setdefault((_meta(endpoint_slice)[0], service), []).append(endpoint_slice)
    legacy = {_meta(e): e for e in endpoints if isinstance(e, dict)}

    by_port: dict[tuple[str, str, int | str], tuple[Endpoint, ...]] = {}
    external: dict[tuple[str, str], str] = {}
    for service in services:
        if not isinstance(service, dict):
            continue
        key = _meta(service)
        spec = _dict(service.get("spec"))
        ports = [p for p in map(_dict, _list(spec.get("ports"))) if _is_tcp(p) and _port_number(p.get("port"))]
        external_name = spec.get("externalName") if spec.get("type") == "ExternalName" else None
        if external_name is not None and not ports:
            if isinstance(external_name, str) and external_name:
                external[key] = external_name
            continue
        for port in ports:
            if external_name is not None:
                if not isinstance(external_name, str) or not external_name:
                    found: tuple[Endpoint, ...] = ()
                else:
                    target = _port_number(port.get("targetPort")) or port["port"]
                    found = (Endpoint(external_name, target),)
            elif key in slices:
                found = _from_slices(slices[key], port, not_ready)
            elif key in legacy:
                found = _from_legacy(legacy[key], port, not_ready)
            else:
                found = ()
            by_port.setdefault((*key, port["port"]), found)
            name = port.get("name")
            if isinstance(name, str) and name:
                by_port.setdefault((*key, name), found)
    return EndpointIndex(by_port, external)
