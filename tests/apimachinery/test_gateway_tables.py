"""Server-side Tables of the Gateway API kinds: their v1.2.1 CRDs' additionalPrinterColumns as the
CRD table convertor prints them (apimachinery/crd_columns.py), and `ingressd get`'s columns."""

from __future__ import annotations

import pytest

from ingressd.apimachinery import crd_columns
from ingressd.apimachinery.tables import table
from ingressd.kubectl_format import _TABLES

NOW = 1_780_000_000.0  # 2026-05-28T20:26:40Z
CREATED = "2026-05-28T20:16:40Z"  # 10 minutes before NOW


def meta(name: str, **extra) -> dict:
    return {"name": name, "namespace": "default", "creationTimestamp": CREATED, **extra}


GATEWAY_CLASS = {"metadata": meta("ingressd"), "spec": {"controllerName": "ingressd.io/gateway-controller",
                                                       "description": "ingressd's own"},
                 "status": {"conditions": [{"type": "Accepted", "status": "True"}]}}
GATEWAY = {"metadata": meta("demo"), "spec": {"gatewayClassName": "ingressd"},
           "status": {"addresses": [{"type": "IPAddress", "value": "127.0.0.1"}, {"value": "::1"}],
                      "conditions": [{"type": "Accepted", "status": "True"},
                                     {"type": "Programmed", "status": "False"}]}}
ROUTE = {"metadata": meta("web"), "spec": {"hostnames": ["web.localtest.me", "*.example.com"]}}
GRANT = {"metadata": meta("grant"), "spec": {}}


@pytest.mark.parametrize("kind, columns, priorities", [
    ("GatewayClass", ["Name", "Controller", "Accepted", "Age", "Description"], [0, 0, 0, 0, 1]),
    ("Gateway", ["Name", "Class", "Address", "Programmed", "Age"], [0] * 5),
    ("HTTPRoute", ["Name", "Hostnames", "Age"], [0] * 3),
    ("ReferenceGrant", ["Name", "Age"], [0] * 2),
])
def test_column_definitions_are_the_crds(kind, columns, priorities):
    definitions = table(kind, [], NOW)["columnDefinitions"]
    assert [c["name"] for c in definitions] == columns
    assert [c["priority"] for c in definitions] == priorities
    assert definitions[-1 if kind != "GatewayClass" else -2]["type"] == "date"
    assert definitions[1]["description"].startswith("Custom resource definition column (in JSONPath format): .") \
        or kind == "ReferenceGrant"


@pytest.mark.parametrize("kind, obj, cells", [
    ("GatewayClass", GATEWAY_CLASS, ["ingressd", "ingressd.io/gateway-controller", "True", "10m", "ingressd's own"]),
    ("GatewayClass", {"metadata": meta("bare")}, ["bare", None, None, "10m", None]),
    # only the first address, as the convertor keeps the JSONPath's first result
    ("Gateway", GATEWAY, ["demo", "ingressd", "127.0.0.1", "False", "10m"]),
    ("Gateway", {"metadata": meta("new"), "spec": {"gatewayClassName": "x"}}, ["new", "x", None, None, "10m"]),
    # a list in a string column prints as compact JSON
    ("HTTPRoute", ROUTE, ["web", '["web.localtest.me","*.example.com"]', "10m"]),
    ("HTTPRoute", {"metadata": meta("any"), "spec": {}}, ["any", None, "10m"]),
    ("HTTPRoute", {"metadata": {"name": "odd", "creationTimestamp": "yesterday"}}, ["odd", None, "<invalid>"]),
    ("ReferenceGrant", GRANT, ["grant", "10m"]),
])
def test_cells(kind, obj, cells):
    assert table(kind, [obj], NOW)["rows"][0]["cells"] == cells


@pytest.mark.parametrize("path, value", [
    (".spec.controllerName", ["ingressd.io/gateway-controller"]),
    ('.status.conditions[?(@.type=="Accepted")].status', ["True"]),
    (".status.conditions[?(@.type=='Accepted')].status", ["True"]),
    (".status.conditions[0].type", ["Accepted"]),
    (".status.conditions[5].type", []),
    (".status.conditions[*].type", ["Accepted"]),
    (".spec.missing.deeper", []),
])
def test_jsonpath_subset(path, value):
    assert crd_columns.find(GATEWAY_CLASS, path) == value


def test_an_unsupported_jsonpath_is_refused():
    with pytest.raises(ValueError, match="unsupported JSONPath"):
        crd_columns.find({}, ".a..b")


@pytest.mark.parametrize("kind, header, wide", [
    ("GatewayClass", ["NAME", "CONTROLLER", "ACCEPTED", "AGE"], ["DESCRIPTION"]),
    ("Gateway", ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"], []),
    ("HTTPRoute", ["NAME", "HOSTNAMES", "AGE"], []),
    ("ReferenceGrant", ["NAME", "AGE"], []),
])
def test_ingressd_get_columns(kind, header, wide):
    assert _TABLES[kind][:2] == (header, wide)


def test_ingressd_get_rows():
    _, _, row = _TABLES["Gateway"]
    assert row({"metadata": meta("new"), "spec": {"gatewayClassName": "x"}}, NOW, False) == \
        ["new", "x", "", "", "10m"]  # kubectl prints a null cell blank
    _, _, row = _TABLES["GatewayClass"]
    assert row(GATEWAY_CLASS, NOW, True) == ["ingressd", "ingressd.io/gateway-controller", "True", "10m", "ingressd's own"]
