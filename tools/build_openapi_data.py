"""Build ingressd/apimachinery/openapi_data/kubernetes-openapi.json.gz: the part of the upstream
Kubernetes OpenAPI v2 document (swagger.json of a release branch) that ingressd serves, plus the
VerticalPodAutoscaler CRD's and the Gateway API CRDs' schemas (every version the registry serves a
kind at) published as kube-apiserver publishes a CRD's.

    python tools/build_openapi_data.py SWAGGER_JSON VPA_CRD_YAML GATEWAY_CRD_DIR

SWAGGER_JSON: kubernetes/kubernetes api/openapi-spec/swagger.json of release-1.32 (the copy the
official Python client v32.0.1 ships as kubernetes/swagger.json.unprocessed is that file).
VPA_CRD_YAML: kubernetes/autoscaler vertical-pod-autoscaler/deploy/vpa-v1-crd-gen.yaml
(tag vertical-pod-autoscaler/v1.3.0).
GATEWAY_CRD_DIR: a directory holding kubernetes-sigs/gateway-api config/crd/standard/
gateway.networking.k8s.io_{gatewayclasses,gateways,httproutes,referencegrants}.yaml (tag v1.2.1);
HTTPRoute's requestRedirect.statusCode enum is widened to v1.5.0's (see REDIRECT_STATUS_CODES).
Not shipped; run by hand when the served kinds or the emulated Kubernetes version change.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import re
import sys
from pathlib import Path

import yaml

from ingressd.admin.resources import REVIEW_RESOURCES
from ingressd.kinds import KINDS

OUT = Path(__file__).resolve().parent.parent / "ingressd" / "apimachinery" / "openapi_data" / "kubernetes-openapi.json.gz"
KUBERNETES_VERSION = "v1.32"
VPA_GROUP = "autoscaling.k8s.io"
GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_TAG = "v1.2.1"
GATEWAY_PLURALS = ("gatewayclasses", "gateways", "httproutes", "referencegrants")
# Meta types every group-version document carries (its operations answer or take them).
EXTRA_ROOTS = (
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
    "io.k8s.api.autoscaling.v1.Scale",
)


def _refs(node, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            out.add(ref[len("#/definitions/"):])
        for value in node.values():
            _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)


def _closure(definitions: dict, roots) -> set[str]:
    seen: set[str] = set()
    todo = [r for r in roots if r in definitions]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(definitions[name], found)
        todo.extend(found - seen)
    return seen


# Served besides the kinds registry: (group, version, kind, plural) of other views (admin/hpa_v1.py).
OTHER_VIEWS = (("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),)


def _served_gvks() -> set[tuple[str, str, str]]:
    gvks = {(k.group, v, k.kind) for k in KINDS for v in k.versions}
    gvks |= {(g, v, k) for g, v, k, _ in OTHER_VIEWS} | {(g, v, k + "List") for g, v, k, _ in OTHER_VIEWS}
    gvks |= {(k.group, v, k.kind + "List") for k in KINDS for v in k.versions}
    gvks |= {(r.group, r.version, r.kind) for r in REVIEW_RESOURCES}
    return gvks


def _crd_definitions(crd_yaml: str, kind: str, version: str) -> dict:
    """A CRD's schema at `version` as kube-apiserver publishes it (builder.BuildOpenAPIV2): named by
    the reversed group, metadata a reference to ObjectMeta, the GVK extension, and a List type."""
    for doc in yaml.safe_load_all(crd_yaml):
        if not doc or doc["spec"]["names"]["kind"] != kind:
            continue
        group = doc["spec"]["group"]
        names = doc["spec"]["names"]
        served = next(v for v in doc["spec"]["versions"] if v["name"] == version)
        schema = copy.deepcopy(served["schema"]["openAPIV3Schema"])
        prefix = ".".join(reversed(group.split(".")))  # io.k8s.autoscaling, io.k8s.networking.gateway
        list_kind = names["listKind"]
        gvk = [{"group": group, "kind": kind, "version": version}]
        schema["properties"]["metadata"] = {
            "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        }
        schema["x-kubernetes-group-version-kind"] = gvk
        schema.setdefault("required", [])
        listing = {
            "description": f"{list_kind} is a list of {kind}",
            "required": ["items"],
            "type": "object",
            "properties": {
                "apiVersion": schema["properties"]["apiVersion"],
                "items": {
                    "description": f"List of {names['plural']}. More info: https://git.k8s.io/community/contributors/devel/api-conventions.md",
                    "type": "array",
                    "items": {"$ref": f"#/definitions/{prefix}.{version}.{kind}"},
                },
                "kind": schema["properties"]["kind"],
                "metadata": {
                    "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
                    "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                },
            },
            "x-kubernetes-group-version-kind": [{"group": group, "kind": list_kind, "version": version}],
        }
        if not schema["required"]:
            del schema["required"]
        return {f"{prefix}.{version}.{kind}": schema, f"{prefix}.{version}.{list_kind}": listing}
    raise SystemExit(f"no {kind} CRD in the file")


# Gateway API v1.5.0 (kubernetes-sigs/gateway-api#3823) widened HTTPRoute's RequestRedirect
# statusCode enum from 301;302 to 301;302;303;307;308 in the standard channel; the rest of the
# served schema stays v1.2.1's. ingressd implements all five (HTTPRoute303/307/308Redirect).
REDIRECT_STATUS_CODES_TAG = "v1.5.0"
REDIRECT_STATUS_CODES = [301, 302, 303, 307, 308]


def _widen_redirect_status_codes(node) -> int:
    """Replace every requestRedirect.statusCode enum in a schema; returns how many were replaced."""
    count = 0
    if isinstance(node, dict):
        props = node.get("properties")
        redirect = props.get("requestRedirect") if isinstance(props, dict) else None
        if isinstance(redirect, dict):
            code = redirect.get("properties", {}).get("statusCode")
            if isinstance(code, dict) and code.get("enum") == [301, 302]:
                code["enum"] = list(REDIRECT_STATUS_CODES)
                count += 1
        for value in node.values():
            count += _widen_redirect_status_codes(value)
    elif isinstance(node, list):
        for value in node:
            count += _widen_redirect_status_codes(value)
    return count


def _vpa_definitions(crd_yaml: str) -> dict:
    return _crd_definitions(crd_yaml, "VerticalPodAutoscaler", "v1")


def _all_kinds(definitions: dict) -> dict[str, list[str]]:
    kinds: dict[str, set[str]] = {}
    for d in definitions.values():
        for g in d.get("x-kubernetes-group-version-kind", ()):
            if g["kind"].endswith("List") or g["kind"] in ("WatchEvent", "DeleteOptions"):
                continue
            version = f"{g['group']}/{g['version']}" if g.get("group") else g["version"]
            kinds.setdefault(g["kind"], set()).add(version)
    kinds.setdefault("VerticalPodAutoscaler", set()).add(f"{VPA_GROUP}/v1")
    for k in KINDS:
        if k.group == GATEWAY_GROUP:
            kinds.setdefault(k.kind, set()).update(k.api_versions)
    return {kind: sorted(versions) for kind, versions in sorted(kinds.items())}


def _served_path(path: str) -> bool:
    """Upstream paths of the served resources (collections, objects, status, scale, log, watch)."""
    served = [(k.group, v, k.plural) for k in KINDS for v in k.versions]
    served += [(g, v, plural) for g, v, _, plural in OTHER_VIEWS]
    for group, version, plural in served:
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        for base in (prefix, prefix + "/watch"):
            for scope in ("", "/namespaces/{namespace}"):
                collection = f"{base}{scope}/{plural}"
                subresources = "|".join(("status", "scale", "log"))
                if re.fullmatch(re.escape(collection) + rf"(/\{{name\}}(/({subresources}))?)?", path):
                    return True
    return any(path == f"/apis/{r.group}/{r.version}/{r.plural}" for r in REVIEW_RESOURCES)


def _vpa_paths(paths: dict) -> dict:
    """kube-apiserver publishes a CRD's operations like a built-in's: the HPA's paths with the
    VPA's names and types (no strategic merge patch for a custom resource)."""
    text = json.dumps({p: v for p, v in paths.items() if "/autoscaling/v2/" in p and "horizontalpodautoscalers" in p})
    for old, new in (("/apis/autoscaling/v2/", "/apis/autoscaling.k8s.io/v1/"),
                     ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler", "io.k8s.autoscaling.v1.VerticalPodAutoscaler"),
                     ("horizontalpodautoscalers", "verticalpodautoscalers"),
                     ("HorizontalPodAutoscaler", "VerticalPodAutoscaler"),
                     ("AutoscalingV2", "AutoscalingK8sIoV1"),
                     ('"group": "autoscaling", "kind": "VerticalPodAutoscaler", "version": "v2"',
                      '"group": "autoscaling.k8s.io", "kind": "VerticalPodAutoscaler", "version": "v1"'),
                     ('"group": "autoscaling", "kind": "VerticalPodAutoscalerList", "version": "v2"',
                      '"group": "autoscaling.k8s.io", "kind": "VerticalPodAutoscalerList", "version": "v1"'),
                     ('"autoscaling_v2"', '"autoscalingK8sIo_v1"')):
        text = text.replace(old, new)
    out = json.loads(text)
    for item in out.values():
        patch = item.get("patch")
        if patch:
            patch["consumes"] = [c for c in patch["consumes"] if c != "application/strategic-merge-patch+json"]
    return out


def _gateway_paths(paths: dict) -> dict:
    """The Gateway API kinds' operations as kube-apiserver publishes a CRD's, at every served
    version (v1 and v1beta1): a built-in kind's paths of the same scope (Ingress for the namespaced
    ones, Node for the cluster-scoped GatewayClass) with the kind's names and types; no strategic
    merge patch; /status only for the kinds whose CRD has the subresource."""
    out: dict = {}
    templates = {
        True: ("/apis/networking.k8s.io/v1/", "ingresses", "io.k8s.api.networking.v1.Ingress", "Ingress",
               "NetworkingV1", '"networking_v1"', '"group": "networking.k8s.io", "kind": "Ingress", "version": "v1"',
               '"group": "networking.k8s.io", "kind": "IngressList", "version": "v1"'),
        False: ("/api/v1/", "nodes", "io.k8s.api.core.v1.Node", "Node", "CoreV1", '"core_v1"',
                '"group": "", "kind": "Node", "version": "v1"', '"group": "", "kind": "NodeList", "version": "v1"'),
    }
    for info, version in ((k, v) for k in KINDS if k.group == GATEWAY_GROUP for v in k.versions):
        prefix, plural, type_name, kind, op, tag, gvk, list_gvk = templates[info.namespaced]
        selected = {p: v for p, v in paths.items() if p.startswith(prefix) and re.search(rf"/{plural}(/|$)", p)
                    and (info.status or not p.endswith("/status"))}
        text = json.dumps(selected)
        version_title = version[0].upper() + version[1:]
        definition = f"io.k8s.networking.gateway.{version}.{info.kind}"
        for old, new in ((prefix, f"/apis/{GATEWAY_GROUP}/{version}/"),
                         (f"/{plural}", f"/{info.plural}"),
                         (type_name, definition),
                         (gvk, f'"group": "{GATEWAY_GROUP}", "kind": "{info.kind}", "version": "{version}"'),
                         (list_gvk, f'"group": "{GATEWAY_GROUP}", "kind": "{info.kind}List", "version": "{version}"'),
                         (op, f"GatewayNetworking{version_title}"),
                         (tag, f'"gatewayNetworking_{version}"'),
                         (f"{kind}List", f"{info.kind}List"),
                         (kind, info.kind),
                         (plural, info.plural)):
            text = text.replace(old, new)
        for path, item in json.loads(text).items():
            patch = item.get("patch")
            if patch:
                patch["consumes"] = [c for c in patch["consumes"] if c != "application/strategic-merge-patch+json"]
            out[path] = item
    return out


def main(swagger_path: str, crd_path: str, gateway_dir: str) -> None:
    raw = Path(swagger_path).read_bytes()
    swagger = json.loads(raw)
    definitions = swagger["definitions"]
    gvks = _served_gvks()
    roots = [name for name, d in definitions.items()
             if any((g.get("group", ""), g.get("version"), g.get("kind")) in gvks
                    for g in d.get("x-kubernetes-group-version-kind", ()))]
    crd_text = Path(crd_path).read_text()
    out_paths = {path: item for path, item in sorted(swagger["paths"].items()) if _served_path(path)}
    gateway_texts = {plural: (Path(gateway_dir) / f"{GATEWAY_GROUP}_{plural}.yaml").read_text()
                     for plural in GATEWAY_PLURALS}
    used_parameters = sorted(set(re.findall(r'"#/parameters/([^"]+)"', json.dumps(out_paths))))
    referenced: set[str] = set()
    _refs([out_paths, [swagger["parameters"][name] for name in used_parameters]], referenced)
    keep = _closure(definitions, [*roots, *EXTRA_ROOTS, *referenced])
    out_defs = {name: definitions[name] for name in sorted(keep)}
    out_defs.update(_vpa_definitions(crd_text))
    out_paths.update(_vpa_paths(out_paths))
    # Every served version's schema, as kube-apiserver publishes each served version of a CRD.
    for info, version in ((k, v) for k in KINDS if k.group == GATEWAY_GROUP for v in k.versions):
        definitions_of_kind = _crd_definitions(gateway_texts[info.plural], info.kind, version)
        if info.kind == "HTTPRoute" and not _widen_redirect_status_codes(definitions_of_kind):
            raise SystemExit("HTTPRoute schema: no requestRedirect.statusCode enum [301, 302] to widen")
        out_defs.update(definitions_of_kind)
    out_paths.update(_gateway_paths(out_paths))
    data = {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "source": {
            "kubernetes": {"file": "api/openapi-spec/swagger.json", "branch": "release-1.32",
                           "sha256": hashlib.sha256(raw).hexdigest()},
            "vertical-pod-autoscaler": {"file": "vertical-pod-autoscaler/deploy/vpa-v1-crd-gen.yaml",
                                        "tag": "vertical-pod-autoscaler/v1.3.0",
                                        "sha256": hashlib.sha256(crd_text.encode()).hexdigest()},
            **{f"gateway-api/{plural}": {"file": f"config/crd/standard/{GATEWAY_GROUP}_{plural}.yaml",
                                        "tag": GATEWAY_TAG, "sha256": hashlib.sha256(text.encode()).hexdigest()}
               for plural, text in gateway_texts.items()},
            "gateway-api/httproutes-redirect-status-codes": {
                "file": f"config/crd/standard/{GATEWAY_GROUP}_httproutes.yaml", "tag": REDIRECT_STATUS_CODES_TAG,
                "applied": "requestRedirect.statusCode enum", "enum": REDIRECT_STATUS_CODES},
        },
        "paths": dict(sorted(out_paths.items())),
        "parameters": {name: swagger["parameters"][name] for name in used_parameters},
        "definitions": out_defs,
        # Every kind the full document knows (apiVersion list), for "did you mean" on unknown kinds.
        "kinds": _all_kinds(definitions),
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(gzip.compress(text, compresslevel=9, mtime=0))
    print(f"{OUT}: {len(out_defs)} definitions, {len(text)} bytes JSON, {OUT.stat().st_size} bytes gzip")


if __name__ == "__main__":
    main(*sys.argv[1:])
