"""The Gateway API status reconciler (pure): GatewayClass Accepted, Gateway Accepted/Programmed with
addresses and per-listener conditions, HTTPRoute status.parents[] — computed by
ingressd.routing.gateway_status from the very model the proxy routes with, and written only where
it changed (so writing it settles: the next pass finds nothing to write).

The app runs it after each routing refresh (`Ingressd.refresh_routing`), with the listener ports
that could not be bound (their listeners: Programmed False, reason PortUnavailable).
"""

from __future__ import annotations

from ingressd.cluster.clock import format_timestamp
from ingressd.routing.gateway import GatewayModel
from ingressd.routing.gateway_status import gateway_statuses


def gateway_status_writes(model: GatewayModel, source, now: float, address: str = "127.0.0.1",
                          unbound: dict[int, str] | None = None) -> list[tuple[str, str, str, dict]]:
    """[(kind, namespace, name, status)] to write: those whose status differs from the stored one.
    `source` lists objects by kind (the Store)."""
    if not model.classes:
        return []
    classes, gateways, routes = source.list("GatewayClass"), source.list("Gateway"), source.list("HTTPRoute")
    statuses = gateway_statuses(model, classes, gateways, routes, format_timestamp(now), address, unbound)
    stored = {}
    for kind, objs in (("GatewayClass", classes), ("Gateway", gateways), ("HTTPRoute", routes)):
        for obj in objs:
            meta = obj.get("metadata") or {}
            ns = "" if kind == "GatewayClass" else meta.get("namespace") or "default"
            stored[(kind, ns, meta.get("name", ""))] = obj.get("status") or {}
    writes = []
    for key, status in statuses.items():
        old = stored.get(key)
        if old is None:
            continue  # gone meanwhile
        merged = {**old, **status}  # fields ingressd does not own stay
        if merged != old:
            writes.append((*key, merged))
    return writes
