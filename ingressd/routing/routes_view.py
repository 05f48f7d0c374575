"""What the proxy routes, as rows: `ingressd routes`, `GET /ingressd/v1/routes` and the reload diff (pure).

One row per location of the route table (every host/path the proxy serves, including a host's
`spec.defaultBackend` fallback and the catch-all server's), with its backend, its canary, how many
endpoints the backend has ready out of how many, and whether the host is a TLS host. Rows are
ordered by host (named hosts sorted, the catch-all last) and, within a host, in ingress-nginx's
location order (longest path first).

`route_changes` compares two row sets by (host, path, pathType) and says what was added, removed
or changed (backend, canary, owning Ingress, TLS); endpoint counts alone are not a change, they
come and go with pods and only appear in the text of the "+" and "~" lines.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ingressd.routing.canary import CanaryConfig
from ingressd.routing.endpoints import EndpointIndex
from ingressd.routing.paths import nginx_order
from ingressd.routing.table import BackendRef, RouteTable
from ingressd.routing.tls import TlsTable

CATCH_ALL = "*"  # how the catch-all server (hostless rules, rule-less defaultBackend) is shown


@dataclass(frozen=True)
class CanaryView:
    kind: str  # the steps that can pick the canary, in balancer.lua's order: "header+cookie+weight"
    weight: int
    weight_total: int  # the total actually used (at least 100)
    ingress: str  # "namespace/name" of the canary Ingress
    service: str | None  # None: not a Service backend
    port: int | str | None
    ready: int = 0
    total: int = 0
    header: str | None = None
    cookie: str | None = None

    def document(self) -> dict:
        return {"kind": self.kind, "weight": self.weight, "weightTotal": self.weight_total,
                "ingress": self.ingress, "service": self.service, "port": self.port,
                "ready": self.ready, "total": self.total, "header": self.header, "cookie": self.cookie}


@dataclass(frozen=True)
class RouteRow:
    host: str  # rule host; "" for the catch-all server
    path: str
    path_type: str
    ingress: str  # "namespace/name"
    namespace: str  # the backend's (the Ingress's) namespace
    service: str | None  # None: a `resource` backend, answered 503
    port: int | str | None
    canary: CanaryView | None
    ready: int
    total: int
    tls: bool
    kind: str = "Ingress"  # or "HTTPRoute": then `ingress` is the HTTPRoute's "namespace/name"
    listener_port: int | None = None  # HTTPRoute rows: the Gateway listener port
    detail: str = ""  # HTTPRoute rows: "rule R match M: <the match>", and what the rule does

    @property
    def key(self) -> tuple:
        return self.host, self.path, self.path_type, self.kind, self.listener_port, self.detail

    def document(self) -> dict:
        doc = {"host": self.host, "path": self.path, "pathType": self.path_type, "ingress": self.ingress,
               "service": self.service, "port": self.port,
               "canary": None if self.canary is None else self.canary.document(),
               "ready": self.ready, "total": self.total, "tls": self.tls}
        if self.kind != "Ingress":
            doc.update(kind=self.kind, route=self.ingress, listenerPort=self.listener_port, detail=self.detail)
        return doc


def canary_kind(cfg: CanaryConfig) -> str:
    """"header", "cookie", "weight" or several joined with "+", in the order a request meets them."""
    steps = [step for step, on in (("header", cfg.by_header), ("cookie", cfg.by_cookie), ("weight", cfg.weight > 0))
             if on]
    return "+".join(steps) or "weight"  # weight 0 and nothing else: a canary that never serves


def _counts(ref: BackendRef | None, ready: EndpointIndex, every: EndpointIndex | None) -> tuple[int, int]:
    if ref is None:
        return 0, 0
    found = ready.resolve(ref) or ()
    if every is None:
        return len(found), len(found)
    return len(found), max(len(every.resolve(ref) or ()), len(found))


def route_rows(table: RouteTable, endpoints: EndpointIndex, tls: TlsTable,
               all_endpoints: EndpointIndex | None = None) -> tuple[RouteRow, ...]:
    """`endpoints`: the proxy's (ready) endpoint index; `all_endpoints`: one built with
    `not_ready=True` for the totals (None: total = ready)."""
    by_host: dict[str, list] = {}
    for loc in table.locations:
        by_host.setdefault(loc.host, []).append((loc.path, loc.path_type, loc))
    hosts = sorted(h for h in by_host if h) + ([""] if "" in by_host else [])
    rows: list[RouteRow] = []
    for host in hosts:
        is_tls = bool(host) and tls.is_tls_host(host)
        for _, _, loc in nginx_order(by_host[host]):
            canary = None
            if loc.canary is not None:
                route, cfg = loc.canary, loc.canary.canary
                c_ready, c_total = _counts(route.backend, endpoints, all_endpoints)
                canary = CanaryView(canary_kind(cfg), cfg.weight, cfg.total,
                                    f"{route.ingress_namespace}/{route.ingress_name}",
                                    route.backend.service if route.backend else None,
                                    route.backend.port if route.backend else None,
                                    c_ready, c_total, cfg.by_header, cfg.by_cookie)
            ready, total = _counts(loc.backend, endpoints, all_endpoints)
            rows.append(RouteRow(
                host, loc.path, loc.path_type, f"{loc.ingress_namespace}/{loc.ingress_name}",
                loc.backend.namespace if loc.backend else loc.ingress_namespace,
                loc.backend.service if loc.backend else None, loc.backend.port if loc.backend else None,
                canary, ready, total, is_tls))
    return tuple(rows)


def gateway_route_rows(model, endpoints: EndpointIndex, all_endpoints: EndpointIndex | None = None
                       ) -> tuple[RouteRow, ...]:
    """One row per (HTTPRoute rule, match) per hostname per Gateway listener port, in the order
    a request meets them (hosts sorted, routes without hostnames last; rules in precedence order)."""
    rows: list[RouteRow] = []
    for port in sorted(model.ports):
        table = model.ports[port]
        buckets = sorted(table.exact.items()) + [("*" + suffix, rules) for suffix, rules in table.wildcard]
        if table.any_host:
            buckets.append(("", table.any_host))
        for host, rules in buckets:
            for rule in rules:
                first = next((b for b in rule.backends if b.ref is not None), None)
                ref = first.ref if first is not None else None
                ready, total = _counts(ref, endpoints, all_endpoints)
                does = []
                if rule.redirect is not None:
                    does.append(f"redirect {rule.redirect.status}")
                if len(rule.backends) > 1:
                    weights = sum(b.weight for b in rule.backends) or 1
                    does.append("weights " + ", ".join(
                        f"{b.ref.service if b.ref else '<unresolved>'} {b.weight * 100 // weights}%"
                        for b in rule.backends))
                if any(b.ref is None for b in rule.backends) or not rule.backends and rule.redirect is None:
                    does.append("500 for unresolved backendRefs")
                if rule.rewrite_path or rule.rewrite_host:
                    does.append("rewrite")
                if rule.mirrors:
                    does.append("mirror")
                detail = f"rule {rule.rule_index} match {rule.match_index}: {rule.describe()}" + \
                    (f"; {', '.join(does)}" if does else "")
                rows.append(RouteRow(host, rule.path, rule.path_type, rule.route,
                                     ref.namespace if ref else rule.route_ns, ref.service if ref else None,
                                     ref.port if ref else None, None, ready, total, table.protocol == "HTTPS",
                                     "HTTPRoute", port, detail))
    return tuple(rows)


def route_documents(rows: tuple[RouteRow, ...]) -> list[dict]:
    return [row.document() for row in rows]


# --- the reload diff ------------------------------------------------------------------------------


def _where(row: RouteRow) -> str:
    if row.kind != "Ingress":
        return f"HTTPRoute {row.ingress} :{row.listener_port} {row.host or CATCH_ALL}{row.path} {row.path_type} " \
               f"({row.detail})"
    return f"{row.host or CATCH_ALL}{row.path} {row.path_type}"


def _backend(row: RouteRow) -> str:
    if row.service is None:
        if row.kind != "Ingress":
            return "no backend (answered by ingressd)"
        return f"{row.ingress} (not a Service backend: 503)"
    return f"{row.namespace}/{row.service}:{row.port}"


def _canary(canary: CanaryView, counts: bool) -> str:
    backend = f"{canary.ingress.partition('/')[0]}/{canary.service}:{canary.port}" if canary.service else "no Service"
    policy = canary.kind + (f" {canary.weight}/{canary.weight_total}" if "weight" in canary.kind else "")
    ready = f" ({canary.ready}/{canary.total} ready)" if counts else ""
    return f"canary {backend}{ready} by {policy}"


def describe_route(row: RouteRow, counts: bool = True) -> str:
    """"demo.localtest.me/ Prefix → default/web:80 (2/2 ready), canary …, TLS"."""
    text = f"{_where(row)} → {_backend(row)}"
    if counts and row.service is not None:
        text += f" ({row.ready}/{row.total} ready)"
    if row.canary is not None:
        text += ", " + _canary(row.canary, counts)
    if row.tls:
        text += ", TLS"
    return text


def _routing_part(row: RouteRow) -> RouteRow:
    """The row without its endpoint counts: what a route change is made of."""
    canary = None if row.canary is None else replace(row.canary, ready=0, total=0)
    return replace(row, ready=0, total=0, canary=canary)


def _what_changed(old: RouteRow, new: RouteRow) -> str:
    was = []
    if (old.namespace, old.service, old.port) != (new.namespace, new.service, new.port):
        was.append(f"backend was {_backend(old)}")
    if _routing_part(old).canary != _routing_part(new).canary:
        was.append("canary was " + ("none" if old.canary is None else _canary(old.canary, False).removeprefix("canary ")))
    if old.ingress != new.ingress:
        was.append(f"Ingress was {old.ingress}")
    if old.tls != new.tls:
        was.append("TLS was " + ("on" if old.tls else "off"))
    return "; ".join(was)


def route_changes(old: tuple[RouteRow, ...], new: tuple[RouteRow, ...]) -> list[str]:
    """One line per added ("+"), removed ("−") or changed ("~") route, in the new rows' order
    (removed ones in the old rows' order, first)."""
    before = {row.key: row for row in old}
    after = {row.key: row for row in new}
    lines = [f"− {describe_route(row, counts=False)}" for row in old if row.key not in after]
    for row in new:
        previous = before.get(row.key)
        if previous is None:
            lines.append(f"+ {describe_route(row)}")
        elif _routing_part(previous) != _routing_part(row):
            lines.append(f"~ {describe_route(row)} ({_what_changed(previous, row)})")
    return lines
