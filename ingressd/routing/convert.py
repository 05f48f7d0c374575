"""Ingress + ingress-nginx annotations -> Gateway API objects, and what cannot be expressed.

Pure: it reads the route table ingressd itself serves (table.build_route_table: the merged
locations after ingress-nginx's host/path de-duplication, canaries attached, annotations parsed
into LocationConfig/CanaryConfig) rather than re-reading annotations, so a conversion describes
what ingressd actually does with the Ingresses.

Layout (as kubernetes-sigs/ingress2gateway's ingress-nginx provider lays it out): one Gateway per
namespace and IngressClass, named after the class, of GatewayClass `ingressd`; per host an
HTTP listener `<host>-http` (port 80) and, for a host in some Ingress's spec.tls, an HTTPS
listener `<host>-https` (port 443, Terminate, certificateRefs the Secret); per host one HTTPRoute
`<ingress>-<host>` (the oldest Ingress with a rule for the host), plus `<ingress>-<host>-http`
on the HTTP listener when ssl-redirect sends its paths to HTTPS.

Every Finding names the Ingress, the host and rule path it concerns, the annotation or field,
and why: "inexpressible" (the Gateway API has no equivalent; the converted routes behave
differently there), "approximate" (emitted, but equal only for the requests the message
describes) or "note" (no difference in outcome).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from ingressd.routing.annotations import ANNOTATIONS, LocationConfig
from ingressd.routing.hosts import normalize_host
from ingressd.routing.paths import EXACT, IMPLEMENTATION_SPECIFIC
from ingressd.routing.table import (
    Location,
    RouteTable,
    build_route_table,
    is_canary,
    is_served,
    oldest_first,
)

GATEWAY_CLASS = "ingressd"
GATEWAY_GROUP = "gateway.networking.k8s.io"
HTTP_PORT, HTTPS_PORT = 80, 443
INEXPRESSIBLE, APPROXIMATE, NOTE = "inexpressible", "approximate", "note"
DEFAULTS = LocationConfig()
OUTCOME_ASPECTS = ("status", "backend", "location", "path")
ALL = frozenset(OUTCOME_ASPECTS)
ANNOTATION = "nginx.ingress.kubernetes.io/"
LOCAL_CA = "ingressd.io/local-ca"  # the same key as ingressd.local_tls.ANNOTATION


@dataclass(frozen=True)
class Finding:
    severity: str  # INEXPRESSIBLE | APPROXIMATE | NOTE
    namespace: str  # of the Ingress
    ingress: str
    host: str  # rule host ("" for hostless rules and Ingress-wide findings)
    path: str | None  # rule path; None: every path of the Ingress on that host
    subject: str  # the annotation key or field, e.g. "nginx.ingress.kubernetes.io/affinity"
    message: str
    # What of a request's outcome it may change (of OUTCOME_ASPECTS), and for which requests only:
    # None = any request of host+path, else a request feature ("cookie", "case", "query").
    affects: frozenset[str] = frozenset()
    when: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "ingress": f"{self.namespace}/{self.ingress}", "host": self.host,
                "path": self.path, "subject": self.subject, "message": self.message,
                "affects": sorted(self.affects), "when": self.when}


@dataclass
class Conversion:
    objects: list[dict] = field(default_factory=list)  # Gateways, HTTPRoutes, ReferenceGrants
    findings: list[Finding] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for obj in self.objects:
            counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
        return {"objects": counts, "findings": [f.as_dict() for f in self.findings]}

    @property
    def known(self) -> list[Finding]:
        """Findings that may change a request's outcome (what --verify accepts as known)."""
        return [f for f in self.findings if f.severity != NOTE]


def dns_label(host: str) -> str:
    """A host as part of an object name: "*.a.b" -> "wildcard-a-b", "" -> "all-hosts"."""
    if not host:
        return "all-hosts"
    return host.replace("*", "wildcard").replace(".", "-")


# Settings without a Gateway API equivalent (standard channel v1.2), with the reason.
_INEXPRESSIBLE_FIELDS: dict[str, tuple[str, str]] = {
    "proxy_body_size": ("proxy-body-size", ("the Gateway API has no request body size limit; larger bodies are"
                        " forwarded instead of answered 413")),
    "proxy_request_buffering": ("proxy-request-buffering", "the Gateway API does not control request buffering"),
    "client_body_buffer_size": ("client-body-buffer-size", "the Gateway API does not control body buffering"),
    "proxy_next_upstream": ("proxy-next-upstream", ("retries are not in the standard channel (HTTPRoute retry is"
                            " experimental, GEP-1731)")),
    "proxy_next_upstream_tries": ("proxy-next-upstream-tries", ("retries are not in the standard channel"
                                  " (GEP-1731)")),
    "load_balance": ("load-balance", "the Gateway API does not choose the load-balancing algorithm"),
    "upstream_hash_by": ("upstream-hash-by", ("consistent hashing is not in the Gateway API; requests are"
                         " balanced without regard to the hash key")),
    "affinity": ("affinity", ("session affinity (cookie) is not in the standard channel (session persistence is"
                 " experimental, GEP-1619): no affinity cookie is set and clients are not pinned")),
    "backend_protocol": ("backend-protocol", ("TLS to the backend needs BackendTLSPolicy (experimental); the"
                         " converted route speaks plain HTTP to the pods")),
    "proxy_ssl_verify": ("proxy-ssl-verify", "needs BackendTLSPolicy (experimental)"),
    "proxy_ssl_name": ("proxy-ssl-name", "needs BackendTLSPolicy (experimental)"),
    "proxy_ssl_server_name": ("proxy-ssl-server-name", "needs BackendTLSPolicy (experimental)"),
    "proxy_connect_timeout": ("proxy-connect-timeout", "the Gateway API has no connect timeout"),
    "proxy_send_timeout": ("proxy-send-timeout", "the Gateway API has no timeout between two writes"),
}
_AFFINITY_DETAILS = ("affinity_mode", "session_cookie_name", "session_cookie_path", "session_cookie_domain",
                     "session_cookie_expires", "session_cookie_max_age", "session_cookie_secure",
                     "session_cookie_samesite", "session_cookie_conditional_samesite_none",
                     "session_cookie_change_on_failure", "affinity_canary_behavior")

# `<prefix>(/|$)(.*)` with rewrite-target `/$2`: the idiom for "strip the prefix".
_STRIP_PREFIX = re.compile(r"^(/[A-Za-z0-9._~\-/]*?)/?\(/\|\$\)\(\.\*\)$")


class _Converter:
    def __init__(self, objects: list[dict], ingress_class: str) -> None:
        self.ingress_class = ingress_class
        self.ingresses = [o for o in objects if isinstance(o, dict) and o.get("kind") == "Ingress"]
        classes = [o for o in objects if isinstance(o, dict) and o.get("kind") == "IngressClass"]
        self.table: RouteTable = build_route_table(self.ingresses, classes, ingress_class)
        controller = frozenset(_name(c) for c in classes
                               if _spec(c).get("controller") == "k8s.io/ingress-nginx")
        self.served = [i for i in self.ingresses if is_served(i, ingress_class, controller)]
        self.out = Conversion()
        self.tls = self._tls_hosts()
        self._seen: set[tuple] = set()

    # --- findings -----------------------------------------------------------------------------
    def find(self, severity: str, loc: Location | tuple[str, str], host: str, path: str | None, subject: str,
             message: str, affects: frozenset[str] | tuple = (), when: str | None = None) -> None:
        ns, name = (loc.ingress_namespace, loc.ingress_name) if isinstance(loc, Location) else loc
        key = (severity, ns, name, host, path, subject)
        if key not in self._seen:
            self._seen.add(key)
            self.out.findings.append(Finding(severity, ns, name, host, path, subject, message,
                                             frozenset(affects), when))

    def _tls_hosts(self) -> dict[str, tuple[str, str]]:
        """TLS host -> (namespace, Secret) of the oldest served Ingress listing it (and in
        self.local_ca whether that Ingress has ingressd issue the Secret)."""
        hosts: dict[str, tuple[str, str]] = {}
        self.local_ca: dict[str, bool] = {}
        for ing in oldest_first(self.served):
            if is_canary(ing):
                continue
            ns = _namespace(ing)
            for entry in _list(_spec(ing).get("tls")):
                secret = entry.get("secretName") if isinstance(entry, dict) else None
                for host in _list(entry.get("hosts") if isinstance(entry, dict) else None):
                    if isinstance(host, str) and host and secret and normalize_host(host) not in hosts:
                        hosts[normalize_host(host)] = (ns, secret)
                        self.local_ca[normalize_host(host)] = str((_meta(ing).get("annotations") or {}).get(
                            LOCAL_CA, "")).lower() == "true"
        return hosts

    # --- the conversion ---------------------------------------------------------------------------
    def run(self) -> Conversion:
        for ing in self.ingresses:
            if ing not in self.served:
                self.find(NOTE, (_namespace(ing), _name(ing)), "", None, "spec.ingressClassName",
                          f"not served by ingress class {self.ingress_class!r}: not converted")
        for ing in self.served:
            for key in _meta(ing).get("annotations") or {}:
                if isinstance(key, str) and key.startswith(ANNOTATION):
                    spec = ANNOTATIONS.get(key[len(ANNOTATION):])
                    if spec is None or not spec.supported:
                        self.find(INEXPRESSIBLE, (_namespace(ing), _name(ing)), "", None, key,
                                  ("unknown annotation" if spec is None else "not implemented by ingressd")
                                  + ": not converted, and --verify cannot compare it; translate it by hand")
        for ns, name, _, message in self.table.warnings + self.table.errors:
            self.find(NOTE, (ns, name), "", None, "canary", message)
        by_host: dict[str, list[Location]] = {}
        for loc in self.table.locations:
            by_host.setdefault(loc.host, []).append(loc)
        gateways: dict[str, dict] = {}  # namespace -> Gateway
        routes: list[dict] = []
        grants: dict[tuple[str, str], set[str]] = {}
        for host in sorted(by_host):
            locations = by_host[host]
            owner = locations[0]
            ns = owner.ingress_namespace
            gateway = gateways.get(ns)
            if gateway is None:
                gateway = gateways[ns] = _gateway(ns, self.ingress_class)
            listeners = self._listeners(gateway, host, owner)
            routes.extend(self._routes(host, locations, ns, listeners, grants))
        self.out.objects.extend(gateways[ns] for ns in sorted(gateways))
        self.out.objects.extend(routes)
        for (from_ns, to_ns), services in sorted(grants.items()):
            self.out.objects.append(_reference_grant(from_ns, to_ns, sorted(services)))
        return self.out

    def _listeners(self, gateway: dict, host: str, owner: Location) -> tuple[str, str | None]:
        label = dns_label(host)
        items = gateway["spec"]["listeners"]
        # ingress2gateway's names: "<host>-http", just "http" without a host ("wildcard-" keeps
        # "*.a.b" apart from "a.b", which ingress2gateway would name alike)
        http = {"name": f"{label}-http" if host else "http", "port": HTTP_PORT, "protocol": "HTTP"}
        if host:
            http["hostname"] = host
        items.append(http)
        if not host:
            self.find(NOTE, owner, host, None, "spec.rules[].host",
                      "rules without host: an HTTP listener without hostname (every host); no HTTPS listener,"
                      " which would need a certificate for every host")
            return http["name"], None
        tls = self.tls.get(host)
        if tls is None:
            self.find(NOTE, owner, host, None, "spec.tls",
                      f"host {host} has no TLS: ingress-nginx also serves it over HTTPS with its default"
                      " certificate; the Gateway has no HTTPS listener for it")
            return http["name"], None
        secret_ns, secret = tls
        if self.local_ca.get(host):
            gateway["metadata"].setdefault("annotations", {})[LOCAL_CA] = "true"
            self.find(NOTE, owner, host, None, LOCAL_CA,
                      f"Secret {secret} is issued by ingressd's local CA: the Gateway carries {LOCAL_CA} so"
                      " ingressd issues it for the HTTPS listeners too; on a cluster provide the Secret")
        ref: dict[str, Any] = {"kind": "Secret", "name": secret}
        if secret_ns != gateway["metadata"]["namespace"]:
            ref["namespace"] = secret_ns
        items.append({"name": f"{label}-https", "port": HTTPS_PORT, "protocol": "HTTPS", "hostname": host,
                      "tls": {"mode": "Terminate", "certificateRefs": [ref]}})
        return http["name"], f"{label}-https"

    def _routes(self, host: str, locations: list[Location], ns: str, listeners: tuple[str, str | None],
                grants: dict) -> list[dict]:
        http_listener, https_listener = listeners
        owner = locations[0]
        regex_host = any(_needs_regex(loc) for loc in locations)
        app_root = next((loc for loc in _nginx_order(locations) if loc.config.app_root), None)
        secure_rules: list[dict] = []  # served on HTTPS (and on HTTP when not redirected)
        plain_rules: list[dict] = []  # the HTTP listener's, when some path redirects to HTTPS
        any_redirect = False
        if app_root is not None:
            rule = {"matches": [{"path": {"type": "Exact", "value": "/"}}],
                    "filters": [{"type": "RequestRedirect", "requestRedirect": {
                        "path": {"type": "ReplaceFullPath", "replaceFullPath": app_root.config.app_root},
                        "statusCode": 302}}]}
            secure_rules.append(rule)
            plain_rules.append(rule)
            self.find(APPROXIMATE, app_root, host, "/", ANNOTATION + "app-root",
                      "app-root becomes a 302 RequestRedirect of Exact / (ReplaceFullPath); nginx drops the query"
                      " string of / in that redirect, the Gateway API keeps it", {"location"}, "query")
        for loc in locations:
            rules = self._rules(host, loc, regex_host, ns, grants)
            secure_rules.extend(rules)
            redirect = loc.config.force_ssl_redirect or (loc.config.ssl_redirect and host in self.tls)
            if redirect:
                any_redirect = True
                why = "force-ssl-redirect" if loc.config.force_ssl_redirect else "ssl-redirect"
                for rule in rules:
                    plain_rules.append({"matches": copy.deepcopy(rule["matches"]), "filters": [
                        {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 308}}]})
                self.find(APPROXIMATE, loc, host, loc.path, ANNOTATION + why,
                          "HTTP requests get a 308 RequestRedirect to https on the HTTP listener, as from"
                          " ingress-nginx (statusCode 308 needs the Gateway API v1.5 or later CRDs on a cluster;"
                          " v1.4 and older accept only 301 and 302); but ingress-nginx serves"
                          " /.well-known/acme-challenge/ over HTTP, the converted route redirects it too",
                          ALL, when="acme")
            else:
                plain_rules.extend(rules)
        name = f"{owner.ingress_name}-{dns_label(host)}"
        hostnames = [host] if host else []

        def route(route_name: str, sections: list[str], rules: list[dict]) -> dict:
            spec: dict[str, Any] = {"parentRefs": [{"name": self.ingress_class, "sectionName": s} for s in sections]}
            if hostnames:
                spec["hostnames"] = hostnames
            spec["rules"] = rules
            return {"apiVersion": f"{GATEWAY_GROUP}/v1", "kind": "HTTPRoute",
                    "metadata": {"name": route_name, "namespace": ns}, "spec": spec}

        if https_listener is None:
            return [route(name, [http_listener], plain_rules if any_redirect else secure_rules)]
        if not any_redirect:
            return [route(name, [http_listener, https_listener], secure_rules)]
        return [route(name, [https_listener], secure_rules), route(f"{name}-http", [http_listener], plain_rules)]

    def _rules(self, host: str, loc: Location, regex_host: bool, ns: str, grants: dict) -> list[dict]:
        """The rules of one location: canary header/cookie rules first (same path, one header
        match each: they win over the plain rule, and among themselves the first listed wins)."""
        path_match, rewrite = self._path(host, loc, regex_host)
        filters = [rewrite] if rewrite else []
        self._settings(host, loc)
        main = self._backend(loc, loc.backend, ns, grants)
        if main is None:
            self.find(INEXPRESSIBLE, loc, host, loc.path, "backend.resource",
                      "a resource backend (not a Service) cannot be a backendRef of ingressd; it answers 503", ALL)
            return [_rule(path_match, [], filters, [])]
        route = loc.canary
        if route is None or route.backend is None:
            return self._timeouts(loc, [_rule(path_match, [], filters, [main])])
        canary = self._backend(loc, route.backend, ns, grants)
        cfg = route.canary
        where = (host, loc.path)
        canary_name = f"{route.ingress_namespace}/{route.ingress_name}"
        if loc.config.affinity == "cookie":
            self.find(INEXPRESSIBLE, loc, *where, ANNOTATION + "affinity",
                      f"the affinity cookie pins a client to main or canary {canary_name} before any header,"
                      " cookie or weight is looked at; Gateway routing has no such pinning", {"backend"})
        rules: list[dict] = []
        header = cfg.header_key
        if header:
            if cfg.by_header_value:
                rules.append(_rule(path_match, [{"type": "Exact", "name": header, "value": cfg.by_header_value}],
                                   filters, [_only(canary)]))
            elif cfg.by_header_pattern:
                rules.append(_rule(path_match, [{"type": "RegularExpression", "name": header,
                                                 "value": f".*(?:{cfg.by_header_pattern}).*"}], filters,
                                   [_only(canary)]))
                self.find(APPROXIMATE, (route.ingress_namespace, route.ingress_name), *where,
                          ANNOTATION + "canary-by-header-pattern",
                          "a RegularExpression header match .*(?:pattern).* (Gateway regexes match the whole value;"
                          " nginx searches the PCRE pattern anywhere in it); the regex dialect is"
                          " implementation-specific, and a pattern that does not compile sends nginx's requests to"
                          " main while the Gateway rejects the rule", {"backend"})
            else:
                rules.append(_rule(path_match, [{"type": "Exact", "name": header, "value": "always"}],
                                   filters, [_only(canary)]))
                rules.append(_rule(path_match, [{"type": "Exact", "name": header, "value": "never"}],
                                   filters, [_only(main)]))
        if cfg.by_cookie:
            cookie = re.escape(cfg.by_cookie)
            for value, target in (("always", canary), ("never", main)):
                rules.append(_rule(path_match, [{"type": "RegularExpression", "name": "Cookie",
                                                 "value": f"(^|.*; ?){cookie}={value}(;.*|$)"}],
                                   filters, [_only(target)]))
            self.find(APPROXIMATE, (route.ingress_namespace, route.ingress_name), *where,
                      ANNOTATION + "canary-by-cookie",
                      f"the Gateway API has no cookie match: approximated by a RegularExpression on the Cookie"
                      f" header for {cfg.by_cookie}=always|never; nginx matches the cookie name"
                      " case-insensitively and takes the first of repeated cookies, the regex does neither",
                      {"backend"}, "cookie")
        total = cfg.total
        if cfg.weight <= 0:
            default = [main]
        elif cfg.weight >= total:
            default = [_only(canary)]
        else:
            default = [{**main, "weight": total - cfg.weight}, {**canary, "weight": cfg.weight}]
        rules.append(_rule(path_match, [], filters, default))
        self._timeouts(loc, rules)
        if cfg.weight_total != 100:
            self.find(NOTE, (route.ingress_namespace, route.ingress_name), *where, ANNOTATION + "canary-weight-total",
                      f"weights {total - cfg.weight}:{cfg.weight} (a total <= 100 counts as 100)")
        return rules

    def _timeouts(self, loc: Location, rules: list[dict]) -> list[dict]:
        read = loc.config.proxy_read_timeout
        if read != DEFAULTS.proxy_read_timeout:
            for rule in rules:
                rule["timeouts"] = {"backendRequest": f"{read:g}s"}
        return rules

    def _backend(self, loc: Location, ref, ns: str, grants: dict) -> dict | None:
        if ref is None:
            return None
        out: dict[str, Any] = {"name": ref.service}
        if ref.namespace != ns:
            out["namespace"] = ref.namespace
            grants.setdefault((ns, ref.namespace), set()).add(ref.service)
        if isinstance(ref.port, int):
            out["port"] = ref.port
        else:
            out["port"] = ref.port  # resolved below by the caller that knows the Services
            self.find(NOTE, loc, loc.host, loc.path, "backend.service.port.name",
                      f"Service port {ref.port!r} is named; a backendRef takes the port number (resolved from"
                      f" Service {ref.namespace}/{ref.service} when it is in the manifests)")
        return out

    def _path(self, host: str, loc: Location, regex_host: bool) -> tuple[dict, dict | None]:
        rewrite = loc.config.rewrite_target
        if rewrite == loc.path:
            rewrite = None
        if regex_host:
            strip = _STRIP_PREFIX.match(loc.path)
            if strip is not None and rewrite == "/$2":
                prefix = strip.group(1) or "/"
                self.find(APPROXIMATE, loc, host, loc.path, ANNOTATION + "rewrite-target",
                          f"the strip-prefix idiom {loc.path} -> /$2 becomes PathPrefix {prefix} with URLRewrite"
                          " ReplacePrefixMatch /; nginx matches case-insensitively, the Gateway API does not",
                          ALL, "case")
                return ({"path": {"type": "PathPrefix", "value": prefix}},
                        {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch",
                                                                       "replacePrefixMatch": "/"}}})
            value = "(?i)" + loc.path + ".*"
            self.find(APPROXIMATE, loc, host, loc.path, ANNOTATION + "use-regex",
                      f"regex mode for host {host or '*'} (use-regex or rewrite-target): the path becomes the"
                      " RegularExpression (?i)<path>.* (nginx: case-insensitive, anchored at the start only);"
                      " nginx tries the host's regexes longest first and takes the first match, while the"
                      " precedence of RegularExpression matches and their dialect are implementation-specific"
                      " in the Gateway API (ingressd tries them after Exact and PathPrefix matches)", ALL)
            match = {"path": {"type": "RegularExpression", "value": value}}
            if rewrite is None:
                return match, None
            if "$" in rewrite:
                self.find(INEXPRESSIBLE, loc, host, loc.path, ANNOTATION + "rewrite-target",
                          f"rewrite-target {rewrite!r} uses capture groups of the path regex; URLRewrite replaces"
                          " a whole path or a path prefix only, so the path is forwarded unchanged", {"path"})
                return match, None
            if rewrite.startswith(("http://", "https://")):
                self.find(INEXPRESSIBLE, loc, host, loc.path, ANNOTATION + "rewrite-target",
                          f"rewrite-target {rewrite!r} is a URL: nginx redirects to it; not converted", ALL)
                return match, None
            return match, {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplaceFullPath",
                                                                         "replaceFullPath": rewrite}}}
        if loc.path_type == EXACT:
            return {"path": {"type": "Exact", "value": loc.path}}, None
        value = loc.path.rstrip("/") or "/"
        if loc.path_type == IMPLEMENTATION_SPECIFIC:
            self.find(NOTE, loc, host, loc.path, "spec.rules[].http.paths[].pathType",
                      "ImplementationSpecific without regex mode is a Prefix match in ingressd: PathPrefix")
        return {"path": {"type": "PathPrefix", "value": value}}, None

    def _settings(self, host: str, loc: Location) -> None:
        cfg = loc.config
        for name, (annotation, reason) in _INEXPRESSIBLE_FIELDS.items():
            if getattr(cfg, name) != getattr(DEFAULTS, name):
                self.find(INEXPRESSIBLE, loc, host, None, ANNOTATION + annotation,
                          f"{annotation}={_show(getattr(cfg, name))}: {reason}",
                          ALL if name == "backend_protocol" else ())
        if cfg.proxy_read_timeout != DEFAULTS.proxy_read_timeout:
            self.find(APPROXIMATE, loc, host, None, ANNOTATION + "proxy-read-timeout",
                      f"proxy-read-timeout {cfg.proxy_read_timeout:g}s is the longest wait between two reads;"
                      " it becomes timeouts.backendRequest, the longest wait for the whole response")
        if cfg.affinity:
            for detail in _AFFINITY_DETAILS:
                if getattr(cfg, detail) != getattr(DEFAULTS, detail):
                    self.find(INEXPRESSIBLE, loc, host, None, ANNOTATION + detail.replace("_", "-"),
                              "part of session affinity, which is not converted")


def _rule(path_match: dict, headers: list[dict], filters: list[dict], backends: list[dict]) -> dict:
    match = copy.deepcopy(path_match)
    if headers:
        match["headers"] = headers
    rule: dict[str, Any] = {"matches": [match]}
    if filters:
        rule["filters"] = copy.deepcopy(filters)
    rule["backendRefs"] = backends
    return rule


def _only(backend: dict) -> dict:
    return {k: v for k, v in backend.items() if k != "weight"}


def _show(value: Any) -> str:
    if isinstance(value, frozenset):
        return " ".join(sorted(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _needs_regex(loc: Location) -> bool:
    rewrite = loc.config.rewrite_target
    return loc.config.use_regex or bool(rewrite and rewrite != loc.path)


def _nginx_order(locations: list[Location]) -> list[Location]:
    ordered = sorted(locations, key=lambda loc: loc.path, reverse=True)
    ordered.sort(key=lambda loc: len(loc.path), reverse=True)
    return ordered


def _gateway(namespace: str, ingress_class: str) -> dict:
    return {"apiVersion": f"{GATEWAY_GROUP}/v1", "kind": "Gateway",
            "metadata": {"name": ingress_class, "namespace": namespace},
            "spec": {"gatewayClassName": GATEWAY_CLASS, "listeners": []}}


def _reference_grant(from_ns: str, to_ns: str, services: list[str]) -> dict:
    return {"apiVersion": f"{GATEWAY_GROUP}/v1beta1", "kind": "ReferenceGrant",
            "metadata": {"name": f"from-{from_ns}", "namespace": to_ns},
            "spec": {"from": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute", "namespace": from_ns}],
                     "to": [{"group": "", "kind": "Service", "name": s} for s in services]}}


def _spec(obj: dict) -> dict:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _meta(obj: dict) -> dict:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _name(obj: dict) -> str:
    return str(_meta(obj).get("name") or "")


def _namespace(obj: dict) -> str:
    return str(_meta(obj).get("namespace") or "default")


def _resolve_ports(conversion: Conversion, objects: list[dict]) -> None:
    """Named Service ports -> numbers, from the Services in the manifests."""
    ports: dict[tuple[str, str, str], int] = {}
    for svc in objects:
        if isinstance(svc, dict) and svc.get("kind") == "Service":
            for port in _list(_spec(svc).get("ports")):
                if isinstance(port, dict) and isinstance(port.get("name"), str) and isinstance(port.get("port"), int):
                    ports[(_namespace(svc), _name(svc), port["name"])] = port["port"]
    for obj in conversion.objects:
        if obj["kind"] != "HTTPRoute":
            continue
        for rule in obj["spec"]["rules"]:
            for ref in rule.get("backendRefs", ()):
                if isinstance(ref.get("port"), str):
                    key = (ref.get("namespace", obj["metadata"]["namespace"]), ref["name"], ref["port"])
                    if key in ports:
                        ref["port"] = ports[key]
                    else:
                        conversion.findings.append(Finding(
                            INEXPRESSIBLE, obj["metadata"]["namespace"], obj["metadata"]["name"], "", None,
                            "backendRef.port", f"Service port {ref['port']!r} of {key[0]}/{key[1]} is not in the"
                            " manifests: a backendRef needs the port number; fill it in", ALL))


def convert(objects: list[dict], ingress_class: str = "nginx") -> Conversion:
    """Gateway API objects for the Ingresses among `objects` (Services are read for port names)."""
    conversion = _Converter(objects, ingress_class).run()
    _resolve_ports(conversion, objects)
    return conversion
