"""The bundled demo (config/) and examples/ are real Kubernetes manifests:
they validate against the official JSON schemas (bundled with kubernetes-validate,
so no network) and ingressd's own loader accepts them without errors.
"""

from __future__ import annotations

import socket
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
EXAMPLES = ROOT / "examples"
KUBERNETES_VERSION = latest_version()


def _manifest_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml"))


def _documents() -> list[tuple[str, dict]]:
    docs = []
    for path in _manifest_files(CONFIG) + _manifest_files(EXAMPLES):
        for obj in yaml.safe_load_all(path.read_text()):
            if obj is not None:
                name = f"{path.relative_to(ROOT)}:{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
                docs.append((name, obj))
    return docs


DOCUMENTS = _documents()


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Schema references must resolve from the installed package, never over the network."""

    def refuse(*args, **kwargs):
        raise AssertionError("test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_demo_has_the_expected_objects():
    kinds = sorted((obj["kind"], obj["metadata"]["name"]) for name, obj in DOCUMENTS if name.startswith("config"))
    assert kinds == [
        ("Deployment", "api"),
        ("Deployment", "web"),
        ("Deployment", "web-canary"),
        ("Ingress", "demo"),
        ("Ingress", "demo-canary"),
        ("Service", "api"),
        ("Service", "web"),
        ("Service", "web-canary"),
    ]


@pytest.mark.parametrize("name, obj", DOCUMENTS, ids=[name for name, _ in DOCUMENTS])
def test_manifest_validates_against_kubernetes_schema(name, obj):
    if obj["apiVersion"].startswith("gateway.networking.k8s.io/"):
        # Not in kubernetes-validate's built-in schemas: the Gateway API v1.2.1 CRD schema ingressd
        # ships (unknown fields, types, value constraints, the CEL rules crd_validation implements).
        from ingressd.apimachinery import crd_validation, schema

        assert schema.definition_name(obj["apiVersion"], obj["kind"]) is not None
        assert [e.message for e in schema.check(obj)] == []
        assert crd_validation.check_schema_values(obj) == []
        assert crd_validation.CEL_RULES.get(obj["kind"], lambda o: [])(obj) == []
        return
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_schema_validation_catches_mistakes():
    """Guards against a validator that accepts anything (e.g. a wrong version string)."""
    obj = next(o for n, o in DOCUMENTS if o["kind"] == "Ingress")
    broken = yaml.safe_load(yaml.safe_dump(obj))
    broken["spec"]["rules"][0]["http"]["paths"][0]["pathtype"] = "Prefix"  # misspelt field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(
    "paths",
    [["config"], ["config", "examples/dev-server.yaml"], ["config", "examples/rewrite.yaml"],
     ["config", "examples/gateway.yaml"], ["config", "examples"]],
    ids=lambda paths: "+".join(paths),
)
def test_ingressd_loads_without_errors(paths, monkeypatch):
    from ingressd.objects.manifests import load_paths

    monkeypatch.chdir(ROOT)
    result = load_paths(paths)
    assert [str(p) for p in result.errors] == []
    assert [str(p) for p in result.warnings] == []
    assert len(result.manifests) == sum(
        1 for name, _ in DOCUMENTS if any(name.startswith(p + "/") or name.startswith(p + ":") for p in paths)
    )
