"""One request against a Gateway listener port's route table: which HTTPRoute rule serves and
what it does (redirect, rewrite, header operations, mirrors, the weighted backend choice).

Pure; `decide` wraps the result into its Answer/Forward. A weighted choice draws with the
injected rng (random.Random: reproducible with --seed); without an rng (explain) the first
backend with weight is described along with every backend's probability.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingressd.routing.gateway import Backend, GatewayRule, PortTable, first_query_values
from ingressd.routing.hosts import normalize_host

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class GatewayMatch:
    """The HTTPRoute decision: `rule` None means no rule matched (404)."""

    rule: GatewayRule | None
    hostname: str  # the hostname bucket that was selected ("" for routes without hostnames)
    why: str
    backend: Backend | None = None  # the chosen backendRef (None: a redirect, or no backends)
    status: int = 0  # an answer: 404, 500 or a redirect status
    location: str = ""  # a redirect's Location
    upstream_path: str = ""  # path and query after URLRewrite
    upstream_host: str | None = None  # Host after URLRewrite (None: unchanged)
    weights: tuple[tuple[str, float], ...] = ()  # (backend, probability) of a weighted rule


def _choose(backends: tuple[Backend, ...], rng) -> tuple[Backend | None, tuple[tuple[str, float], ...]]:
    if len(backends) == 1:
        only = backends[0]
        return (only if only.weight else None), ()
    total = sum(b.weight for b in backends)
    if total <= 0:
        return None, ()
    odds = tuple((_label(b), b.weight / total) for b in backends if b.weight)
    if len(odds) == 1 or rng is None:
        return next(b for b in backends if b.weight), odds if len(odds) > 1 else ()
    draw = rng.randint(1, total)
    for b in backends:
        draw -= b.weight
        if draw <= 0:
            return b, odds
    return backends[-1], odds  # not reached


def _label(b: Backend) -> str:
    if b.ref is not None:
        return f"{b.ref.namespace}/{b.ref.service}:{b.ref.port}"
    return f"(unresolved: {b.problem[1] if b.problem else '?'})"


def replace_prefix(path: str, prefix: str, replacement: str) -> str:
    """ReplacePrefixMatch: the matched prefix (element-wise, trailing "/" ignored) becomes
    `replacement`; "/foo" -> "/bar" turns "/foo/x" into "/bar/x", "/" turns it into "/x"."""
    prefix = prefix.rstrip("/")
    rest = path.removeprefix(prefix)
    replacement = replacement or "/"
    if not rest:
        return replacement
    return replacement.rstrip("/") + rest


def _new_path(kind: str, value: str, path: str, rule: GatewayRule) -> str:
    if kind == "ReplaceFullPath":
        return value
    return replace_prefix(path, rule.path, value)


def match_gateway(table: PortTable, host_header: str, target: str, method: str, header, scheme: str,
                  rng=None) -> GatewayMatch | None:
    """None when no HTTPRoute attaches to the request's host on this port (Ingress may serve it);
    else the decision."""
    host = normalize_host(host_header)
    found = table.rules_for(host)
    if found is None:
        return None
    rules, hostname = found
    path, _, query_string = target.partition("?")
    query = None
    for rule in rules:
        if rule.query and query is None:
            query = first_query_values(query_string)
        if rule.matches(path, method, header, query):
            break
    else:
        where = f"host {hostname!r}" if hostname else "routes without hostnames"
        return GatewayMatch(None, hostname, f"HTTPRoutes attach to {where} on port {table.port}, "
                                            "but no rule matches: 404")
    why = f"HTTPRoute {rule.route_ns}/{rule.route_name} rule {rule.rule_index} match {rule.match_index} " \
          f"({rule.description})"
    redirect = rule.redirect
    if redirect is not None:
        r_scheme = redirect.scheme or scheme
        r_host = redirect.hostname or host
        if redirect.port is not None:
            port = redirect.port
        elif redirect.scheme:
            port = DEFAULT_PORTS.get(redirect.scheme, table.port)
        else:
            port = table.port
        authority = r_host if DEFAULT_PORTS.get(r_scheme) == port else f"{r_host}:{port}"
        new_path = _new_path(redirect.path_type, redirect.path or "", path, rule) if redirect.path_type else path
        location = f"{r_scheme}://{authority}{new_path}" + (f"?{query_string}" if query_string else "")
        return GatewayMatch(rule, hostname, why + f": RequestRedirect {redirect.status} to {location}",
                            status=redirect.status, location=location)
    if not rule.backends:
        return GatewayMatch(rule, hostname, why + ": the rule has no backendRefs: 500", status=500)
    backend, weights = _choose(rule.backends, rng)
    if backend is None:
        return GatewayMatch(rule, hostname, why + ": every backendRef has weight 0: 500", status=500)
    if backend.ref is None:
        return GatewayMatch(rule, hostname, why + f": backendRef {_label(backend)}: 500", backend, 500,
                            weights=weights)
    upstream_path = target
    if rule.rewrite_path is not None:
        upstream_path = _new_path(*rule.rewrite_path, path, rule) + (f"?{query_string}" if query_string else "")
    return GatewayMatch(rule, hostname, why, backend, upstream_path=upstream_path,
                        upstream_host=rule.rewrite_host, weights=weights)
