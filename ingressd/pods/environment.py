"""A container's environment and argv, computed as the kubelet does (pure; no I/O).

Order and precedence follow Kubernetes: `envFrom` sources first (in order, with their `prefix`),
then `env` entries, later names overriding earlier ones. `$(NAME)` in an `env` value, `command` or
`args` expands to a variable defined before it (`$$` escapes; an unknown reference stays as
written). `valueFrom` supports `fieldRef` (metadata.name/namespace/uid/labels[...]/annotations[...],
spec.nodeName, spec.serviceAccountName, status.podIP/hostIP), `resourceFieldRef`, `configMapKeyRef`
and `secretKeyRef` (with `optional`). A missing, non-optional source is a `ConfigError` whose
message is the kubelet's (the container waits with reason CreateContainerConfigError).

ingressd adds what a local process needs to find its place: POD_NAME, POD_NAMESPACE, POD_IP, PORT
(the first containerPort) and, per volume mount, `<VOLUME>_DIR` with the host directory the mount
stands for (a process cannot see `mountPath`); the container's own `env` still wins.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from ingressd.cluster.quantity import parse_quantity

Lookup = Callable[[str, str, str], dict | None]  # (kind, namespace, name) -> object or None

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")
_FIELD_PATH = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")


class ConfigError(ValueError):
    """The container cannot be created from its spec as it stands."""


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: defined names are replaced, `$$` is a literal `$`."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _REFERENCE.sub(replace, text)


def volume_env_name(volume: str) -> str:
    """`data` -> DATA_DIR, `my-cache.v1` -> MY_CACHE_V1_DIR."""
    return re.sub(r"[^A-Za-z0-9]", "_", volume).upper() + "_DIR"


def container_env(
    pod: dict,
    container: dict,
    pod_ip: str,
    host_ip: str,
    mounts: dict[str, str],
    lookup: Lookup,
) -> dict[str, str]:
    """Environment of `container`; `mounts` maps volume name -> host directory."""
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace", "default")
    env: dict[str, str] = {
        "POD_NAME": meta.get("name", ""),
        "POD_NAMESPACE": namespace,
        "POD_IP": pod_ip,
    }
    ports = [p.get("containerPort") for p in container.get("ports") or () if p.get("containerPort")]
    if ports:
        env["PORT"] = str(ports[0])
    for volume, directory in mounts.items():
        env[volume_env_name(volume)] = directory

    for source in container.get("envFrom") or ():
        prefix = source.get("prefix") or ""
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(key)
            if ref is None:
                continue
            values = _source_data(kind, namespace, ref.get("name", ""), lookup)
            if values is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found')
            for name, value in values.items():
                env[prefix + name] = value

    for item in container.get("env") or ():
        name = item.get("name")
        if not name:
            continue
        if "valueFrom" in item:
            value = _value_from(item["valueFrom"], pod, container, pod_ip, host_ip, lookup)
            if value is None:
                continue
            env[name] = value
        else:
            env[name] = expand(str(item.get("value", "")), env)
    return env


def argv(container: dict, env: dict[str, str]) -> list[str]:
    """command + args with `$(VAR)` expanded; [] when there is no command to run."""
    command = [expand(str(part), env) for part in container.get("command") or ()]
    args = [expand(str(part), env) for part in container.get("args") or ()]
    return command + args if command else []


def _source_data(kind: str, namespace: str, name: str, lookup: Lookup) -> dict[str, str] | None:
    obj = lookup(kind, namespace, name)
    if obj is None:
        return None
    values = {k: str(v) for k, v in (obj.get("data") or {}).items()}
    if kind == "Secret":
        decoded = {}
        for k, v in values.items():
            try:
                decoded[k] = base64.b64decode(v, validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError) as exc:
                raise ConfigError(f'secret "{name}": data[{k}] is not valid base64') from exc
        values = decoded
        values.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
    else:
        for k, v in (obj.get("binaryData") or {}).items():
            values.setdefault(k, base64.b64decode(str(v)).decode("utf-8", "replace"))
    return values


def _value_from(
    spec: dict, pod: dict, container: dict, pod_ip: str, host_ip: str, lookup: Lookup
) -> str | None:
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace", "default")
    if "fieldRef" in spec:
        path = (spec["fieldRef"] or {}).get("fieldPath", "")
        simple = {
            "metadata.name": meta.get("name", ""),
            "metadata.namespace": namespace,
            "metadata.uid": meta.get("uid", ""),
            "spec.nodeName": (pod.get("spec") or {}).get("nodeName", ""),
            "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", "default"),
            "status.podIP": pod_ip,
            "status.podIPs": pod_ip,
            "status.hostIP": host_ip,
            "status.hostIPs": host_ip,
        }
        if path in simple:
            return simple[path]
        match = _FIELD_PATH.match(path)
        if match:
            return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
        raise ConfigError(f"unsupported fieldRef fieldPath {path!r}")
    if "resourceFieldRef" in spec:
        return _resource_field(spec["resourceFieldRef"] or {}, container)
    for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
        if key in spec:
            ref = spec[key] or {}
            values = _source_data(kind, namespace, ref.get("name", ""), lookup)
            wanted = ref.get("key", "")
            if values is None or wanted not in values:
                if ref.get("optional"):
                    return None
                if values is None:
                    raise ConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found')
                raise ConfigError(f'couldn\'t find key {wanted} in {kind} {namespace}/{ref.get("name", "")}')
            return values[wanted]
    raise ConfigError("valueFrom needs fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef")


def _resource_field(ref: dict, container: dict) -> str:
    """limits/requests.cpu|memory in the ref's divisor (default 1; cpu rounds up like the kubelet)."""
    resource = ref.get("resource", "")
    section, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    raw = (resources.get(section) or {}).get(name)
    if raw is None and section == "requests":
        raw = (resources.get("limits") or {}).get(name)
    if raw is None:
        raw = "0" if section == "requests" else ("1" if name == "cpu" else "0")
    divisor = parse_quantity(str(ref.get("divisor", "1")))
    value = parse_quantity(str(raw)) / (divisor or 1)
    whole = int(-(-value // 1))  # ceiling
    return str(max(whole, 1) if name == "cpu" and value > 0 else whole)
