"""Checks for networking.k8s.io/v1 Ingress and IngressClass and discovery.k8s.io/v1 EndpointSlice.

Ingress checks follow kube-apiserver's pkg/apis/networking/validation, with its messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingressd.objects import names
from ingressd.objects.core import check_protocol
from ingressd.objects.report import Report

PATH_TYPES = frozenset({"Exact", "Prefix", "ImplementationSpecific"})
NGINX_PREFIX = "nginx.ingress.kubernetes.io/"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

_SPEC_FIELDS = frozenset({"ingressClassName", "defaultBackend", "tls", "rules"})
_RULE_FIELDS = frozenset({"host", "http"})
_HTTP_FIELDS = frozenset({"paths"})
_PATH_FIELDS = frozenset({"path", "pathType", "backend"})
_BACKEND_FIELDS = frozenset({"service", "resource"})
_SERVICE_FIELDS = frozenset({"name", "port"})
_PORT_FIELDS = frozenset({"name", "number"})
_TLS_FIELDS = frozenset({"hosts", "secretName"})
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_REGEX_CHARS = re.compile(r"[\^$()\[\]{}*+?|\\]")


@dataclass
class IngressRefs:
    """What an Ingress points at, for cross-object checks: (field path, service name, port number or name)."""

    services: list[tuple[tuple, str, int | str]] = field(default_factory=list)
    secrets: list[tuple[tuple, str]] = field(default_factory=list)


def regex_mode(annotations: dict) -> bool:
    """ingress-nginx treats paths as regexes with use-regex "true" or any rewrite-target."""
    return (annotations.get(NGINX_PREFIX + "use-regex") == "true"
            or bool(annotations.get(NGINX_PREFIX + "rewrite-target")))


def check_ingress(r: Report, obj: dict, annotations: dict[str, str]) -> IngressRefs:
    refs = IngressRefs()
    path = ("spec",)
    spec = r.mapping(obj, (), "spec")
    if spec is None:
        if obj.get("spec") is None:
            r.required(path, "either `defaultBackend` or `rules` must be specified")
        return refs
    r.unknown_fields(spec, path, _SPEC_FIELDS)
    rules = r.list(spec, path, "rules")
    default_backend = r.mapping(spec, path, "defaultBackend")
    if not rules and default_backend is None and spec.get("defaultBackend") is None:
        r.required(path, "either `defaultBackend` or `rules` must be specified")
    if default_backend is not None:
        _check_backend(r, default_backend, path + ("defaultBackend",), refs)
    regex = regex_mode(annotations)
    for _, rule, rule_path in r.mappings(rules or [], path + ("rules",)):
        r.unknown_fields(rule, rule_path, _RULE_FIELDS)
        host = r.string(rule, rule_path, "host")
        if host:
            r.check(rule_path + ("host",), host, names.host_name(host))
        http = r.mapping(rule, rule_path, "http")
        if http is None:
            continue
        http_path = rule_path + ("http",)
        r.unknown_fields(http, http_path, _HTTP_FIELDS)
        paths = r.list(http, http_path, "paths", required=True)
        for _, item, item_path in r.mappings(paths or [], http_path + ("paths",)):
            _check_path(r, item, item_path, regex, refs)
    tls = r.list(spec, path, "tls")
    for _, entry, tls_path in r.mappings(tls or [], path + ("tls",)):
        r.unknown_fields(entry, tls_path, _TLS_FIELDS)
        for i, host in enumerate(r.list(entry, tls_path, "hosts") or []):
            if r.is_string(tls_path + ("hosts", i), host):
                r.check(tls_path + ("hosts", i), host, names.host_name(host))
        secret = r.string(entry, tls_path, "secretName")
        if secret and r.check(tls_path + ("secretName",), secret, names.dns1123_subdomain(secret)):
            refs.secrets.append((tls_path + ("secretName",), secret))
    class_name = r.string(spec, path, "ingressClassName")
    if class_name:
        r.check(path + ("ingressClassName",), class_name, names.dns1123_subdomain(class_name))
    return refs


def _check_path(r: Report, item: dict, path: tuple, regex: bool, refs: IngressRefs) -> None:
    r.unknown_fields(item, path, _PATH_FIELDS)
    value = r.string(item, path, "path") or ""
    path_type = r.string(item, path, "pathType", required=True, detail="pathType must be specified")
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            r.invalid(path + ("path",), value, "must be an absolute path")
        for sequence in _INVALID_PATH_SEQUENCES:
            if sequence in value:
                r.invalid(path + ("path",), value, f"must not contain '{sequence}'")
        for suffix in _INVALID_PATH_SUFFIXES:
            if value.endswith(suffix):
                r.invalid(path + ("path",), value, f"cannot end with '{suffix}'")
        if regex and _REGEX_CHARS.search(value):
            r.warn(path + ("path",), f"regex path with pathType {path_type}: ingress-nginx rejects it "
                                     "(strict-validate-path-type); use ImplementationSpecific")
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/") and not regex:
            r.invalid(path + ("path",), value, "must be an absolute path")
    elif path_type is not None:
        r.unsupported(path + ("pathType",), path_type, PATH_TYPES)
    backend = r.mapping(item, path, "backend", required=True)
    if backend is not None:
        _check_backend(r, backend, path + ("backend",), refs)


def _check_backend(r: Report, backend: dict, path: tuple, refs: IngressRefs) -> None:
    r.unknown_fields(backend, path, _BACKEND_FIELDS)
    service = r.mapping(backend, path, "service")
    resource = r.mapping(backend, path, "resource")
    if service is not None and resource is not None:
        r.invalid(path, "", "cannot set both resource and service backends")
        return
    if resource is not None:
        for key in ("kind", "name"):
            r.string(resource, path + ("resource",), key, required=True)
        r.warn(path + ("resource",), "resource backends are not supported by ingressd: requests get 503")
        return
    if service is None:
        if backend.get("service") is None and backend.get("resource") is None:
            r.invalid(path, "", "resource or service backend is required")
        return
    service_path = path + ("service",)
    r.unknown_fields(service, service_path, _SERVICE_FIELDS)
    name = r.string(service, service_path, "name", required=True)
    name_ok = bool(name) and r.check(service_path + ("name",), name, names.dns1035_label(name))
    port = r.mapping(service, service_path, "port", required=True, detail="port name or number is required")
    if port is None:
        return
    port_path = service_path + ("port",)
    r.unknown_fields(port, port_path, _PORT_FIELDS)
    port_name = r.string(port, port_path, "name")
    number = r.integer(port, port_path, "number")
    wrong_type = ((port.get("name") is not None and port_name is None)
                  or (port.get("number") is not None and number is None))
    if port_name and number:
        r.invalid(port_path, "", "cannot set both port name & port number")
    elif port_name:
        if r.check(port_path + ("name",), port_name, names.port_name(port_name)) and name_ok:
            refs.services.append((service_path + ("name",), name, port_name))
    elif number:
        if r.check(port_path + ("number",), number, names.port_number(number)) and name_ok:
            refs.services.append((service_path + ("name",), name, number))
    elif not wrong_type:
        r.required(port_path, "port name or number is required")


def check_ingress_class(r: Report, obj: dict) -> None:
    path = ("spec",)
    spec = r.mapping(obj, (), "spec", required=True)
    if spec is None:
        return
    r.string(spec, path, "controller", required=True)
    parameters = r.mapping(spec, path, "parameters")
    if parameters is not None:
        for key in ("kind", "name"):
            r.string(parameters, path + ("parameters",), key, required=True)


ADDRESS_TYPES = frozenset({"IPv4", "IPv6", "FQDN"})


def check_endpoint_slice(r: Report, obj: dict, labels: dict) -> None:
    address_type = r.string(obj, (), "addressType", required=True)
    if address_type and address_type not in ADDRESS_TYPES:
        r.unsupported(("addressType",), address_type, ADDRESS_TYPES)
    endpoints = r.list(obj, (), "endpoints")
    for _, endpoint, endpoint_path in r.mappings(endpoints or [], ("endpoints",)):
        addresses = r.list(endpoint, endpoint_path, "addresses", required=True,
                           detail="must contain at least 1 address")
        if addresses and len(addresses) > 100:
            r.error(endpoint_path + ("addresses",), f"Too many: {len(addresses)}: must have at most 100 items")
        for i, address in enumerate(addresses or []):
            where = endpoint_path + ("addresses", i)
            if not r.is_string(where, address):
                continue
            if address_type == "IPv4" and not names.is_ip(address, 4):
                r.invalid(where, address, "must be a valid IPv4 address")
            elif address_type == "IPv6" and not names.is_ip(address, 6):
                r.invalid(where, address, "must be a valid IPv6 address")
            elif address_type == "FQDN":
                r.check(where, address, names.dns1123_subdomain(address))
        conditions = r.mapping(endpoint, endpoint_path, "conditions")
        if conditions is not None:
            for key in ("ready", "serving", "terminating"):
                r.boolean(conditions, endpoint_path + ("conditions",), key)
        r.mapping(endpoint, endpoint_path, "targetRef")
        for key in ("hostname", "nodeName", "zone"):
            r.string(endpoint, endpoint_path, key)
    ports = r.list(obj, (), "ports")
    port_names: set[str] = set()
    for _, port, port_path in r.mappings(ports or [], ("ports",)):
        name = r.string(port, port_path, "name")
        if name is not None:
            valid = not name or r.check(port_path + ("name",), name, names.dns1123_label(name))
            if valid and name in port_names:
                r.error(port_path + ("name",), f'Duplicate value: "{name}"')
            port_names.add(name)
        number = r.integer(port, port_path, "port")
        if number is not None:
            r.check(port_path + ("port",), number, names.port_number(number))
        check_protocol(r, port, port_path)
        r.string(port, port_path, "appProtocol")
    if SERVICE_NAME_LABEL not in labels:
        r.warn(("metadata", "labels"),
               f"label {SERVICE_NAME_LABEL} is missing: no Service uses this EndpointSlice")
