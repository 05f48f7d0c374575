"""`ingressd explain`: the decision chain for one request against the loaded manifests.

Pure: the same route table, endpoint index and canary decision the proxy uses, printed as
sentences. A weight decision is described as a probability instead of being drawn.
"""

from __future__ import annotations

from collections.abc import Mapping

from ingressd.routing.canary import decide_canary
from ingressd.routing.endpoints import build_endpoint_index
from ingressd.routing.hosts import normalize_host
from ingressd.routing.table import build_route_table


class _WeightDraw(Exception):
    """Raised by the explaining randint: the decision reached the weighted draw."""


def _no_draw(low: int, high: int) -> int:
    raise _WeightDraw


def _by_kind(objects: list[dict]) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for obj in objects:
        kinds.setdefault(obj.get("kind", ""), []).append(obj)
    return kinds


def _host_kind(rule_host: str) -> str:
    if not rule_host:
        return "catch-all (rule without host)"
    return "wildcard host" if rule_host.startswith("*.") else "exact host"


def _describe_endpoints(ref, index, kinds: dict[str, list[dict]]) -> list[str]:
    endpoints = index.resolve(ref)
    if endpoints is None:
        return [f"  service {ref.namespace}/{ref.service} (port {ref.port}) not found: requests get 503"]
    if endpoints:
        return ["  endpoint candidates: " + ", ".join(e.address + (f" ({e.pod})" if e.pod else "")
                                                 for e in endpoints)]
    service = next((s for s in kinds.get("Service", [])
                    if s["metadata"]["name"] == ref.service
                    and s["metadata"].get("namespace", "default") == ref.namespace), None)
    selector = ((service or {}).get("spec") or {}).get("selector")
    if selector:
        owners = []
        for deploy in kinds.get("Deployment", []):
            labels = (((deploy.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
            if all(labels.get(k) == v for k, v in selector.items()):
                replicas = (deploy.get("spec") or {}).get("replicas", 1)
                owners.append(f"Deployment {deploy['metadata'].get('namespace', 'default')}/"
                              f"{deploy['metadata']['name']} (replicas: {replicas})")
        who = ", ".join(owners) if owners else "no Deployment in the manifests matches the selector"
        return [f"  endpoint candidates: the ready pods of selector {selector} once `ingressd run` starts them: {who}"]
    return ["  no ready endpoints: requests get 503"]


def explain(objects: list[dict], host: str, path: str, headers: Mapping[str, str] | None = None,
            cookies: Mapping[str, str] | None = None, ingress_class: str = "nginx") -> tuple[list[str], int]:
    """(lines to print, exit status): 0 when a route matches, 1 when nothing does."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    cookies = dict(cookies or {})
    kinds = _by_kind(objects)
    table = build_route_table(kinds.get("Ingress", []), kinds.get("IngressClass", []), ingress_class)
    index = build_endpoint_index(kinds.get("Service", []), kinds.get("EndpointSlice", []),
                                 kinds.get("Endpoints", []))
    lines = [f"request: host {host!r} path {path!r}"
             + "".join(f", header {k}: {v}" for k, v in headers.items())
             + "".join(f", cookie {k}={v}" for k, v in cookies.items())]
    match = table.match(host, path)
    if match is None:
        served = sorted({loc.host or "*" for loc in table.locations})
        lines.append(f"no rule matches: the default backend answers 404 (hosts served: {', '.join(served) or 'none'})")
        return lines, 1
    loc = match.location
    siblings = [f"{o.path} ({o.path_type})" for o in table.locations if o.host == loc.host and o is not loc]
    lines.append(f"matched: Ingress {loc.ingress_namespace}/{loc.ingress_name}, {_host_kind(loc.host)} "
                 f"{loc.host or '*'!r} (request host {normalize_host(host)!r})")
    why = "the longest matching path" if siblings else "the only path"
    if loc.config.use_regex or loc.config.rewrite_target:
        why = "regex mode for this host: the first regex (longest path first) that matches"
    lines.append(f"  path {loc.path!r} ({loc.path_type}): {why}"
                 + (f"; other paths of this host: {', '.join(siblings)}" if siblings else ""))
    if match.redirect is not None:
        status, where = match.redirect
        lines.append(f"  answered by ingressd: {status} redirect to {where}")
        return lines, 0
    if match.upstream_path != path:
        lines.append(f"  rewritten upstream path: {match.upstream_path!r}")
    backend = loc.backend
    if backend is None:
        lines.append("  backend is a resource, not a Service: requests get 503")
        return lines, 0
    lines.append(f"main backend: service {backend.namespace}/{backend.service} port {backend.port} "
                 f"(upstream {backend.upstream_name})")
    lines += _describe_endpoints(backend, index, kinds)
    route = loc.canary
    if route is None:
        lines.append("canary: none attached to this path")
        return lines, 0
    if route.backend is None:
        lines.append(f"canary: Ingress {route.ingress_namespace}/{route.ingress_name} has no service backend")
        return lines, 0
    lines.append(f"canary backend: service {route.backend.namespace}/{route.backend.service} port "
                 f"{route.backend.port} (upstream {route.backend.upstream_name}) from Ingress "
                 f"{route.ingress_namespace}/{route.ingress_name}")
    lines += _describe_endpoints(route.backend, index, kinds)
    cfg = route.canary
    try:
        decision = decide_canary(cfg, headers.get, cookies.get, _no_draw, None)
    except _WeightDraw:
        total = cfg.weight_total if cfg.weight_total > 100 else 100
        lines.append(f"decision: weight step: canary-weight {cfg.weight} of {total}: each request goes to the "
                     f"canary with probability {cfg.weight / total:.2%} (no header or cookie override applied)")
        return lines, 0
    target = "canary" if decision.canary else "main"
    lines.append(f"decision: {decision.step} step: {decision.reason} -> {target}")
    return lines, 0
