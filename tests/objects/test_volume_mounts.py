"""volumeMounts: subPath (and subPathExpr) must stay inside the volume, as kube-apiserver's
validateLocalDescendingPath requires; name and mountPath are required."""

from __future__ import annotations

import pytest

from ingressd.objects.load import parse_manifests
from ingressd.objects.validate import validate

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: echo
        image: ingressd/echo:1.0
        volumeMounts:
        - {mount}
      volumes: [{{name: data, emptyDir: {{}}}}]
"""
FIELD = "spec.template.spec.containers[0].volumeMounts[0]"


def problems(mount: str) -> list[str]:
    manifests, parsed = parse_manifests(DEPLOYMENT.format(mount=mount), "m.yaml")
    assert parsed == []
    return [str(p) for p in validate(manifests, "nginx")]


@pytest.mark.parametrize("sub_path", ["data", "a/b", "./a", "..a", "a..", "a/.../b"])
def test_good_sub_paths(sub_path):
    assert problems(f'{{name: data, mountPath: /data, subPath: "{sub_path}"}}') == []


@pytest.mark.parametrize(("sub_path", "messages"), [
    ("..", ["must not contain '..'"]),
    ("../x", ["must not contain '..'"]),
    ("../../x", ["must not contain '..'"]),
    ("a/../../x", ["must not contain '..'"]),
    ("a/..", ["must not contain '..'"]),
    ("/etc/passwd", ["must be a relative path"]),
    ("/../x", ["must be a relative path", "must not contain '..'"]),
])
def test_bad_sub_paths(sub_path, messages):
    assert problems(f'{{name: data, mountPath: /data, subPath: "{sub_path}"}}') == [
        f'm.yaml:13: Deployment default/web: {FIELD}.subPath: Invalid value: "{sub_path}": {message}'
        for message in messages]


def test_sub_path_expr_follows_the_same_rule_and_excludes_sub_path():
    assert problems('{name: data, mountPath: /data, subPathExpr: "../$(POD_NAME)"}') == [
        f"""m.yaml:13: Deployment default/web: {FIELD}.subPathExpr: Invalid value: "../$(POD_NAME)": must not contain '..'"""]
    assert problems('{name: data, mountPath: /data, subPath: a, subPathExpr: "$(POD_NAME)"}') == [
        f'm.yaml:13: Deployment default/web: {FIELD}.subPathExpr: Invalid value: "$(POD_NAME)": '
        "subPathExpr and subPath are mutually exclusive",
        f"m.yaml:13: Deployment default/web: {FIELD}.subPathExpr: warning: not supported by ingressd: "
        "the whole volume is mounted"]


def test_name_and_mount_path_are_required():
    assert problems("{subPath: a}") == [
        f"m.yaml:13: Deployment default/web: {FIELD}.name: Required value",
        f"m.yaml:13: Deployment default/web: {FIELD}.mountPath: Required value"]


def test_pod_field_path(tmp_path):
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n"
            "    image: ingressd/echo:1.0\n    volumeMounts:\n    - {name: d, mountPath: /d, subPath: ../../x}\n")
    manifests, _ = parse_manifests(text, "p.yaml")
    assert [str(p) for p in validate(manifests, "nginx")] == [
        "p.yaml:9: Pod default/p: spec.containers[0].volumeMounts[0].subPath: Invalid value: \"../../x\": "
        "must not contain '..'"]

