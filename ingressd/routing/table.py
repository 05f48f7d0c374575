"""The route table: Ingress objects -> an immutable host/path index the proxy reads per request.

Built the way ingress-nginx builds its nginx servers (internal/ingress/controller/controller.go):
Ingresses are taken oldest first; every rule host becomes a server, hostless rules go to the
catch-all server; the first Ingress to claim a host+path+pathType keeps it. A host's `/`
fallback is the `spec.defaultBackend` of the oldest Ingress with a rule for that host (none:
404); the catch-all's is that of the oldest Ingress without rules. A host never falls through
to the catch-all: unknown paths on a known host are 404, as with nginx server blocks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from ingressd.routing.annotations import PREFIX as ANNOTATION_PREFIX
from ingressd.routing.annotations import AnnotationError, LocationConfig, parse_bool, parse_location_config
from ingressd.routing.hosts import HostIndex, normalize_host
from ingressd.routing.paths import IMPLEMENTATION_SPECIFIC, PREFIX, PathMatcher, expand_rewrite, split_target

INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
NGINX_CONTROLLER = "k8s.io/ingress-nginx"


@dataclass(frozen=True)
class BackendRef:
    namespace: str
    service: str
    port: int | str  # number or name, as written in the Ingress

    @property
    def upstream_name(self) -> str:
        return f"{self.namespace}-{self.service}-{self.port}"


@dataclass(frozen=True)
class Location:
    ingress_namespace: str
    ingress_name: str
    host: str  # rule host (lowercase), "" for hostless / catch-all
    path: str  # rule path as written ("/" for a defaultBackend)
    path_type: str  # Exact | Prefix | ImplementationSpecific
    backend: BackendRef | None  # None: a `resource` backend (unsupported) -> 503
    config: LocationConfig


@dataclass(frozen=True)
class RouteMatch:
    location: Location
    upstream_path: str  # path+query for upstream (rewrite-target applied)
    redirect: tuple[int, str] | None = None  # e.g. (302, "/app") for app-root


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
        path, query = split_target(target)
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


class RouteTable:
    """Immutable; `match` is a host dict lookup plus the host's path matcher."""

    __slots__ = ("_hosts", "locations", "ingresses_served")

    def __init__(self, hosts: HostIndex[HostRoutes], locations: tuple[Location, ...], ingresses_served: int) -> None:
        self._hosts = hosts
        self.locations = locations  # every location, for status pages and upstream listings
        self.ingresses_served = ingresses_served

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
    ingresses: list[dict], ingress_classes: Iterable[dict] = (), ingress_class: str = "nginx"
) -> RouteTable:
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

    for ing in oldest_first(served):
        if is_canary(ing):
            continue  # a canary only attaches to a main backend (routing/canary), never routes itself
        namespace, name = _meta(ing)
        spec = _dict(ing.get("spec"))
        config = parse_location_config(_annotations(ing))
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

    servers: dict[str, HostRoutes] = {}
    catch_all: HostRoutes | None = None
    every: list[Location] = []
    for host in sorted(host_rules.keys() | host_fallback.keys() | ({""} if catch_all_default else set())):
        entries = list(host_rules.get(host, ()))
        fallback = host_fallback.get(host)
        if fallback is not None:
            entries.append(("/", PREFIX, fallback))  # loses to any "/" Prefix rule of the host
        if host == "" and catch_all_default is not None:
            # ingress-nginx keeps the rule-less defaultBackend even over a hostless "/" Prefix rule.
            entries.insert(0, ("/", PREFIX, catch_all_default))
        kept: dict[tuple[str, str], tuple[str, str, Location]] = {}
        for entry in entries:
            kept.setdefault(entry[:2], entry)  # same host + path + pathType: the oldest Ingress wins
        locations = [loc for _, _, loc in kept.values()]
        every.extend(locations)
        routes = HostRoutes(PathMatcher(kept.values(), regex=any(map(_needs_regex, locations))))
        if host:
            servers[host] = routes
        else:
            catch_all = routes

    return RouteTable(HostIndex(servers, catch_all), tuple(every), len(served))
