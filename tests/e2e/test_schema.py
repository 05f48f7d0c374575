"""The upstream schema against a real `ingressd run` of the bundled demo: every object ingressd
stores and serves (including what its controllers write: pods, ReplicaSets, EndpointSlices, status,
events, nodes) decodes strictly against the Kubernetes 1.32 schema it publishes, and the real
kubectl explains fields and is refused unknown fields over the instance's TLS and token."""

from __future__ import annotations

import json
import time

from ingressd.apimachinery import schema
from ingressd.kinds import KINDS
from tests.kube import kubectl, require_kubectl


def test_everything_ingressd_serves_conforms_to_the_schema_it_publishes(ingressd, tmp_path):
    require_kubectl()
    proc = ingressd()  # the bundled demo
    proc.wait_healthy()
    kc = proc.kubeconfig
    time.sleep(3)  # let the controllers create pods, ReplicaSets, EndpointSlices and status
    problems = []
    seen = 0
    for info in KINDS:
        name = f"{info.plural}.{info.group}" if info.group else info.plural
        listed = json.loads(kubectl(kc, "get", name, "-A", "-o", "json").stdout)
        for item in listed["items"]:
            seen += 1
            for error in schema.check(item, info.api_version, info.kind):
                problems.append(f"{info.kind} {item['metadata'].get('name')}: {error.field}: {error.message}")
    assert seen > 20
    assert problems == []

    explained = kubectl(kc, "explain", "deployment.spec.replicas").stdout
    assert "FIELD: replicas <integer>" in explained
    manifest = tmp_path / "bad.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndatta: {a: b}\n")
    done = kubectl(kc, "apply", "-f", str(manifest), check=False)
    assert done.returncode == 1
    assert ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
            'unknown field "datta"') in done.stderr
    assert 'Warning: unknown field "datta": did you mean "data"?' in done.stderr
