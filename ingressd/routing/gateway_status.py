"""The status of GatewayClasses, Gateways and HTTPRoutes, as the upstream conformance suite
expects it, computed purely from the same `GatewayModel` the proxy routes with.

`gateway_statuses(model, objects, now, address, unbound)` -> {(kind, namespace, name): status}
for the objects whose status ingressd owns (classes with our controllerName, Gateways of those
classes, HTTPRoutes with a parentRef to one of those Gateways; the parents[] entries of other
controllers are kept as they are). A condition keeps its lastTransitionTime while its status does
not change, as meta.SetStatusCondition does.
"""

from __future__ import annotations

from collections.abc import Iterable

from ingressd.routing.gateway import CONTROLLER_NAME, GROUP, GatewayModel, Listener

_KIND_ORDER = ("GatewayClass", "Gateway", "HTTPRoute")


def _condition(kind: str, ok: bool, reason: str, message: str, generation: int, now: str,
               previous: list) -> dict:
    status = "True" if ok else "False"
    since = now
    for old in previous or ():
        if isinstance(old, dict) and old.get("type") == kind and old.get("status") == status \
                and isinstance(old.get("lastTransitionTime"), str):
            since = old["lastTransitionTime"]
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": since, "observedGeneration": generation}


def _old(obj: dict | None) -> dict:
    status = (obj or {}).get("status")
    return status if isinstance(status, dict) else {}


def listener_status(lst: Listener, attached: int, generation: int, now: str, previous: list,
                    unbound: str | None = None) -> dict:
    def cond(kind, ok, reason, message):
        return _condition(kind, ok, reason, message, generation, now, previous)
    if lst.unsupported:
        accepted = cond("Accepted", False, "UnsupportedProtocol", lst.unsupported)
    elif unbound:
        accepted = cond("Accepted", False, "PortUnavailable", unbound)
    else:
        accepted = cond("Accepted", True, "Accepted", "the listener is accepted")
    if lst.conflict:
        conflicted = cond("Conflicted", True, lst.conflict[0], lst.conflict[1])
    else:
        conflicted = cond("Conflicted", False, "NoConflicts", "no conflicts")
    if lst.cert_problem:
        resolved = cond("ResolvedRefs", False, *lst.cert_problem)
    else:
        resolved = cond("ResolvedRefs", True, "ResolvedRefs", "all references resolved")
    if unbound:
        programmed = cond("Programmed", False, "PortUnavailable", unbound)
    elif not lst.valid:
        programmed = cond("Programmed", False, "Invalid", "the listener is not valid")
    else:
        programmed = cond("Programmed", True, "Programmed", "the listener is served")
    return {"name": lst.name, "supportedKinds": [{"group": GROUP, "kind": k} for k in lst.kinds],
            "attachedRoutes": attached, "conditions": [accepted, programmed, resolved, conflicted]}


def gateway_statuses(model: GatewayModel, gateway_classes: Iterable[dict], gateways: Iterable[dict],
                     routes: Iterable[dict], now: str, address: str = "127.0.0.1",
                     unbound: dict[int, str] | None = None,
                     controller: str = CONTROLLER_NAME) -> dict[tuple[str, str, str], dict]:
    """The status ingressd writes, per (kind, namespace, name); `unbound`: listener port -> why it
    could not be bound (PortUnavailable)."""
    unbound = unbound or {}
    out: dict[tuple[str, str, str], dict] = {}
    for gc in gateway_classes:
        meta = gc.get("metadata") or {}
        name = meta.get("name", "")
        if name not in model.classes:
            continue
        gen = meta.get("generation", 1)
        prev = _old(gc).get("conditions") or []
        out[("GatewayClass", "", name)] = {"conditions": [
            _condition("Accepted", True, "Accepted", f"handled by {controller}", gen, now, prev),
            _condition("SupportedVersion", True, "SupportedVersion", "gateway.networking.k8s.io/v1 is supported",
                       gen, now, prev)]}
    by_key = {((g.get("metadata") or {}).get("namespace") or "default", (g.get("metadata") or {}).get("name", "")): g
              for g in gateways}
    for gw in model.gateways:
        obj = by_key.get((gw.namespace, gw.name))
        old = _old(obj)
        prev = old.get("conditions") or []
        old_listeners = {ls.get("name"): ls.get("conditions") or [] for ls in old.get("listeners") or []
                         if isinstance(ls, dict)}
        listeners = [listener_status(lst, gw.attached.get(lst.name, 0), gw.generation, now,
                                     old_listeners.get(lst.name, []), unbound.get(lst.port)) for lst in gw.listeners]
        good = [lst for lst in gw.listeners if lst.valid and lst.port not in unbound]
        bad = len(good) != len(gw.listeners)
        if not gw.listeners or good:
            accepted = _condition("Accepted", True, "ListenersNotValid" if bad else "Accepted",
                                  "some listeners are not valid" if bad else "the gateway is accepted",
                                  gw.generation, now, prev)
            programmed = _condition("Programmed", True, "Programmed", f"served on {address}", gw.generation, now, prev)
        else:
            accepted = _condition("Accepted", False, "ListenersNotValid", "no listener is valid",
                                  gw.generation, now, prev)
            programmed = _condition("Programmed", False, "Invalid", "no listener can be served",
                                    gw.generation, now, prev)
        out[("Gateway", gw.namespace, gw.name)] = {
            "addresses": [{"type": "IPAddress", "value": address}],
            "conditions": [accepted, programmed], "listeners": listeners}
    route_objs = {((r.get("metadata") or {}).get("namespace") or "default", (r.get("metadata") or {}).get("name", "")): r
                  for r in routes}
    for route in model.routes:
        if not route.parents:
            continue
        obj = route_objs.get((route.namespace, route.name))
        old_parents = [p for p in _old(obj).get("parents") or [] if isinstance(p, dict)]
        parents = []
        for parent in route.parents:
            prev = next((p.get("conditions") or [] for p in old_parents
                         if p.get("controllerName") == controller and p.get("parentRef") == parent.parent_ref), [])
            ok, reason, message = parent.accepted
            parents.append({"parentRef": parent.parent_ref, "controllerName": controller, "conditions": [
                _condition("Accepted", ok, reason, message, route.generation, now, prev),
                _condition("ResolvedRefs", *route.resolved, route.generation, now, prev)]})
        others = [p for p in old_parents if p.get("controllerName") != controller]
        out[("HTTPRoute", route.namespace, route.name)] = {"parents": others + parents}
    return out


def status_changed(old: dict | None, new: dict) -> bool:
    """Whether writing `new` changes anything (the reconciler writes only then)."""
    return (old or {}) != new
