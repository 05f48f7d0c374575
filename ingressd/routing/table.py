"""The route table: Ingress objects -> an immutable host/path index the proxy reads per request.

Built the way ingress-nginx builds its nginx servers (internal/ingress/controller/controller.go):
Ingresses are taken oldest first; every rule host becomes a server, hostless rules go to the
catch-all server; the first Ingress to claim a host+path+pathType keeps it. A host's `/`
fallback is the `spec.defaultBackend` of the oldest Ingress with a rule for that host (none:
404); the catch-all's is that of the oldest Ingress without rules. A host never falls through
to the catch-all: unknown paths on a known host are 404, as with nginx server blocks.

A canary Ingress routes nothing itself: it becomes the CanaryRoute of the main location with the
same host, path string and pathType (mergeAlternativeBackends); what does not attach, and what a
canary Ingress sets in vain, is reported in the table's warnings and errors.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from ingressd.routing.annotations import PREFIX as ANNOTATION_PREFIX
from ingressd.routing.annotations import (
    AnnotationError,
    LocationConfig,
    ignored_on_canary,
    parse_bool,
    parse_location_config,
)
from ingressd.routing.canary import CanaryConfig
from ingressd.routing.hosts import HostIndex, normalize_host
from ingressd.routing.paths import IMPLEMENTATION_SPECIFIC, PREFIX, PathMatcher, expand_rewrite

INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
NGINX_CONTROLLER = "k8s.io/ingress-nginx"


@dataclass(frozen=True)
class BackendRef:
    namespace: str
    service: str
    port: int | str  # number or name, as written in the Ingress

    @functools.cached_property  # read for every proxied request
    def upstream_name(self) -> str:
        return f"{self.namespace}-{self.service}-{self.port}"


@dataclass(frozen=True)
class CanaryRoute:
    """The canary attached to a main location (ingress-nginx's alternative backend)."""

    ingress_namespace: str
    ingress_name: str
    backend: BackendRef | None
    canary: CanaryConfig
    # What applies when the canary serves: the main location's settings (it is the main's nginx
    # location) with the canary Ingress's load-balance and upstream-hash-by (they configure the
    # canary's upstream) and the main's affinity, or none with affinity-canary-behavior legacy.
    config: LocationConfig


@dataclass(frozen=True)
class Location:
    ingress_namespace: str
    ingress_name: str
    host: str  # rule host (lowercase), "" for hostless / catch-all
    path: str  # rule path as written ("/" for a defaultBackend)
    path_type: str  # Exact | Prefix | ImplementationSpecific
    backend: BackendRef | None  # None: a `resource` backend (unsupported) -> 503
    config: LocationConfig
    canary: CanaryRoute | None = None


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: frozen's __init__ costs ~4k instructions a request
class RouteMatch:
    location: Location
    upstream_path: str  # path+query for upstream (rewrite-target applied)
    # e.g. (302, "/app") for app-root: a path, made absolute ($scheme://$http_host) by the proxy
    redirect: tuple[int, str] | None = None


class HostRoutes:
    """One nginx server: its paths, regex mode, and app-root redirect."""

    __slots__ = ("paths", "app_root")

    def __init__(self, paths: PathMatcher[Location]) -> None:
        self.paths = paths
        # nginx emits app-root as a server-level `if ($uri = /)`, in location order: first wins.
        self.app_root: Location | None = next(
            (loc for _, _, loc in paths.ordered if loc.config.app_root), None
        )

    def match(self, target: str) -> RouteMatch | None:
        path, _, query = target.partition("?")  # split_target, inlined: this runs for every request
        if self.app_root is not None and path == "/":
            return RouteMatch(self.app_root, target, (302, self.app_root.config.app_root or "/"))
        hit = self.paths.match(path)
        if hit is None:
            return None
        location, regex_match = hit
        rewrite = location.config.rewrite_target
        if regex_match is None or not rewrite or rewrite == location.path:
            return RouteMatch(location, target)
        upstream_path = expand_rewrite(rewrite, regex_match, query)
        if upstream_path.startswith(("http://", "https://")):
            return RouteMatch(location, target, (302, upstream_path))  # nginx rewrite to a URL redirects
        return RouteMatch(location, upstream_path)


# (ingress namespace, ingress name, field path such as ("spec", "rules", 0, "http", "paths", 1), message)
RouteProblem = tuple[str, str, tuple, str]


class RouteTable:
    """Immutable; `match` is a host dict lookup plus the host's path matcher.

    `warnings`: canaries that attach to nothing and annotations a canary Ingress ignores;
    `errors`: a second canary for a main location (the older canary is the one used).
    """

    __slots__ = ("_hosts", "locations", "ingresses_served", "warnings", "errors")

    def __init__(self, hosts: HostIndex[HostRoutes], locations: tuple[Location, ...], ingresses_served: int,
                 warnings: tuple[RouteProblem, ...] = (), errors: tuple[RouteProblem, ...] = ()) -> None:
        self._hosts = hosts
        self.locations = locations  # every location, for status pages and upstream listings
        self.ingresses_served = ingresses_served
        self.warnings = warnings
        self.errors = errors

    def match(self, host: str, path: str) -> RouteMatch | None:
        """`host`: the Host header (any case, maybe with a port); `path`: the raw request target
        with its query. None means no route: 404."""
        routes = self._hosts.lookup(host)
        return None if routes is None else routes.match(path)


# --- building ---------------------------------------------------------------------------------


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _meta(obj: dict) -> tuple[str, str]:
    meta = _dict(obj.get("metadata"))
    return _str(meta.get("namespace")) or "default", _str(meta.get("name"))


def _annotations(obj: dict) -> dict:
    return _dict(_dict(obj.get("metadata")).get("annotations"))


def _created_at(obj: dict) -> float:
    stamp = _dict(obj.get("metadata")).get("creationTimestamp")
    if isinstance(stamp, datetime):  # YAML may hand us a datetime already
        parsed = stamp
    else:
        try:
            parsed = datetime.fromisoformat(_str(stamp))
        except ValueError:
            return float("-inf")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def oldest_first(ingresses: Iterable[dict]) -> list[dict]:
    """ingress-nginx's sortIngressSlice: creationTimestamp ascending; equal timestamps (common:
    they have one-second resolution) order by "namespace/name" *descending*, as it does."""
    ordered = sorted(ingresses, key=lambda ing: "/".join(_meta(ing)), reverse=True)
    ordered.sort(key=_created_at)
    return ordered


def is_served(ingress: dict, ingress_class: str = "nginx", controller_classes: frozenset[str] = frozenset()) -> bool:
    """No class at all, or our class: spec.ingressClassName first, else the legacy annotation.

    `controller_classes` are IngressClass names whose spec.controller is ingress-nginx's.
    """
    class_name = _dict(ingress.get("spec")).get("ingressClassName")
    if isinstance(class_name, str) and class_name:
        return class_name == ingress_class or class_name in controller_classes
    annotation = _annotations(ingress).get(INGRESS_CLASS_ANNOTATION)
    if isinstance(annotation, str):
        return annotation == ingress_class
    return True


def is_canary(ingress: dict) -> bool:
    value = _annotations(ingress).get(ANNOTATION_PREFIX + "canary")
    try:
        return isinstance(value, str) and parse_bool(value)
    except AnnotationError:
        return False


def backend_ref(namespace: str, backend: Any) -> BackendRef | None:
    """An Ingress backend's Service reference; None for `resource` or malformed backends."""
    service = _dict(_dict(backend).get("service"))
    name = _str(service.get("name"))
    port = _dict(service.get("port"))
    number, port_name = port.get("number"), port.get("name")
    if not name:
        return None
    if isinstance(number, int) and not isinstance(number, bool):
        return BackendRef(namespace, name, number)
    if isinstance(port_name, str) and port_name:
        return BackendRef(namespace, name, port_name)
    return None


def _without_rewrites(config: LocationConfig) -> LocationConfig:
    # ingress-nginx: "Redirect and rewrite can affect the catch all behavior, skip for now".
    return dataclasses.replace(config, use_regex=False, rewrite_target=None, app_root=None)


def _needs_regex(location: Location) -> bool:
    rewrite = location.config.rewrite_target
    return location.config.use_regex or bool(rewrite and rewrite != location.path)


def build_route_table(
    ingresses: list[dict], ingress_classes: Iterable[dict] = (), ingress_class: str = "nginx",
    defaults: LocationConfig | None = None,
) -> RouteTable:
    """`defaults`: the controller ConfigMap's location settings (ingress-nginx's when None)."""
    controller_classes = frozenset(
        _meta(ic)[1]
        for ic in ingress_classes
        if isinstance(ic, dict) and _dict(ic.get("spec")).get("controller") == NGINX_CONTROLLER
    )
    served = [
        ing for ing in ingresses if isinstance(ing, dict) and is_served(ing, ingress_class, controller_classes)
    ]

    host_rules: dict[str, list[tuple[str, str, Location]]] = {}  # rule host -> rules, oldest first
    host_fallback: dict[str, Location | None] = {}  # decided by the oldest Ingress of the host
    catch_all_default: Location | None = None
    canaries: list[dict] = []

    for ing in oldest_first(served):
        if is_canary(ing):
            canaries.append(ing)  # attaches to a main location below, never routes itself
            continue
        namespace, name = _meta(ing)
        spec = _dict(ing.get("spec"))
        config = parse_location_config(_annotations(ing), defaults)
        rules = _list(spec.get("rules"))
        default = backend_ref(namespace, spec.get("defaultBackend"))

        if not rules:
            if default is not None and catch_all_default is None:
                catch_all_default = Location(namespace, name, "", "/", PREFIX, default, _without_rewrites(config))
            continue

        for rule in rules:
            rule = _dict(rule)
            host = normalize_host(_str(rule.get("host")))
            if host and host not in host_fallback:
                host_fallback[host] = (
                    None if default is None else Location(namespace, name, host, "/", PREFIX, default, config)
                )
            claimed = host_rules.setdefault(host, [])
            for item in _list(_dict(rule.get("http")).get("paths")):
                item = _dict(item)
                path = _str(item.get("path")) or "/"
                path_type = _str(item.get("pathType")) or IMPLEMENTATION_SPECIFIC
                backend = backend_ref(namespace, item.get("backend"))
                claimed.append((path, path_type, Location(namespace, name, host, path, path_type, backend, config)))

    servers: dict[str, dict[tuple[str, str], Location]] = {}  # host -> (path, pathType) -> location
    for host in sorted(host_rules.keys() | host_fallback.keys() | ({""} if catch_all_default else set())):
        entries = list(host_rules.get(host, ()))
        fallback = host_fallback.get(host)
        if fallback is not None:
            entries.append(("/", PREFIX, fallback))  # loses to any "/" Prefix rule of the host
        if host == "" and catch_all_default is not None:
            # ingress-nginx keeps the rule-less defaultBackend even over a hostless "/" Prefix rule.
            entries.insert(0, ("/", PREFIX, catch_all_default))
        kept: dict[tuple[str, str], Location] = {}
        for path, path_type, location in entries:
            kept.setdefault((path, path_type), location)  # same host + path + pathType: the oldest Ingress wins
        servers[host] = kept

    warnings: list[RouteProblem] = []
    errors: list[RouteProblem] = []
    if canaries:
        _attach_canaries(canaries, servers, len(served) > len(canaries), warnings, errors)

    hosts: dict[str, HostRoutes] = {}
    catch_all: HostRoutes | None = None
    every: list[Location] = []
    for host, kept in servers.items():
        locations = list(kept.values())
        every.extend(locations)
        routes = HostRoutes(PathMatcher(((loc.path, loc.path_type, loc) for loc in locations),
                                        regex=any(map(_needs_regex, locations))))
        if host:
            hosts[host] = routes
        else:
            catch_all = routes

    return RouteTable(HostIndex(hosts, catch_all), tuple(every), len(served), tuple(warnings), tuple(errors))


# --- canaries (controller.go mergeAlternativeBackends) -------------------------------------------


def canary_location_config(main: LocationConfig, canary_ingress: LocationConfig) -> LocationConfig:
    """The settings in force when the canary serves a main location (see CanaryRoute.config)."""
    legacy = canary_ingress.affinity_canary_behavior == "legacy"
    return dataclasses.replace(
        main,
        load_balance=canary_ingress.load_balance,
        upstream_hash_by=canary_ingress.upstream_hash_by,
        affinity=None if legacy else main.affinity,
        affinity_canary_behavior=canary_ingress.affinity_canary_behavior,
    )


def _attach_canaries(canaries: list[dict], servers: dict[str, dict[tuple[str, str], Location]], have_main: bool,
                     warnings: list[RouteProblem], errors: list[RouteProblem]) -> None:
    """Oldest canary first, so on a conflict the older one keeps the location (it is the first
    alternative backend, the one balancer.lua uses); the newer one is an error."""
    for ing in canaries:
        namespace, name = _meta(ing)
        annotations = _annotations(ing)
        own = parse_location_config(annotations)
        for key, message in ignored_on_canary(annotations):
            warnings.append((namespace, name, ("metadata", "annotations", key), message))
        if not have_main:
            warnings.append((namespace, name, ("spec",), "canary not used: there is no main (non-canary) Ingress"))
            continue
        attach = _Attach(namespace, name, own, servers, errors)
        spec = _dict(ing.get("spec"))
        default = backend_ref(namespace, spec.get("defaultBackend"))
        if default is not None:
            # A canary's defaultBackend becomes the alternative of every location of the catch-all server.
            field = ("spec", "defaultBackend")
            merged = same = False
            for key, loc in list(servers.get("", {}).items()):
                if loc.backend == default:
                    same = True
                    warnings.append((namespace, name, field, _same_upstream(default, namespace, name, "", loc)))
                    break
                if loc.backend is not None:
                    attach(field, "", key, default, loc)
                    merged = True
            if not merged and not same:
                warnings.append((namespace, name, field, _no_main(default, "", None)))

        for ri, rule in enumerate(_list(spec.get("rules"))):
            rule = _dict(rule)
            host = normalize_host(_str(rule.get("host")))
            for pi, item in enumerate(_list(_dict(rule.get("http")).get("paths"))):
                item = _dict(item)
                backend = backend_ref(namespace, item.get("backend"))
                if backend is None:
                    continue  # not a Service: ingress-nginx skips it
                field = ("spec", "rules", ri, "http", "paths", pi)
                server = servers.get(host)
                if server is None:
                    warnings.append((namespace, name, field, (
                        f'canary not used: no main Ingress has host "{host or "*"}" (ingress-nginx: cannot merge'
                        f" alternative backend {backend.upstream_name} into hostname {host or '_'} that does not"
                        " exist)")))
                    continue
                key = (_str(item.get("path")) or "/", _str(item.get("pathType")) or IMPLEMENTATION_SPECIFIC)
                loc = server.get(key)
                if loc is None or loc.backend is None:
                    warnings.append((namespace, name, field, _no_main(backend, host, key)))
                elif loc.backend == backend:
                    warnings.append((namespace, name, field, _same_upstream(backend, namespace, name, host, loc)))
                else:
                    attach(field, host, key, backend, loc)


class _Attach:
    """Makes one canary Ingress the CanaryRoute of main locations; a location that already has
    a canary from another Ingress keeps it and the conflict becomes an error."""

    def __init__(self, namespace: str, name: str, own: LocationConfig,
                 servers: dict[str, dict[tuple[str, str], Location]], errors: list[RouteProblem]) -> None:
        self.namespace, self.name, self.own = namespace, name, own
        self.policy = own.canary or CanaryConfig()
        self.servers, self.errors = servers, errors

    def __call__(self, field: tuple, host: str, key: tuple[str, str], backend: BackendRef, loc: Location) -> None:
        route = loc.canary
        if route is None:
            config = canary_location_config(loc.config, self.own)
            self.servers[host][key] = dataclasses.replace(
                loc, canary=CanaryRoute(self.namespace, self.name, backend, self.policy, config))
        elif (route.ingress_namespace, route.ingress_name) != (self.namespace, self.name):
            self.errors.append((self.namespace, self.name, field, (
                f'a main backend takes one canary: host "{host or "*"}" path "{loc.path}" ({loc.path_type})'
                f" of Ingress {loc.ingress_namespace}/{loc.ingress_name} already has the canary"
                f" {route.ingress_namespace}/{route.ingress_name}, which is older and is used;"
                f" this canary {self.namespace}/{self.name} is ignored there")))


def _no_main(backend: BackendRef, host: str, key: tuple[str, str] | None) -> str:
    where = (f'host "{host or "*"}", path "{key[0]}" and pathType {key[1]}' if key is not None
             else "a rule without host")
    return (f"canary not used: no main Ingress has {where} (ingress-nginx: unable to find real backend for"
            f" alternative backend {backend.upstream_name}. Deleting.)")


def _same_upstream(backend: BackendRef, namespace: str, name: str, host: str, loc: Location) -> str:
    return (f"canary not used: its backend {backend.upstream_name} is the main backend of Ingress"
            f" {loc.ingress_namespace}/{loc.ingress_name} (ingress-nginx: alternative upstream"
            f" {backend.upstream_name} in Ingress {namespace}/{name} is primary upstream in Other Ingress for"
            f" location {host or '_'}{loc.path}!)")
