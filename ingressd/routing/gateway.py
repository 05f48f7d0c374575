"""The Gateway API model: GatewayClasses, Gateways, HTTPRoutes, ReferenceGrants and Services ->
which listeners exist, which routes attach where (and why not), and an immutable route table per
listener port. Pure: plain dicts in, frozen values out; `gateway_status` turns the same analysis
into the status conformance expects, so what is routed and what status says cannot disagree.

Precedence (HTTPRoute API, apis/v1/httproute_types.go): within a port, the request host selects the
most specific hostname bucket (an exact hostname, else the longest matching wildcard, else routes
with no hostname at all); a bucket never falls through to a less specific one (one virtual host
per hostname, as Envoy-based implementations serve it). Inside a bucket every (rule, match) is
ordered by: Exact path, then PathPrefix by length (longest first), then RegularExpression (the spec
leaves its rank to implementations: after every prefix); method given; more header matches; more
query param matches; the route's oldest creationTimestamp; "namespace/name" alphabetically; rule
order, then match order inside the route. The first entry that matches serves.

Listener isolation (GatewayHTTPListenerIsolation, GEP-1713): a request is matched only against the
routes attached to the most specific listener of a Gateway for its host. An entry a route attached
through a listener of Gateway G with hostname H is left out of every bucket whose hosts G has a more
specific listener for (a route on a hostless listener naming "*.example.com" does not serve
bar.example.com when G has a "*.example.com" listener); where such a listener has no bucket of its
own, it gets one holding what its hosts would otherwise reach, less the isolated entries. Gateways
share ingressd's address, so each Gateway isolates its own routes only.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

from ingressd.routing.hosts import normalize_host
from ingressd.routing.table import BackendRef, _created_at
from ingressd.routing.tls import check_tls_secret

CONTROLLER_NAME = "ingressd.io/gateway-controller"
GROUP = "gateway.networking.k8s.io"
HTTP_PORT = 80
HTTPS_PORT = 443
PROTOCOLS = ("HTTP", "HTTPS")
STATUS_CODES = (301, 302, 303, 307, 308)
REGEX_LIMIT = 1024  # characters of one RegularExpression match, bounded like any input

# HTTPRoute parent (Accepted) and backend (ResolvedRefs) reasons, as upstream spells them.
ACCEPTED = "Accepted"
NOT_ALLOWED_BY_LISTENERS = "NotAllowedByListeners"
NO_MATCHING_LISTENER_HOSTNAME = "NoMatchingListenerHostname"
NO_MATCHING_PARENT = "NoMatchingParent"
UNSUPPORTED_VALUE = "UnsupportedValue"
RESOLVED_REFS = "ResolvedRefs"
BACKEND_NOT_FOUND = "BackendNotFound"
REF_NOT_PERMITTED = "RefNotPermitted"
INVALID_KIND = "InvalidKind"


def _d(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _meta(obj: dict) -> tuple[str, str]:
    meta = _d(obj.get("metadata"))
    return _s(meta.get("namespace")) or "default", _s(meta.get("name"))


def _generation(obj: dict) -> int:
    gen = _d(obj.get("metadata")).get("generation")
    return gen if isinstance(gen, int) else 1


def parse_duration(value: Any) -> float | None:
    """A Gateway API Duration ("10s", "500ms", "1h30m", "0s") in seconds; None when invalid."""
    if not isinstance(value, str) or not re.fullmatch(r"([0-9]{1,5}(h|m|s|ms)){1,4}", value):
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(int(n) * scale[u] for n, u in re.findall(r"([0-9]+)(ms|h|m|s)", value))


# ---- hostnames ----------------------------------------------------------------------------

def _host_matches(pattern: str, host: str) -> bool:
    """A Gateway API hostname (maybe "*.x") against a concrete one: a wildcard matches one or
    more labels in front of its suffix, never the suffix itself."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def intersect_hostnames(listener: str, route: Iterable[str]) -> tuple[str, ...] | None:
    """The hostnames a route serves on a listener: () means any host (neither restricts); None
    means no intersection (the route does not attach to that listener)."""
    route = tuple(h.lower() for h in route)
    listener = listener.lower()
    if not route:
        return (listener,) if listener else ()
    if not listener:
        return route
    out = []
    for host in route:
        if _host_matches(listener, host):
            out.append(host)
        elif _host_matches(host, listener):
            out.append(listener)
        elif host == listener:
            out.append(host)
    return tuple(dict.fromkeys(out)) or None


# ---- references ---------------------------------------------------------------------------

def grant_allows(grants: Iterable[dict], from_group: str, from_kind: str, from_ns: str,
                 to_group: str, to_kind: str, to_ns: str, to_name: str) -> bool:
    """A ReferenceGrant in the target namespace lets `from_kind` objects of `from_ns` refer to it."""
    for grant in grants:
        if _meta(grant)[0] != to_ns:
            continue
        spec = _d(grant.get("spec"))
        if not any(_s(f.get("group")) == from_group and _s(f.get("kind")) == from_kind
                   and _s(f.get("namespace")) == from_ns for f in map(_d, _l(spec.get("from")))):
            continue
        for to in map(_d, _l(spec.get("to"))):
            if _s(to.get("group")) == to_group and _s(to.get("kind")) == to_kind \
                    and (not _s(to.get("name")) or _s(to.get("name")) == to_name):
                return True
    return False


@dataclass(frozen=True)
class Backend:
    """One backendRef: `ref` is None when it cannot be resolved (`problem`: reason, message)."""

    ref: BackendRef | None
    weight: int
    problem: tuple[str, str] | None = None
    # The backendRef's own filters (HTTPRouteBackendRequestHeaderModifier): applied after the rule's
    # when this backend serves; None without.
    request_headers: HeaderOps | None = None
    response_headers: HeaderOps | None = None


def resolve_backend(obj: dict, route_ns: str, services: dict[tuple[str, str], dict],
                    grants: list[dict], from_kind: str = "HTTPRoute") -> Backend:
    group, kind = _s(obj.get("group")), _s(obj.get("kind")) or "Service"
    name = _s(obj.get("name"))
    ns = _s(obj.get("namespace")) or route_ns
    weight = obj.get("weight", 1)
    weight = weight if isinstance(weight, int) and weight >= 0 else 1
    if group not in ("", "core") or kind != "Service":
        return Backend(None, weight, (INVALID_KIND, (f"backendRef {name!r}: kind {group + '/' if group else ''}"
                                                    f"{kind} is not supported, only Service")))
    if ns != route_ns and not grant_allows(grants, GROUP, from_kind, route_ns, "", "Service", ns, name):
        return Backend(None, weight, (REF_NOT_PERMITTED, (f"backendRef {ns}/{name}: no ReferenceGrant in "
                                                         f"namespace {ns} allows {from_kind}s from {route_ns}")))
    port = obj.get("port")
    if (ns, name) not in services:
        return Backend(None, weight, (BACKEND_NOT_FOUND, f"service {ns}/{name} not found"))
    if not isinstance(port, int):
        return Backend(None, weight, (UNSUPPORTED_VALUE, f"backendRef {ns}/{name}: port is required for a Service"))
    ports = [p.get("port") for p in map(_d, _l(_d(services[(ns, name)].get("spec")).get("ports")))]
    if port not in ports:
        return Backend(None, weight, (BACKEND_NOT_FOUND, f"service {ns}/{name} has no port {port}"))
    return Backend(BackendRef(ns, name, port), weight)


# ---- listeners ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Listener:
    gateway_ns: str
    gateway_name: str
    name: str
    port: int
    protocol: str
    hostname: str  # lowercase, "" for any
    namespaces_from: str  # Same | All | Selector
    selector: dict
    kinds: tuple[str, ...]  # the route kinds it accepts (supportedKinds)
    invalid_kinds: tuple[str, ...]
    certificates: tuple[tuple[str, str], ...]  # (namespace, name) of Secrets that resolved
    cert_problem: tuple[str, str] | None = None  # (reason, message) for ResolvedRefs False
    conflict: tuple[str, str] | None = None  # (reason, message) for Conflicted True
    unsupported: str = ""  # why Accepted is False (UnsupportedProtocol)

    @property
    def valid(self) -> bool:
        return not self.unsupported and self.conflict is None and self.cert_problem is None


def _listener(gw: dict, raw: dict, secrets: dict, grants: list[dict]) -> Listener:
    ns, gname = _meta(gw)
    protocol = _s(raw.get("protocol"))
    allowed = _d(raw.get("allowedRoutes"))
    nss = _d(allowed.get("namespaces"))
    kinds, invalid = [], []
    requested = _l(allowed.get("kinds"))
    for k in map(_d, requested):
        if _s(k.get("group") or GROUP) == GROUP and _s(k.get("kind")) == "HTTPRoute":
            kinds.append("HTTPRoute")
        else:
            invalid.append(_s(k.get("kind")))
    if not requested and protocol in PROTOCOLS:
        kinds = ["HTTPRoute"]
    certs, problem = [], None
    if protocol == "HTTPS":
        tls = _d(raw.get("tls"))
        refs = _l(tls.get("certificateRefs"))
        if _s(tls.get("mode")) == "Passthrough":
            problem = ("InvalidCertificateRef", "TLS mode Passthrough is not supported on an HTTPS listener")
        elif not refs:
            problem = ("InvalidCertificateRef", "an HTTPS listener needs tls.certificateRefs")
        for ref in map(_d, refs):
            rns, rname = _s(ref.get("namespace")) or ns, _s(ref.get("name"))
            if _s(ref.get("group")) not in ("", "core") or (_s(ref.get("kind")) or "Secret") != "Secret":
                problem = problem or ("InvalidCertificateRef", f"certificateRef {rname!r}: only core Secrets")
            elif rns != ns and not grant_allows(grants, GROUP, "Gateway", ns, "", "Secret", rns, rname):
                problem = problem or ("RefNotPermitted", (f"certificateRef {rns}/{rname}: no ReferenceGrant "
                                                         f"in namespace {rns} allows Gateways from {ns}"))
            elif not _is_tls_secret(secrets.get((rns, rname))):
                problem = problem or ("InvalidCertificateRef", (f"certificateRef {rns}/{rname}: "
                                                               "not a Secret with tls.crt and tls.key"))
            elif (bad := _tls_secret_problem(secrets[(rns, rname)])) is not None:
                problem = problem or ("InvalidCertificateRef", f"certificateRef {rns}/{rname}: {bad}")
            else:
                certs.append((rns, rname))
    if invalid:
        problem = problem or ("InvalidRouteKinds", f"route kinds {', '.join(invalid)} are not supported")
    port = raw.get("port")
    return Listener(ns, gname, _s(raw.get("name")), port if isinstance(port, int) else 0, protocol,
                    _s(raw.get("hostname")).lower(), _s(nss.get("from")) or "Same", _d(nss.get("selector")),
                    tuple(kinds), tuple(invalid), tuple(certs), problem,
                    unsupported="" if protocol in PROTOCOLS else f"protocol {protocol!r} is not supported")


def _is_tls_secret(secret: dict | None) -> bool:
    data = _d((secret or {}).get("data"))
    return secret is not None and bool(data.get("tls.crt")) and bool(data.get("tls.key"))


# check_tls_secret's expiry check is left out (a far past "now"): an expired certificate still resolves
# (upstream asks InvalidCertificateRef for a missing or malformed Secret only), and the status stays a
# function of the objects, not of the clock.
_NO_EXPIRY_CHECK = datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)


def _tls_secret_problem(secret: dict) -> str | None:
    """Why a Secret with tls.crt and tls.key cannot serve TLS (not PEM, key not matching), or None."""
    checked = check_tls_secret(secret, now=_NO_EXPIRY_CHECK)
    return checked if isinstance(checked, str) else None


def _mark_conflicts(listeners: list[Listener]) -> list[Listener]:
    """Listeners of one Gateway on one port: different protocols conflict (ProtocolConflict),
    same protocol and hostname conflict (HostnameConflict)."""
    out = []
    for i, lst in enumerate(listeners):
        conflict = None
        for j, other in enumerate(listeners):
            if i == j or other.port != lst.port:
                continue
            if other.protocol != lst.protocol:
                conflict = ("ProtocolConflict", (f"port {lst.port} is used with protocol {other.protocol} "
                                                f"by listener {other.name!r}"))
            elif other.hostname == lst.hostname and conflict is None:
                conflict = ("HostnameConflict", (f"listener {other.name!r} has the same port, protocol "
                                                "and hostname"))
        out.append(dataclasses.replace(lst, conflict=conflict) if conflict else lst)
    return out


def _namespace_allowed(lst: Listener, route_ns: str, namespaces: dict[str, dict]) -> bool:
    if lst.namespaces_from == "All":
        return True
    if lst.namespaces_from == "Selector":
        labels = _d(_d(namespaces.get(route_ns, {}).get("metadata")).get("labels"))
        return _selector_matches(lst.selector, labels)
    return route_ns == lst.gateway_ns


def _selector_matches(selector: dict, labels: dict) -> bool:
    for key, value in _d(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in map(_d, _l(selector.get("matchExpressions"))):
        key, op, values = _s(expr.get("key")), _s(expr.get("operator")), _l(expr.get("values"))
        if op == "In" and labels.get(key) not in values or op == "NotIn" and labels.get(key) in values \
                or op == "Exists" and key not in labels or op == "DoesNotExist" and key in labels:
            return False
    return True


# ---- rules --------------------------------------------------------------------------------

@dataclass(frozen=True)
class HeaderOps:
    """RequestHeaderModifier / ResponseHeaderModifier: names as written (case kept)."""

    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.set or self.add or self.remove)


@dataclass(frozen=True)
class Redirect:
    scheme: str | None
    hostname: str | None
    port: int | None
    path_type: str | None  # ReplaceFullPath | ReplacePrefixMatch
    path: str | None
    status: int


@dataclass(frozen=True)
class Mirror:
    backend: Backend
    fraction: float  # 0..1: the share of requests copied


@dataclass(frozen=True)
class GatewayRule:
    """One (rule, match) of one HTTPRoute, as one entry of a host bucket."""

    route_ns: str
    route_name: str
    rule_index: int
    match_index: int
    rule_name: str
    path_type: str  # Exact | PathPrefix | RegularExpression
    path: str
    path_re: re.Pattern | None
    method: str | None
    headers: tuple[tuple[str, str, Any], ...]  # (lowercase name, type, value or compiled regex)
    query: tuple[tuple[str, str, Any], ...]  # (name, type, value or compiled regex)
    request_headers: HeaderOps
    response_headers: HeaderOps
    redirect: Redirect | None
    rewrite_host: str | None
    rewrite_path: tuple[str, str] | None  # (ReplaceFullPath|ReplacePrefixMatch, value)
    mirrors: tuple[Mirror, ...]
    backends: tuple[Backend, ...]
    request_timeout: float | None
    backend_timeout: float | None
    created: float

    @property
    def route(self) -> str:
        return f"{self.route_ns}/{self.route_name}"

    def sort_key(self) -> tuple:
        path_rank = (0, 0) if self.path_type == "Exact" else (1, -len(self.path.rstrip("/") or "/")) \
            if self.path_type == "PathPrefix" else (2, 0)
        return (*path_rank, self.method is None, -len(self.headers), -len(self.query), self.created,
                self.route, self.rule_index, self.match_index)

    @cached_property
    def prefix(self) -> str:
        """A PathPrefix value without its trailing "/" ("" for "/")."""
        return self.path.rstrip("/")

    @cached_property
    def description(self) -> str:
        return self.describe()

    def describe(self) -> str:
        parts = [f"path {self.path_type} {self.path!r}"]
        if self.method:
            parts.append(f"method {self.method}")
        parts += [f"header {n} {t} {v if isinstance(v, str) else v.pattern!r}" for n, t, v in self.headers]
        parts += [f"query {n} {t} {v if isinstance(v, str) else v.pattern!r}" for n, t, v in self.query]
        return ", ".join(parts)

    def matches(self, path: str, method: str, header, query: dict[str, str] | None) -> bool:
        pt = self.path_type
        if pt == "PathPrefix":
            rule = self.prefix
            if rule and not (path.startswith(rule) and (len(path) == len(rule) or path[len(rule)] == "/")):
                return False
        elif pt == "Exact":
            if path != self.path:
                return False
        elif self.path_re is not None and self.path_re.fullmatch(path) is None:
            return False
        if self.method is not None and method != self.method:
            return False
        for name, kind, value in self.headers:
            got = header(name)
            if got is None or (got != value if kind == "Exact" else value.fullmatch(got) is None):
                return False
        if self.query:
            for name, kind, value in self.query:
                got = (query or {}).get(name)
                if got is None or (got != value if kind == "Exact" else value.fullmatch(got) is None):
                    return False
        return True


def first_query_values(query: str) -> dict[str, str]:
    """The first value of each query parameter (names case-sensitive, as the spec says)."""
    out: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        out.setdefault(name, value)
    return out


class RouteProblem(Exception):
    """An HTTPRoute value ingressd does not support: Accepted False, UnsupportedValue."""


def _compile(pattern: str, where: str) -> re.Pattern:
    if len(pattern) > REGEX_LIMIT:
        raise RouteProblem(f"{where}: regular expression longer than {REGEX_LIMIT} characters")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RouteProblem(f"{where}: invalid regular expression {pattern!r}: {exc}") from None


def _header_ops(raw: dict) -> HeaderOps:
    def pairs(items):
        return tuple((_s(h.get("name")), _s(h.get("value"))) for h in map(_d, _l(items)))
    return HeaderOps(pairs(raw.get("set")), pairs(raw.get("add")), tuple(_s(n) for n in _l(raw.get("remove"))))


@dataclass(frozen=True)
class _RuleParts:
    request_headers: HeaderOps
    response_headers: HeaderOps
    redirect: Redirect | None
    rewrite_host: str | None
    rewrite_path: tuple[str, str] | None
    mirrors: tuple[Mirror, ...]


def _filters(filters: list, where: str, route_ns: str, services, grants) -> _RuleParts:
    req, resp, redirect, rhost, rpath, mirrors = HeaderOps(), HeaderOps(), None, None, None, []
    for i, f in enumerate(map(_d, filters)):
        kind = _s(f.get("type"))
        at = f"{where}.filters[{i}]"
        if kind == "RequestHeaderModifier":
            req = _header_ops(_d(f.get("requestHeaderModifier")))
        elif kind == "ResponseHeaderModifier":
            resp = _header_ops(_d(f.get("responseHeaderModifier")))
        elif kind == "RequestRedirect":
            r = _d(f.get("requestRedirect"))
            path = _d(r.get("path"))
            ptype = _s(path.get("type")) or None
            status = r.get("statusCode", 302)
            if status not in STATUS_CODES:
                raise RouteProblem(f"{at}.requestRedirect.statusCode: {status!r} is not one of 301, 302, 303, 307, 308")
            value = path.get("replaceFullPath") if ptype == "ReplaceFullPath" else path.get("replacePrefixMatch")
            redirect = Redirect(_s(r.get("scheme")) or None, _s(r.get("hostname")) or None,
                                r.get("port") if isinstance(r.get("port"), int) else None, ptype,
                                _s(value) if ptype else None, status)
        elif kind == "URLRewrite":
            r = _d(f.get("urlRewrite"))
            rhost = _s(r.get("hostname")) or None
            path = _d(r.get("path"))
            ptype = _s(path.get("type"))
            if ptype:
                rpath = (ptype, _s(path.get("replaceFullPath") if ptype == "ReplaceFullPath"
                                   else path.get("replacePrefixMatch")))
        elif kind == "RequestMirror":
            r = _d(f.get("requestMirror"))
            fraction = 1.0
            if isinstance(r.get("percent"), int):
                fraction = r["percent"] / 100
            elif isinstance(r.get("fraction"), dict):
                num, den = r["fraction"].get("numerator", 0), r["fraction"].get("denominator", 100)
                fraction = num / den if isinstance(num, int) and isinstance(den, int) and den > 0 else 0.0
            mirrors.append(Mirror(resolve_backend(_d(r.get("backendRef")), route_ns, services, grants),
                                  max(0.0, min(1.0, fraction))))
        else:
            raise RouteProblem(f"{at}.type: filter {kind!r} is not supported")
    return _RuleParts(req, resp, redirect, rhost, rpath, tuple(mirrors))


def _backend_filters(backend: Backend, filters: list, where: str) -> Backend:
    """A backendRef's filters: header modifiers only (RequestMirror, redirects and rewrites there are
    UnsupportedValue)."""
    if not filters:
        return backend
    request = response = None
    for i, f in enumerate(map(_d, filters)):
        kind = _s(f.get("type"))
        if kind == "RequestHeaderModifier":
            request = _header_ops(_d(f.get("requestHeaderModifier")))
        elif kind == "ResponseHeaderModifier":
            response = _header_ops(_d(f.get("responseHeaderModifier")))
        else:
            raise RouteProblem(f"{where}.filters[{i}].type: filter {kind!r} is not supported on a backendRef")
    return dataclasses.replace(backend, request_headers=request, response_headers=response)


def merge_header_ops(first: HeaderOps, then: HeaderOps | None) -> HeaderOps:
    """The rule's header operations followed by a backendRef's."""
    if not then:
        return first
    if not first:
        return then
    return HeaderOps(first.set + then.set, first.add + then.add, first.remove + then.remove)


def _rule_entries(route: dict, services, grants) -> tuple[list[GatewayRule], list[tuple[str, str]]]:
    """(the route's (rule, match) entries, the backend problems (reason, message) for ResolvedRefs);
    raises RouteProblem for what is not supported."""
    ns, name = _meta(route)
    created = _created_at(route)
    spec = _d(route.get("spec"))
    entries, problems = [], []
    rules = _l(spec.get("rules")) or [{}]
    for ri, rule in enumerate(map(_d, rules)):
        where = f"spec.rules[{ri}]"
        parts = _filters(_l(rule.get("filters")), where, ns, services, grants)
        backends = tuple(_backend_filters(resolve_backend(_d(b), ns, services, grants), _l(_d(b).get("filters")),
                                          f"{where}.backendRefs[{bi}]")
                         for bi, b in enumerate(_l(rule.get("backendRefs"))))
        problems += [b.problem for b in backends if b.problem] + [m.backend.problem for m in parts.mirrors
                                                                 if m.backend.problem]
        timeouts = _d(rule.get("timeouts"))
        request_t = parse_duration(timeouts["request"]) if "request" in timeouts else None
        backend_t = parse_duration(timeouts["backendRequest"]) if "backendRequest" in timeouts else None
        if ("request" in timeouts and request_t is None) or ("backendRequest" in timeouts and backend_t is None):
            raise RouteProblem(f"{where}.timeouts: not a duration")
        matches = _l(rule.get("matches")) or [{}]
        for mi, match in enumerate(map(_d, matches)):
            at = f"{where}.matches[{mi}]"
            path = _d(match.get("path"))
            ptype = _s(path.get("type")) or "PathPrefix"
            pvalue = _s(path.get("value")) or "/"
            if ptype not in ("Exact", "PathPrefix", "RegularExpression"):
                raise RouteProblem(f"{at}.path.type: {ptype!r} is not supported")
            path_re = _compile(pvalue, f"{at}.path.value") if ptype == "RegularExpression" else None
            headers, seen = [], set()
            for h in map(_d, _l(match.get("headers"))):
                hname = _s(h.get("name")).lower()
                if hname in seen:  # only the first entry with an equivalent name counts
                    continue
                seen.add(hname)
                htype = _s(h.get("type")) or "Exact"
                value = _s(h.get("value"))
                headers.append((hname, htype, _compile(value, f"{at}.headers") if htype == "RegularExpression"
                                else value))
            query, qseen = [], set()
            for q in map(_d, _l(match.get("queryParams"))):
                qname = _s(q.get("name"))
                if qname in qseen:
                    continue
                qseen.add(qname)
                qtype = _s(q.get("type")) or "Exact"
                value = _s(q.get("value"))
                query.append((qname, qtype, _compile(value, f"{at}.queryParams") if qtype == "RegularExpression"
                              else value))
            if parts.rewrite_path and parts.rewrite_path[0] == "ReplacePrefixMatch" and ptype != "PathPrefix" \
                    or parts.redirect and parts.redirect.path_type == "ReplacePrefixMatch" and ptype != "PathPrefix":
                raise RouteProblem(f"{at}: ReplacePrefixMatch needs a PathPrefix match")
            entries.append(GatewayRule(
                ns, name, ri, mi, _s(rule.get("name")), ptype, pvalue, path_re, _s(match.get("method")) or None,
                tuple(headers), tuple(query), parts.request_headers, parts.response_headers, parts.redirect,
                parts.rewrite_host, parts.rewrite_path, parts.mirrors, backends, request_t, backend_t, created))
    return entries, problems


# ---- the analysis -------------------------------------------------------------------------

@dataclass(frozen=True)
class ParentResult:
    """One parentRef of one HTTPRoute that points at a Gateway of ours."""

    parent_ref: dict  # as status shows it (group, kind, namespace, name, sectionName, port)
    gateway: tuple[str, str]
    accepted: tuple[bool, str, str]  # (status, reason, message)
    listeners: tuple[str, ...]  # names of the listeners it attached to


@dataclass(frozen=True)
class RouteResult:
    namespace: str
    name: str
    generation: int
    parents: tuple[ParentResult, ...]
    resolved: tuple[bool, str, str]


@dataclass(frozen=True)
class GatewayResult:
    namespace: str
    name: str
    generation: int
    listeners: tuple[Listener, ...]
    attached: dict = field(default_factory=dict)  # listener name -> count of attached routes


@dataclass(frozen=True)
class PortTable:
    """The routes served on one listener port: host buckets in precedence order."""

    port: int
    protocol: str  # HTTP | HTTPS
    exact: dict  # host -> tuple[GatewayRule, ...]
    wildcard: tuple  # ((suffix such as ".example.com", tuple[GatewayRule, ...]), ...) longest first
    any_host: tuple  # rules attached without a hostname restriction
    certificates: tuple = ()  # (hostname or "", secret namespace, secret name) of its HTTPS listeners
    # suffix -> rules of `wildcard`: a lookup probes the host's own suffixes, longest first, instead
    # of trying every wildcard (issue 14: flat in the number of routes)
    wildcard_index: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        index: dict = {}
        for suffix, rules in self.wildcard:
            index.setdefault(suffix, rules)
        object.__setattr__(self, "wildcard_index", index)

    def rules_for(self, host: str) -> tuple[tuple[GatewayRule, ...], str] | None:
        """(the bucket's rules, the hostname that selected it) for a normalised request host."""
        rules = self.exact.get(host)
        if rules is not None:
            return rules, host
        if self.wildcard_index:
            # ".example.com" serves any host ending in it with something before: the suffixes of
            # `host` that start at one of its dots after the first character, longest first.
            index = self.wildcard_index
            cut = host.find(".", 1)
            while cut > 0:
                rules = index.get(host[cut:])
                if rules is not None:
                    return rules, "*" + host[cut:]
                cut = host.find(".", cut + 1)
        if self.any_host:
            return self.any_host, ""
        return None


@dataclass(frozen=True)
class GatewayModel:
    classes: dict  # name -> (accepted: bool, message)
    gateways: tuple[GatewayResult, ...]
    routes: tuple[RouteResult, ...]
    ports: dict  # listener port -> PortTable
    problems: tuple[str, ...] = ()  # warnings: "HTTPRoute ns/name: message"

    @property
    def empty(self) -> bool:
        return not self.ports

    def attached_hosts(self, port: int) -> PortTable | None:
        return self.ports.get(port)


EMPTY_MODEL = GatewayModel({}, (), (), {})


def _parent_key(ref: dict, route_ns: str) -> dict:
    out = {"group": _s(ref.get("group")) or GROUP, "kind": _s(ref.get("kind")) or "Gateway",
           "namespace": _s(ref.get("namespace")) or route_ns, "name": _s(ref.get("name"))}
    if _s(ref.get("sectionName")):
        out["sectionName"] = ref["sectionName"]
    if isinstance(ref.get("port"), int):
        out["port"] = ref["port"]
    return out


def build_gateway_model(gateway_classes: Iterable[dict], gateways: Iterable[dict], routes: Iterable[dict],
                        grants: Iterable[dict], services: Iterable[dict], secrets: Iterable[dict] = (),
                        namespaces: Iterable[dict] = (), controller: str = CONTROLLER_NAME) -> GatewayModel:
    grants = list(grants)
    classes = {}
    for gc in gateway_classes:
        name = _meta(gc)[1]
        if _s(_d(gc.get("spec")).get("controllerName")) == controller:
            classes[name] = gc
    svc = {_meta(s): s for s in services}
    sec = {_meta(s): s for s in secrets}
    nss = {_s(_d(n.get("metadata")).get("name")): n for n in namespaces}
    ours: dict[tuple[str, str], list[Listener]] = {}
    gw_objects = {}
    for gw in gateways:
        if _s(_d(gw.get("spec")).get("gatewayClassName")) not in classes:
            continue
        key = _meta(gw)
        gw_objects[key] = gw
        ours[key] = _mark_conflicts([_listener(gw, _d(raw), sec, grants)
                                     for raw in _l(_d(gw.get("spec")).get("listeners"))])
    attached: dict[tuple[str, str, str], int] = {}
    buckets: dict[int, dict[str, list[tuple[GatewayRule, tuple[str, str], str]]]] = {}
    protocols: dict[int, str] = {}
    route_results, problems = [], []
    for route in sorted(routes, key=lambda r: (_created_at(r), "/".join(_meta(r)))):
        rns, rname = _meta(route)
        spec = _d(route.get("spec"))
        hostnames = [_s(h) for h in _l(spec.get("hostnames"))]
        try:
            entries, backend_problems = _rule_entries(route, svc, grants)
            unsupported = ""
        except RouteProblem as exc:
            entries, backend_problems, unsupported = [], [], str(exc)
        parents = []
        for ref in map(_d, _l(spec.get("parentRefs"))):
            pkey = _parent_key(ref, rns)
            if pkey["group"] != GROUP or pkey["kind"] != "Gateway":
                continue
            gkey = (pkey["namespace"], pkey["name"])
            if gkey not in ours:
                continue  # not a Gateway of ours: another controller writes that parent's status
            section, port = pkey.get("sectionName"), pkey.get("port")
            candidates = [lst for lst in ours[gkey] if (section is None or lst.name == section)
                          and (port is None or lst.port == port)]
            if not candidates:
                parents.append(ParentResult(pkey, gkey, (False, NO_MATCHING_PARENT,
                                                         "no listener matches the parentRef's sectionName/port"), ()))
                continue
            allowed = [lst for lst in candidates if not lst.unsupported and "HTTPRoute" in lst.kinds
                       and _namespace_allowed(lst, rns, nss)]
            if not allowed:
                parents.append(ParentResult(pkey, gkey, (False, NOT_ALLOWED_BY_LISTENERS,
                                                         "no listener allows HTTPRoutes from namespace " + rns), ()))
                continue
            hosts_by_listener = [(lst, intersect_hostnames(lst.hostname, hostnames)) for lst in allowed]
            hosts_by_listener = [(lst, hs) for lst, hs in hosts_by_listener if hs is not None]
            if not hosts_by_listener:
                parents.append(ParentResult(pkey, gkey, (False, NO_MATCHING_LISTENER_HOSTNAME,
                                                         "no listener hostname intersects the route's hostnames"), ()))
                continue
            if unsupported:
                parents.append(ParentResult(pkey, gkey, (False, UNSUPPORTED_VALUE, unsupported), ()))
                continue
            names = []
            for lst, hs in hosts_by_listener:
                names.append(lst.name)
                attached[(*gkey, lst.name)] = attached.get((*gkey, lst.name), 0) + 1
                if not lst.valid:
                    continue  # counted (attachedRoutes), but an invalid listener serves nothing
                protocols.setdefault(lst.port, lst.protocol)
                bucket = buckets.setdefault(lst.port, {})
                for host in hs or ("",):
                    bucket.setdefault(host, []).extend((entry, gkey, lst.hostname) for entry in entries)
            parents.append(ParentResult(pkey, gkey, (True, ACCEPTED, "the route is accepted"), tuple(names)))
        if unsupported:
            problems.append(f"HTTPRoute {rns}/{rname}: {unsupported}")
        resolved = (False, backend_problems[0][0], "; ".join(m for _, m in backend_problems)) if backend_problems \
            else (True, RESOLVED_REFS, "all references resolved")
        route_results.append(RouteResult(rns, rname, _generation(route), tuple(parents), resolved))
    ports = {}
    for port, bucket in buckets.items():
        exact, wild, any_host = {}, [], ()
        hostnames = {}
        for gkey, listeners in ours.items():
            hostnames[gkey] = {lst.hostname for lst in listeners if lst.valid and lst.port == port}
        for host, attachments in isolate_listeners(bucket, hostnames).items():
            ordered = tuple(sorted(dict.fromkeys(entry for entry, _, _ in attachments), key=GatewayRule.sort_key))
            if host == "":
                any_host = ordered
            elif host.startswith("*."):
                wild.append((host[1:], ordered))
            else:
                exact[host] = ordered
        wild.sort(key=lambda item: -len(item[0]))
        certs = tuple((lst.hostname, ns, name) for listeners in ours.values() for lst in listeners
                      if lst.port == port and lst.protocol == "HTTPS" and lst.valid for ns, name in lst.certificates)
        ports[port] = PortTable(port, protocols[port], exact, tuple(wild), any_host, certs)
    # Listeners on ports without any route still exist (they answer 404): keep an empty table.
    for listeners in ours.values():
        for lst in listeners:
            if lst.valid and lst.port not in ports:
                certs = tuple((lst.hostname, ns, name) for ns, name in lst.certificates)
                ports[lst.port] = PortTable(lst.port, lst.protocol, {}, (), (), certs)
    gw_results = tuple(GatewayResult(ns, name, _generation(gw_objects[(ns, name)]), tuple(listeners),
                                     {lst.name: attached.get((ns, name, lst.name), 0) for lst in listeners})
                       for (ns, name), listeners in ours.items())
    return GatewayModel({name: (True, "") for name in classes}, gw_results, tuple(route_results), ports,
                        tuple(problems))


def _specificity(hostname: str) -> tuple[int, int]:
    """How specific a listener hostname is: an exact name, then wildcards by length, then none."""
    if not hostname:
        return (0, 0)
    return (1, len(hostname)) if hostname.startswith("*.") else (2, len(hostname))


def _isolated(key: str, gateway_hostnames: Iterable[str], listener_hostname: str) -> bool:
    """Whether a Gateway with listeners `gateway_hostnames` has one more specific than
    `listener_hostname` for every host of bucket `key` (then that listener serves those hosts)."""
    if not key:
        return False
    rank = _specificity(listener_hostname)
    return any(_specificity(other) > rank and _host_matches(other, key) for other in gateway_hostnames)


def _fallback(key: str, keys: Iterable[str]) -> str | None:
    """The bucket the hosts of `key` reach when `key` has none: the longest wildcard covering it,
    else the hostless bucket."""
    covering = [k for k in keys if k != key and k.startswith("*.") and _host_matches(k, key)]
    if covering:
        return max(covering, key=len)
    return "" if "" in keys else None


def isolate_listeners(bucket: dict[str, list[tuple[Any, tuple[str, str], str]]],
                      hostnames: dict[tuple[str, str], set[str]]) -> dict[str, list]:
    """Listener isolation over one port's host buckets: `bucket` maps a bucket hostname to its
    (entry, gateway, listener hostname) attachments, `hostnames` each Gateway's valid listener
    hostnames on the port. Returns the buckets without the isolated attachments, plus a bucket for
    each listener hostname without one whose hosts would otherwise reach isolated attachments."""
    out: dict[str, list] = {}
    for key, attachments in bucket.items():
        out[key] = [a for a in attachments if not _isolated(key, hostnames.get(a[1], ()), a[2])]
    for listener_hostname in sorted({h for hs in hostnames.values() for h in hs if h}):
        if listener_hostname in bucket:
            continue
        fallback = _fallback(listener_hostname, bucket)
        if fallback is None:
            continue
        reached = bucket[fallback]
        kept = [a for a in reached if not _isolated(listener_hostname, hostnames.get(a[1], ()), a[2])]
        if len(kept) != len(reached):
            out[listener_hostname] = kept
    return out


def normalize_request_host(host: str) -> str:
    return normalize_host(host)
