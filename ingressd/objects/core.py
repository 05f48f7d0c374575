"""Checks for core/v1 kinds (metadata, Service, Endpoints, Secret, ConfigMap, Pod and its containers).

Only what ingressd relies on or what kube-apiserver would reject; messages use the API server's words.
"""

from __future__ import annotations

from collections.abc import Callable

from ingressd.cluster.quantity import parse_quantity
from ingressd.objects import names
from ingressd.objects.problems import Key
from ingressd.objects.report import Report
from ingressd.pods.images import runnable
from ingressd.pods.subpath import sub_path_problems
from ingressd.routing.tls import check_tls_secret

PROTOCOLS = frozenset({"TCP", "UDP", "SCTP"})

METADATA_FIELDS = frozenset({
    "name", "generateName", "namespace", "labels", "annotations", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers",
    "managedFields", "selfLink",
})


# -- metadata ------------------------------------------------------------------------------------

def check_metadata(r: Report, obj: dict, name_rule: Callable[[str], list[str]] | None) -> None:
    path = ("metadata",)
    metadata = r.mapping(obj, (), "metadata", required=True)
    if metadata is None:
        return
    r.unknown_fields(metadata, path, METADATA_FIELDS)
    name = r.string(metadata, path, "name", required=True, detail="name is required")
    if name and name_rule is not None:
        r.check(path + ("name",), name, name_rule(name))
    namespace = r.string(metadata, path, "namespace")
    if namespace:
        r.check(path + ("namespace",), namespace, names.dns1123_label(namespace))
    check_labels(r, metadata, path, "labels")
    annotations = r.string_map(metadata, path, "annotations")
    for key in annotations or ():
        r.check(path + ("annotations", Key(key)), key, names.qualified_name(key))


def check_labels(r: Report, parent: dict, path: tuple, key: str) -> dict[str, str] | None:
    """A label map (metadata.labels, a Service selector, matchLabels): keys and values both checked."""
    labels = r.string_map(parent, path, key)
    for k, v in (labels or {}).items():
        where = path + (key, Key(k))
        r.check(where, k, names.qualified_name(k))
        r.check(where, v, names.label_value(v))
    return labels


def check_port_ref(r: Report, path: tuple, value: object) -> None:
    """A port given as a number or an IANA name (targetPort, probe ports)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        r.invalid(path, value, "must be a port number or a port name")
    elif isinstance(value, int):
        r.check(path, value, names.port_number(value))
    elif value.isdigit():
        r.invalid(path, value, "must be a number, not a string, or a port name (remove the quotes)")
    else:
        r.check(path, value, names.port_name(value))


def check_protocol(r: Report, parent: dict, path: tuple) -> None:
    protocol = r.string(parent, path, "protocol")
    if protocol and protocol not in PROTOCOLS:
        r.unsupported(path + ("protocol",), protocol, PROTOCOLS)


# -- Service -------------------------------------------------------------------------------------

SERVICE_TYPES = frozenset({"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"})
SERVICE_SPEC_FIELDS = frozenset({
    "ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity", "loadBalancerIP",
    "loadBalancerSourceRanges", "externalName", "externalTrafficPolicy", "healthCheckNodePort",
    "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies", "ipFamilyPolicy",
    "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution",
})
SERVICE_PORT_FIELDS = frozenset({"name", "protocol", "appProtocol", "port", "targetPort", "nodePort"})


def check_service(r: Report, obj: dict) -> None:
    path = ("spec",)
    spec = r.mapping(obj, (), "spec", required=True)
    if spec is None:
        return
    r.unknown_fields(spec, path, SERVICE_SPEC_FIELDS)
    service_type = r.string(spec, path, "type") or "ClusterIP"
    if service_type not in SERVICE_TYPES:
        r.unsupported(path + ("type",), service_type, SERVICE_TYPES)
    cluster_ip = r.string(spec, path, "clusterIP")
    if cluster_ip not in (None, "", "None") and not names.is_ip(cluster_ip):
        r.invalid(path + ("clusterIP",), cluster_ip, "must be empty, 'None', or a valid IP address")
    if service_type == "ExternalName":
        external_name = r.string(spec, path, "externalName", required=True)
        if external_name:
            r.check(path + ("externalName",), external_name, names.dns1123_subdomain(external_name.rstrip(".")))
    check_labels(r, spec, path, "selector")
    ports = r.list(spec, path, "ports")
    if not ports:
        if spec.get("ports") in (None, []) and cluster_ip != "None" and service_type != "ExternalName":
            r.required(path + ("ports",))
        return
    port_names: dict[str, int] = {}
    numbers: dict[tuple, int] = {}
    for i, port, port_path in r.mappings(ports, path + ("ports",)):
        r.unknown_fields(port, port_path, SERVICE_PORT_FIELDS)
        name = r.string(port, port_path, "name", required=len(ports) > 1)
        if name:
            if r.check(port_path + ("name",), name, names.dns1123_label(name)) and name in port_names:
                r.error(port_path + ("name",), f'Duplicate value: "{name}"')
            port_names.setdefault(name, i)
        number = r.integer(port, port_path, "port", required=True)
        if number is not None and r.check(port_path + ("port",), number, names.port_number(number)):
            protocol = port.get("protocol") or "TCP"
            if (number, protocol) in numbers:
                r.error(port_path, f"Duplicate value: port {number}/{protocol} "
                                   f"(also spec.ports[{numbers[(number, protocol)]}])")
            numbers.setdefault((number, protocol), i)
        check_protocol(r, port, port_path)
        if port.get("targetPort") is not None:
            check_port_ref(r, port_path + ("targetPort",), port["targetPort"])
        node_port = r.integer(port, port_path, "nodePort")
        if node_port:
            r.check(port_path + ("nodePort",), node_port, names.port_number(node_port))
        r.string(port, port_path, "appProtocol")


def service_ports(service: dict) -> list[dict]:
    """The well-formed ports of a Service (for cross-object checks)."""
    spec = service.get("spec")
    ports = spec.get("ports") if isinstance(spec, dict) else None
    return [p for p in ports if isinstance(p, dict)] if isinstance(ports, list) else []


# -- Endpoints -----------------------------------------------------------------------------------

def check_endpoints(r: Report, obj: dict) -> None:
    subsets = r.list(obj, (), "subsets")
    for _, subset, subset_path in r.mappings(subsets or [], ("subsets",)):
        for key in ("addresses", "notReadyAddresses"):
            addresses = r.list(subset, subset_path, key)
            for _, address, address_path in r.mappings(addresses or [], subset_path + (key,)):
                ip = r.string(address, address_path, "ip", required=True)
                if ip and not names.is_ip(ip):
                    r.invalid(address_path + ("ip",), ip, "must be a valid IP address")
                r.mapping(address, address_path, "targetRef")
                r.string(address, address_path, "nodeName")
                r.string(address, address_path, "hostname")
        ports = r.list(subset, subset_path, "ports")
        for _, port, port_path in r.mappings(ports or [], subset_path + ("ports",)):
            name = r.string(port, port_path, "name", required=len(ports) > 1)
            if name:
                r.check(port_path + ("name",), name, names.dns1123_label(name))
            number = r.integer(port, port_path, "port", required=True)
            if number is not None:
                r.check(port_path + ("port",), number, names.port_number(number))
            check_protocol(r, port, port_path)


# -- Secret and ConfigMap ------------------------------------------------------------------------

_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def base64_error(value: str) -> str | None:
    """Why `value` is not standard padded base64 (as the API server decodes `data`), or None.

    Line breaks are ignored, as Go's decoder ignores them.
    """
    text = value.replace("\r", "").replace("\n", "")
    padding = len(text) - len(text.rstrip("="))
    body = text[: len(text) - padding]
    for i, c in enumerate(body):
        if c not in _BASE64:
            return f"illegal base64 data at input byte {i}"
    if padding > 2 or len(text) % 4:
        return f"illegal base64 data at input byte {len(text)} (length must be a multiple of 4, padded with '=')"
    return None


def _check_data(r: Report, obj: dict, key: str, base64: bool) -> dict:
    """A data map: keys are config keys; values strings, base64 ones where `base64` (values are never shown)."""
    data = r.mapping(obj, (), key)
    if data is None:
        return {}
    for k, v in data.items():
        where = (key, Key(k) if isinstance(k, str) else k)
        if not isinstance(k, str):
            r.invalid(where, k, "keys must be strings")
            continue
        r.check(where, k, names.config_key(k))
        if v is None:
            continue
        if base64 and not isinstance(v, str):
            r.error(where, "must be a base64-encoded string")
        elif not base64:
            r.is_string(where, v)
        elif base64 and (why := base64_error(v)):
            r.error(where, why + ("; use stringData for plain text" if key == "data" else ""))
    return data


SECRET_TLS = "kubernetes.io/tls"


def check_secret(r: Report, obj: dict) -> None:
    before = len(r.out)
    secret_type = r.string(obj, (), "type") or "Opaque"
    data = _check_data(r, obj, "data", base64=True)
    string_data = _check_data(r, obj, "stringData", base64=False)
    r.boolean(obj, (), "immutable")
    if secret_type == SECRET_TLS:
        missing = False
        for key in ("tls.crt", "tls.key"):
            if key not in data and key not in string_data:
                r.required(("data", Key(key)))
                missing = True
        if not missing and len(r.out) == before:  # well-formed: can it serve TLS?
            result = check_tls_secret(obj)
            if isinstance(result, str):
                # The proxy would serve the default certificate for this Secret's hosts.
                key = "tls.key" if result.startswith("tls.key") else "tls.crt"
                where = "stringData" if key in string_data else "data"
                r.error((where, Key(key)), result)


def check_config_map(r: Report, obj: dict) -> None:
    data = _check_data(r, obj, "data", base64=False)
    binary = _check_data(r, obj, "binaryData", base64=True)
    for key in data:
        if key in binary:
            r.invalid(("data", Key(key)), key, "duplicate of key present in binaryData")
    r.boolean(obj, (), "immutable")


# -- PersistentVolumeClaim ----------------------------------------------------------------------

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def check_persistent_volume_claim(r: Report, obj: dict) -> None:
    """What kube-apiserver requires of a claim (ValidatePersistentVolumeClaimSpec): at least one
    access mode, each a known one, and a storage request."""
    spec = r.mapping(obj, (), "spec", required=True)
    if spec is None:
        return
    modes = r.list(spec, ("spec",), "accessModes")
    if not modes:
        r.required(("spec", "accessModes"), "at least 1 access mode is required")
    for i, mode in enumerate(modes or []):
        if mode not in ACCESS_MODES:
            r.unsupported(("spec", "accessModes", i), mode, ACCESS_MODES)
    resources = r.mapping(spec, ("spec",), "resources")
    requests = r.mapping(resources, ("spec", "resources"), "requests") if resources is not None else None
    storage = (requests or {}).get("storage")
    if storage is None:
        r.required(("spec", "resources", "requests", Key("storage")))
    else:
        check_quantity(r, ("spec", "resources", "requests", Key("storage")), storage)


# -- Node ----------------------------------------------------------------------------------------


def check_node(r: Report, obj: dict) -> None:
    """A Node manifest (as kwok users write them): its capacity and allocatable drive scheduling."""
    spec = r.mapping(obj, (), "spec")
    if spec is not None:
        r.boolean(spec, ("spec",), "unschedulable")
        r.list(spec, ("spec",), "taints")
    status = r.mapping(obj, (), "status")
    if status is None:
        return
    for key in ("capacity", "allocatable"):
        for resource, quantity in (r.mapping(status, ("status",), key) or {}).items():
            check_quantity(r, ("status", key, Key(str(resource))), quantity)


# -- Pod -----------------------------------------------------------------------------------------

RESTART_POLICIES = frozenset({"Always", "OnFailure", "Never"})
CONTAINER_FIELDS = frozenset({
    "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "resizePolicy",
    "restartPolicy", "restartPolicyRules", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe",
    "startupProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
    "securityContext", "stdin", "stdinOnce", "tty",
})
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def check_pod(r: Report, obj: dict) -> None:
    spec = r.mapping(obj, (), "spec", required=True)
    if spec is not None:
        check_pod_spec(r, spec, ("spec",), RESTART_POLICIES)


def check_pod_spec(r: Report, spec: dict, path: tuple, restart_policies: frozenset[str]) -> None:
    container_names: set[str] = set()
    port_names: set[str] = set()
    containers = r.list(spec, path, "containers", required=True)
    for key, items in (("initContainers", r.list(spec, path, "initContainers")), ("containers", containers)):
        for _, container, container_path in r.mappings(items or [], path + (key,)):
            _check_container(r, container, container_path, container_names, port_names)
    restart_policy = r.string(spec, path, "restartPolicy")
    if restart_policy and restart_policy not in restart_policies:
        r.unsupported(path + ("restartPolicy",), restart_policy, restart_policies)
    r.integer(spec, path, "terminationGracePeriodSeconds", minimum=0)
    volumes = r.list(spec, path, "volumes")
    for _, volume, volume_path in r.mappings(volumes or [], path + ("volumes",)):
        name = r.string(volume, volume_path, "name", required=True)
        if name:
            r.check(volume_path + ("name",), name, names.dns1123_label(name))


def _check_container(r: Report, c: dict, path: tuple, container_names: set[str], port_names: set[str]) -> None:
    r.unknown_fields(c, path, CONTAINER_FIELDS)
    name = r.string(c, path, "name", required=True)
    if name:
        if r.check(path + ("name",), name, names.dns1123_label(name)) and name in container_names:
            r.error(path + ("name",), f'Duplicate value: "{name}"')
        container_names.add(name)
    image = r.string(c, path, "image", required=True)
    if image is not None and not runnable(c):
        r.warn(path + ("image",), f'"{image}" is not runnable by ingressd (images are not pulled): the pod stays '
                                  "Pending (ImageNotSupported); use ingressd/echo or give the container a command")
    for key in ("command", "args"):
        for i, arg in enumerate(r.list(c, path, key) or []):
            r.is_string(path + (key, i), arg)
    r.string(c, path, "workingDir")
    ports = r.list(c, path, "ports")
    for _, port, port_path in r.mappings(ports or [], path + ("ports",)):
        number = r.integer(port, port_path, "containerPort", required=True)
        if number is not None:
            r.check(port_path + ("containerPort",), number, names.port_number(number))
        host_port = r.integer(port, port_path, "hostPort")
        if host_port:
            r.check(port_path + ("hostPort",), host_port, names.port_number(host_port))
        port_name = r.string(port, port_path, "name")
        if port_name:
            if r.check(port_path + ("name",), port_name, names.port_name(port_name)) and port_name in port_names:
                r.error(port_path + ("name",), f'Duplicate value: "{port_name}"')
            port_names.add(port_name)
        check_protocol(r, port, port_path)
    env = r.list(c, path, "env")
    for _, var, var_path in r.mappings(env or [], path + ("env",)):
        var_name = r.string(var, var_path, "name", required=True)
        if var_name:
            r.check(var_path + ("name",), var_name, names.env_var_name(var_name))
        value = r.string(var, var_path, "value")
        value_from = r.mapping(var, var_path, "valueFrom")
        if value and value_from is not None:
            r.invalid(var_path + ("valueFrom",), "", "may not be specified when `value` is not empty")
    r.list(c, path, "envFrom")
    _check_volume_mounts(r, c, path)
    resources = r.mapping(c, path, "resources")
    if resources is not None:
        for key in ("requests", "limits"):
            for resource, quantity in (r.mapping(resources, path + ("resources",), key) or {}).items():
                check_quantity(r, path + ("resources", key, Key(str(resource))), quantity)
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = r.mapping(c, path, key)
        if probe is not None:
            _check_probe(r, probe, path + (key,))


def _check_volume_mounts(r: Report, c: dict, path: tuple) -> None:
    """ValidateVolumeMounts: name and mountPath required; subPath and subPathExpr relative, without
    '..' (validateLocalDescendingPath), so a mount never reaches outside its volume."""
    for _, mount, mount_path in r.mappings(r.list(c, path, "volumeMounts") or [], path + ("volumeMounts",)):
        r.string(mount, mount_path, "name", required=True)
        r.string(mount, mount_path, "mountPath", required=True)
        sub_path = r.string(mount, mount_path, "subPath")
        if sub_path:
            r.check(mount_path + ("subPath",), sub_path, sub_path_problems(sub_path))
        expr = r.string(mount, mount_path, "subPathExpr")
        if expr:
            if sub_path:
                r.invalid(mount_path + ("subPathExpr",), expr, "subPathExpr and subPath are mutually exclusive")
            if r.check(mount_path + ("subPathExpr",), expr, sub_path_problems(expr)):
                r.warn(mount_path + ("subPathExpr",), "not supported by ingressd: the whole volume is mounted")


def check_quantity(r: Report, path: tuple, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        r.invalid(path, value, "must be a quantity")
    elif isinstance(value, str) and not _is_quantity(value):
        r.invalid(path, value, "quantities must match the regular expression "
                               "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def _is_quantity(text: str) -> bool:
    """What resource.ParseQuantity accepts (stricter than the regex its error message quotes)."""
    try:
        parse_quantity(text)
    except ValueError:
        return False
    return True


def _check_probe(r: Report, probe: dict, path: tuple) -> None:
    handlers = [h for h in _PROBE_HANDLERS if probe.get(h) is not None]
    if not handlers:
        r.required(path, "must specify a handler type")
    elif len(handlers) > 1:
        r.error(path + (handlers[1],), "Forbidden: may not specify more than 1 handler type")
    for key in ("httpGet", "tcpSocket"):
        action = r.mapping(probe, path, key)
        if action is not None:
            if action.get("port") is None:
                r.required(path + (key, "port"))
            else:
                check_port_ref(r, path + (key, "port"), action["port"])
            if key == "httpGet":
                r.string(action, path + (key,), "path")
    for key, minimum in (("initialDelaySeconds", 0), ("periodSeconds", 1), ("timeoutSeconds", 1),
                         ("successThreshold", 1), ("failureThreshold", 1)):
        r.integer(probe, path, key, minimum=minimum)
