"""Checks for the Gateway API kinds (GatewayClass, Gateway, HTTPRoute, ReferenceGrant) as
kube-apiserver validates these custom resources: their v1.2.1 CRD schemas' value constraints and
the CEL rules apimachinery/crd_validation.py implements (see crd_validation.CEL_RULES), each named
by field path with the CRD's wording."""

from __future__ import annotations

from ingressd.apimachinery import crd_validation
from ingressd.apimachinery.schema import MapKey
from ingressd.objects.problems import Key
from ingressd.objects.report import Report

CONTROLLER_NAME = "ingressd.io/gateway-controller"
BUILTIN_GATEWAY_CLASS = "ingressd"


def builtin_gateway_class() -> dict:
    """The GatewayClass `ingressd` every run has (as installing a Gateway API implementation
    creates its class), unless the manifests define one named so."""
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": BUILTIN_GATEWAY_CLASS, "labels": {"app.kubernetes.io/name": "ingressd"}},
            "spec": {"controllerName": CONTROLLER_NAME,
                     "description": "ingressd serves Gateways of this class (bundled with ingressd)"}}


def _path(path: tuple) -> tuple:
    return tuple(Key(part) if isinstance(part, MapKey) else part for part in path)


def check_gateway_api(r: Report, obj: dict) -> None:
    if obj.get("spec") is None:
        r.required(("spec",))  # every Gateway API kind's schema requires spec
    for path, message in crd_validation.check_schema_values(obj):
        if path != ("spec",):
            r.error(_path(path), message)
    rules = crd_validation.CEL_RULES.get(r.manifest.kind or "")
    if rules is not None:
        for path, message in rules(obj):
            r.error(_path(path), message)
