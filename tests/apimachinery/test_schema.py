"""The upstream schema as the decoder uses it (apimachinery/schema.py): unknown fields at every
depth with a suggestion, wrong JSON types, int-or-string, quantities (built-in and the VPA CRD's),
unknown kinds, the API server's strict/decode messages, and dropping unknown fields."""

from __future__ import annotations

import copy

import pytest

from ingressd.apimachinery import schema
from ingressd.apimachinery.schema import BAD_QUANTITY, UNKNOWN_FIELD, WRONG_TYPE


def deployment(spec_extra=None, container_extra=None, top_extra=None) -> dict:
    container = {"name": "web", "image": "nginx:1.27", **(container_extra or {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}},
                     **(spec_extra or {})},
            **(top_extra or {})}


def found(obj: dict) -> list[tuple[str, str, str | None]]:
    return [(e.field, e.reason, e.suggestion) for e in schema.check(obj)]


CASES = [
    ("valid", deployment(), []),
    ("top level", deployment(top_extra={"sepc": {}}), [("sepc", UNKNOWN_FIELD, "spec")]),
    ("spec", deployment({"replica": 3}), [("spec.replica", UNKNOWN_FIELD, "spec.replicas")]),
    ("metadata", {**deployment(), "metadata": {"name": "web", "lables": {}}},
     [("metadata.lables", UNKNOWN_FIELD, "metadata.labels")]),
    ("in a list", deployment(container_extra={"imagePullPolcy": "Always"}),
     [("spec.template.spec.containers[0].imagePullPolcy", UNKNOWN_FIELD,
       "spec.template.spec.containers[0].imagePullPolicy")]),
    ("case only", deployment(container_extra={"readinessprobe": {}}),
     [("spec.template.spec.containers[0].readinessprobe", UNKNOWN_FIELD,
       "spec.template.spec.containers[0].readinessProbe")]),
    ("nothing close", deployment({"frobnicate": 1}), [("spec.frobnicate", UNKNOWN_FIELD, None)]),
    ("deep", deployment(container_extra={"livenessProbe": {"httpGet": {"port": 80, "pth": "/"}}}),
     [("spec.template.spec.containers[0].livenessProbe.httpGet.pth", UNKNOWN_FIELD,
       "spec.template.spec.containers[0].livenessProbe.httpGet.path")]),
    ("integer as string", deployment({"replicas": "3"}), [("spec.replicas", WRONG_TYPE, None)]),
    ("float for int32", deployment({"replicas": 1.5}), [("spec.replicas", WRONG_TYPE, None)]),
    ("bool for integer", deployment({"replicas": True}), [("spec.replicas", WRONG_TYPE, None)]),
    ("string for bool", deployment({"paused": "yes"}), [("spec.paused", WRONG_TYPE, None)]),
    ("object for array", deployment(container_extra={"ports": {"containerPort": 80}}),
     [("spec.template.spec.containers[0].ports", WRONG_TYPE, None)]),
    ("string for object", deployment({"strategy": "Recreate"}), [("spec.strategy", WRONG_TYPE, None)]),
    ("label value not a string", {**deployment(), "metadata": {"name": "web", "labels": {"tier": 1}}},
     [("metadata.labels[tier]", WRONG_TYPE, None)]),
    ("null is absent", deployment({"replicas": None, "strategy": None}), []),
    ("int-or-string int", deployment(container_extra={"livenessProbe": {"httpGet": {"port": 8080}}}), []),
    ("int-or-string name", deployment(container_extra={"livenessProbe": {"httpGet": {"port": "http"}}}), []),
    ("int-or-string bool", deployment(container_extra={"livenessProbe": {"httpGet": {"port": True}}}),
     [("spec.template.spec.containers[0].livenessProbe.httpGet.port", WRONG_TYPE, None)]),
    ("quantities", deployment(container_extra={"resources": {"requests": {"cpu": "100m", "memory": 64},
                                                              "limits": {"cpu": 1.5, "memory": "1Gi"}}}), []),
    ("bad quantity", deployment(container_extra={"resources": {"limits": {"memory": "1 GB"}}}),
     [("spec.template.spec.containers[0].resources.limits[memory]", BAD_QUANTITY, None)]),
    ("quantity of the wrong type", deployment(container_extra={"resources": {"limits": {"cpu": [1]}}}),
     [("spec.template.spec.containers[0].resources.limits[cpu]", WRONG_TYPE, None)]),
    ("free-form annotations are strings", {**deployment(), "metadata": {"name": "w", "annotations": {"a": "b"}}}, []),
]


@pytest.mark.parametrize("obj, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check(obj, expected):
    assert found(obj) == expected


OTHER_KINDS = [
    ("pvc storage", {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "d"},
                     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gib"}}}},
     [("spec.resources.requests[storage]", BAD_QUANTITY, None)]),
    ("hpa target", {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
                    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3,
                             "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {
                                 "type": "AverageValue", "averageValue": "100 Mi"}}}]}},
     [("spec.metrics[0].resource.target.averageValue", BAD_QUANTITY, None)]),
    ("service targetPort", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                            "spec": {"ports": [{"port": 80, "targetPort": "http", "protocl": "TCP"}]}},
     [("spec.ports[0].protocl", UNKNOWN_FIELD, "spec.ports[0].protocol")]),
    ("ingress", {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"},
                 "spec": {"rules": [{"host": "a.localhost", "http": {"paths": [
                     {"path": "/", "pathtype": "Prefix", "backend": {"service": {"name": "s", "port": {"numbr": 80}}}}]}}]}},
     [("spec.rules[0].http.paths[0].pathtype", UNKNOWN_FIELD, "spec.rules[0].http.paths[0].pathType"),
      ("spec.rules[0].http.paths[0].backend.service.port.numbr", UNKNOWN_FIELD,
       "spec.rules[0].http.paths[0].backend.service.port.number")]),
    ("vpa crd", {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler", "metadata": {"name": "v"},
                 "spec": {"targetRef": {"kind": "Deployment", "name": "web"},
                          "updatePolicy": {"updateMode": "Auto", "minReplica": 1},
                          "resourcePolicy": {"containerPolicies": [{"containerName": "*",
                                                                    "maxAllowed": {"cpu": "2 cores"}}]}}},
     [("spec.updatePolicy.minReplica", UNKNOWN_FIELD, "spec.updatePolicy.minReplicas"),
      ("spec.resourcePolicy.containerPolicies[0].maxAllowed[cpu]", BAD_QUANTITY, None)]),
    ("secret", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "YQ=="},
                "stringdata": {}}, [("stringdata", UNKNOWN_FIELD, "stringData")]),
    ("a kind without a shipped schema", {"apiVersion": "batch/v1", "kind": "Job", "spec": {"x": 1}}, []),
]


@pytest.mark.parametrize("obj, expected", [c[1:] for c in OTHER_KINDS], ids=[c[0] for c in OTHER_KINDS])
def test_check_other_kinds(obj, expected):
    assert found(obj) == expected


def test_every_served_kind_has_its_schema():
    from ingressd.kinds import KINDS

    assert [k.kind for k in KINDS if schema.definition_name(k.api_version, k.kind) is None] == []


@pytest.mark.parametrize("kind, expected", [
    ("Servce", "Service"), ("Deploymnet", "Deployment"), ("deployment", "Deployment"), ("Ingres", "Ingress"),
    ("ConfigMaps", "ConfigMap"), ("Service", None), ("CronJob", None), ("Certificate", None), ("X", None),
])
def test_suggest_kind(kind, expected):
    assert schema.suggest_kind(kind) == expected


def test_messages_are_the_api_servers():
    errors = schema.check(deployment({"replica": 3, "minReadySecond": 1}))
    assert schema.strict_decoding_message("Deployment", "v1", errors) == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.replica", unknown field "spec.minReadySecond"')
    assert errors[0].message == 'unknown field "spec.replica", did you mean "spec.replicas"?'
    [wrong] = schema.check(deployment(container_extra={"ports": [{"containerPort": "80"}]}))
    assert schema.decode_error_message("Deployment", "v1", wrong) == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go '
        "struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32")
    assert wrong.message == 'Invalid value: "80": must be an integer'
    [bad] = schema.check(deployment(container_extra={"resources": {"limits": {"cpu": "1 core"}}}))
    assert schema.decode_error_message("Deployment", "v1", bad) == (
        'Deployment in version "v1" cannot be handled as a Deployment: quantities must match the regular '
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def test_drop_fields():
    obj = deployment({"replica": 3}, container_extra={"imagePullPolcy": "x"})
    want = deployment()
    before = copy.deepcopy(obj)
    schema.drop_fields(obj, [e.path for e in schema.check(before)])
    assert obj == want


@pytest.mark.parametrize("word, candidates, expected", [
    ("replica", ["replicas", "selector"], "replicas"),
    ("contianers", ["containers", "volumes"], "containers"),  # a transposition is one edit
    ("xyz", ["replicas"], None),
])
def test_suggest(word, candidates, expected):
    assert schema.suggest(word, candidates) == expected


@pytest.mark.parametrize("type_name, field, start", [
    ("ReplicaSetSpec", "replicas", "Replicas is the number of desired replicas."),
    ("ObjectMeta", "name", "Name must be unique within a namespace."),
    ("PodSpec", "nodeName", "NodeName indicates in which node this pod is scheduled."),
    ("NoSuchType", "x", ""),
    ("PodSpec", "noSuchField", ""),
])
def test_field_description(type_name, field, start):
    text = schema.field_description(type_name, field)
    assert text.startswith(start) and (text == "") == (start == "")
