"""`ingressd validate`'s schema pass (objects/schema_check.py): FILE:LINE problems for unknown
fields (path and did-you-mean), wrong types and bad quantities the hand-written checks do not
already report, and unknown kinds that are typos of known ones."""

from __future__ import annotations

import textwrap

import pytest

from ingressd.objects.load import parse_manifests
from ingressd.objects.validate import validate

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ingressd/echo:1.0
"""


def problems(text: str) -> list[str]:
    manifests, parse_problems = parse_manifests(textwrap.dedent(text).lstrip("\n"), "m.yaml")
    assert not parse_problems
    return [str(p) for p in validate(manifests)]


CASES = [
    ("valid", DEPLOYMENT, []),
    ("spec.replica", DEPLOYMENT.replace("replicas: 2", "replica: 2"),
     ['m.yaml:5: Deployment default/web: spec.replica: unknown field "spec.replica", '
      'did you mean "spec.replicas"?']),
    ("in a container", DEPLOYMENT + "        imagePullPolcy: Always\n",
     ['m.yaml:13: Deployment default/web: spec.template.spec.containers[0].imagePullPolcy: unknown field '
      '"spec.template.spec.containers[0].imagePullPolcy", did you mean "spec.template.spec.containers[0].imagePullPolicy"?']),
    ("a wrong type", DEPLOYMENT + "        ports: [{containerPort: http}]\n",
     ['m.yaml:13: Deployment default/web: spec.template.spec.containers[0].ports[0].containerPort: '
      'Invalid value: "http": must be an integer']),
    ("a bad quantity", DEPLOYMENT + "        resources: {limits: {memory: 1 GB}}\n",
     ['m.yaml:13: Deployment default/web: spec.template.spec.containers[0].resources.limits[memory]: '
      "Invalid value: \"1 GB\": quantities must match the regular expression "
      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"]),
    ("a kind typo", "apiVersion: v1\nkind: Servce\nmetadata: {name: web}\n",
     ['m.yaml:2: Servce default/web: kind: no matches for kind "Servce" in version "v1": '
      'did you mean "Service" (v1)?']),
    ("a kind ingressd does not serve", "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: web}\n",
     ["m.yaml:2: CronJob default/web: kind: warning: kind CronJob is not served by ingressd; ignored"]),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_schema_problems(text, expected):
    assert problems(text) == expected


def test_a_field_the_hand_written_checks_reported_is_not_repeated():
    found = problems(DEPLOYMENT.replace("replicas: 2", "replicas: two"))
    assert len([p for p in found if "spec.replicas:" in p]) == 1, found
