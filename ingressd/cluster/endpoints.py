"""EndpointSlice controller (pure): one or more managed slices per Service with a selector.

Each slice is `<service>-<5 chars>`, labelled `kubernetes.io/service-name` and
`endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`, owned by the Service.
Endpoints are the selected pods that have a podIP and have not finished, with conditions as the
real controller sets them: serving = pod Ready; terminating = pod has deletionTimestamp;
ready = serving and not terminating (always true with publishNotReadyAddresses).

Slice ports carry the Service port's *name* and the resolved targetPort (a number, or a named
containerPort looked up per pod). Pods whose ports resolve differently land in different slices,
as in Kubernetes. A Service with no endpoints keeps one empty placeholder slice. Selectorless (and
ExternalName) Services are left to user-written slices; managed slices of a Service that is gone
or lost its selector are deleted. Not modelled: the 100-endpoint slice limit, IPv6, topology hints.
"""

from __future__ import annotations

import copy
import json
import random
from collections import defaultdict

from ingressd.cluster.actions import Action, apply_object, delete_object
from ingressd.cluster.labels import labels_match
from ingressd.cluster.names import generate_name
from ingressd.cluster.ownership import owner_reference
from ingressd.cluster.pod_status import is_ready, is_terminal, is_terminating

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"


def reconcile_endpoint_slices(
    services: list[dict], pods: list[dict], slices: list[dict], rand: random.Random
) -> list[Action]:
    """Actions for every Service, across namespaces; `slices` are all observed EndpointSlices."""
    managed: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for slice_obj in slices:
        labels = slice_obj["metadata"].get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME and SERVICE_NAME_LABEL in labels:
            managed[(slice_obj["metadata"]["namespace"], labels[SERVICE_NAME_LABEL])].append(slice_obj)
    pods_by_namespace: dict[str, list[dict]] = defaultdict(list)
    for pod in pods:
        pods_by_namespace[pod["metadata"]["namespace"]].append(pod)
    taken = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in slices}

    actions: list[Action] = []
    handled = set()
    for service in services:
        if not manages_endpoints(service):
            continue
        key = (service["metadata"]["namespace"], service["metadata"]["name"])
        handled.add(key)
        actions += _reconcile_service(service, pods_by_namespace[key[0]], managed.get(key, []), taken, rand)
    for key, stale in managed.items():
        if key not in handled:
            actions += [delete_object(s) for s in stale if not s["metadata"].get("deletionTimestamp")]
    return actions


def manages_endpoints(service: dict) -> bool:
    """Whether the controller writes this Service's slices (it has a non-empty selector)."""
    spec = service.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def resolve_target_port(service_port: dict, pod: dict) -> int | None:
    """The pod port a Service port sends to: targetPort as a number, or a named containerPort."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return port.get("containerPort")
    return None


def endpoint_for(pod: dict, service: dict) -> dict:
    meta = pod["metadata"]
    spec = pod.get("spec") or {}
    serving = is_ready(pod)
    terminating = is_terminating(pod)
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    endpoint: dict = {
        "addresses": [pod["status"]["podIP"]],
        "conditions": {"ready": publish or (serving and not terminating), "serving": serving, "terminating": terminating},
    }
    if spec.get("hostname") and spec.get("subdomain") == service["metadata"]["name"]:
        endpoint["hostname"] = spec["hostname"]
    endpoint["targetRef"] = {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta.get("uid", "")}
    if spec.get("nodeName"):
        endpoint["nodeName"] = spec["nodeName"]
    return endpoint


def desired_endpoint_groups(service: dict, pods: list[dict]) -> list[tuple[list[dict], list[dict]]]:
    """(ports, endpoints) per distinct port mapping; [([], [])] when nothing is selected."""
    selector = (service.get("spec") or {}).get("selector") or {}
    groups: dict[str, tuple[list[dict], list[dict]]] = {}
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        if not labels_match(selector, pod["metadata"].get("labels") or {}):
            continue
        if is_terminal(pod) or not (pod.get("status") or {}).get("podIP"):
            continue
        ports = _slice_ports(service, pod)
        key = json.dumps(ports, sort_keys=True)
        groups.setdefault(key, (ports, []))[1].append(endpoint_for(pod, service))
    return list(groups.values()) or [([], [])]


def _slice_ports(service: dict, pod: dict) -> list[dict]:
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or ():
        target = resolve_target_port(service_port, pod)
        if target is None:
            continue  # named port the pod does not have: this pod serves the other ports only
        port = {"name": service_port.get("name", ""), "port": target, "protocol": service_port.get("protocol", "TCP")}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def _reconcile_service(
    service: dict, pods: list[dict], existing: list[dict], taken: set[tuple[str, str]], rand: random.Random
) -> list[Action]:
    remaining = sorted(existing, key=lambda s: s["metadata"]["name"])
    plans: list[tuple[dict | None, list[dict], list[dict]]] = []
    unmatched = []
    for ports, endpoints in desired_endpoint_groups(service, pods):
        same_ports = next((s for s in remaining if (s.get("ports") or []) == ports), None)
        if same_ports is not None:
            remaining.remove(same_ports)
            plans.append((same_ports, ports, endpoints))
        else:
            unmatched.append((ports, endpoints))
    for ports, endpoints in unmatched:
        plans.append((remaining.pop(0) if remaining else None, ports, endpoints))

    actions: list[Action] = []
    namespace = service["metadata"]["namespace"]
    for current, ports, endpoints in plans:
        if current is None:
            prefix = f"{service['metadata']['name']}-"
            names = {name for ns, name in taken if ns == namespace}
            name = generate_name(prefix, names, rand)
            taken.add((namespace, name))
            current = {"metadata": {"name": name, "generateName": prefix, "namespace": namespace}}
        desired = _slice(service, current, ports, endpoints)
        if desired != current:
            actions.append(apply_object(desired))
    actions += [delete_object(s) for s in remaining]
    return actions


def _slice(service: dict, current: dict, ports: list[dict], endpoints: list[dict]) -> dict:
    """`current` rewritten to hold `ports` and `endpoints` for `service` (same name and metadata)."""
    svc_meta = service["metadata"]
    reserved = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)
    labels = {k: v for k, v in (svc_meta.get("labels") or {}).items() if k not in reserved}
    labels[SERVICE_NAME_LABEL] = svc_meta["name"]
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    slice_obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", **copy.deepcopy(current)}
    slice_obj["metadata"]["labels"] = labels
    slice_obj["metadata"]["ownerReferences"] = [owner_reference(service)]
    slice_obj["addressType"] = "IPv4"
    slice_obj["endpoints"] = endpoints
    slice_obj["ports"] = ports
    return slice_obj
