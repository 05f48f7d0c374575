import textwrap

import pytest

from ingressd.objects.load import parse_manifests
from ingressd.objects.report import Report
from ingressd.objects.vpa import check_vpa

HEADER = """
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: web}
"""

VALID = HEADER + """
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  updatePolicy: {updateMode: Recreate, minReplicas: 1}
  resourcePolicy:
    containerPolicies:
    - containerName: "*"
      minAllowed: {cpu: 50m, memory: 64Mi}
      maxAllowed: {cpu: "2", memory: 2Gi}
      controlledResources: [cpu, memory]
      controlledValues: RequestsAndLimits
    - containerName: istio-proxy
      mode: "Off"
"""


def check(text: str) -> list[str]:
    """Problems of check_vpa on one manifest, printed as `kubectl apply`-like lines."""
    manifests, problems = parse_manifests(textwrap.dedent(text).lstrip("\n"), "vpa.yaml")
    assert not problems
    out: list = []
    for manifest in manifests:
        check_vpa(Report(manifest, out), manifest.obj)
    return [str(p) for p in out]


def test_valid_vpa_has_no_problems():
    assert check(VALID) == []


def test_minimal_vpa_is_valid():
    assert check(HEADER + "spec: {targetRef: {kind: StatefulSet, name: db}}\n") == []


WHO = "vpa.yaml:{line}: VerticalPodAutoscaler default/web: "

CASES = [
    ("spec missing", HEADER, 1, "spec: Required value"),
    ("targetRef missing", HEADER + "spec: {updatePolicy: {updateMode: Auto}}\n", 4,
     "spec.targetRef: Required value: the workload whose pods this VPA sizes"),
    ("targetRef kind missing", HEADER + "spec:\n  targetRef: {name: web}\n", 5,
     "spec.targetRef.kind: Required value"),
    ("targetRef name missing", HEADER + "spec:\n  targetRef: {kind: Deployment}\n", 5,
     "spec.targetRef.name: Required value"),
    ("unscalable kind", HEADER + "spec:\n  targetRef: {kind: DaemonSet, name: web}\n", 5,
     "spec.targetRef.kind: warning: ingressd runs pods only for Deployment, ReplicaSet, StatefulSet; ignored"),
    ("update mode", HEADER + """
spec:
  targetRef: {kind: Deployment, name: web}
  updatePolicy:
    updateMode: Always
""", 8, ('spec.updatePolicy.updateMode: Unsupported value: "Always": supported values: '
        '"Auto", "InPlaceOrRecreate", "Initial", "Off", "Recreate"')),
    ("minReplicas", HEADER + """
spec:
  targetRef: {kind: Deployment, name: web}
  updatePolicy:
    minReplicas: 0
""", 8, "spec.updatePolicy.minReplicas: Invalid value: 0: must be greater than or equal to 1"),
    ("minAllowed not a quantity", HEADER + """
spec:
  targetRef: {kind: Deployment, name: web}
  resourcePolicy:
    containerPolicies:
    - containerName: app
      minAllowed:
        cpu: lots
""", 11, ("spec.resourcePolicy.containerPolicies[0].minAllowed[cpu]: Invalid value: \"lots\": quantities must "
         "match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")),
    ("sub-millicore cpu", HEADER + """
spec:
  targetRef: {kind: Deployment, name: web}
  resourcePolicy:
    containerPolicies:
    - containerName: app
      maxAllowed: {cpu: 100.5m}
""", 10, ('spec.resourcePolicy.containerPolicies[0].maxAllowed[cpu]: Invalid value: "100.5m": '
         "must be a whole number of millicores")),
    ("max below min", HEADER + """
spec:
  targetRef: {kind: Deployment, name: web}
  resourcePolicy:
    containerPolicies:
    - containerName: app
      minAllowed: {memory: 1Gi}
      maxAllowed:
        memory: 512Mi
""", 12, ('spec.resourcePolicy.containerPolicies[0].maxAllowed[memory]: Invalid value: "512Mi": '
         "must be greater than or equal to minAllowed[memory]")),
    ("containerName missing", HEADER + """
spec:
  targetRef: {kind: Deployment, name: web}
  resourcePolicy:
    containerPolicies:
    - mode: Auto
""", 9, ('spec.resourcePolicy.containerPolicies[0].containerName: Required value: '
        'a container name, or "*" for the default policy')),
    ("scaling mode", HEADER + """
spec:
  targetRef: {kind: Deployment, name: web}
  resourcePolicy:
    containerPolicies:
    - containerName: app
      mode: Manual
""", 10, ('spec.resourcePolicy.containerPolicies[0].mode: Unsupported value: "Manual": '
         'supported values: "Auto", "Off"')),
    ("controlledResources", HEADER + """
spec:
  targetRef: {kind: Deployment, name: web}
  resourcePolicy:
    containerPolicies:
    - containerName: app
      controlledResources: [cpu, gpu]
""", 10, ('spec.resourcePolicy.containerPolicies[0].controlledResources[1]: Unsupported value: "gpu": '
         'supported values: "cpu", "memory"')),
    ("controlledValues with mode Off", HEADER + """
spec:
  targetRef: {kind: Deployment, name: web}
  resourcePolicy:
    containerPolicies:
    - containerName: app
      mode: "Off"
      controlledValues: RequestsOnly
""", 11, ("spec.resourcePolicy.containerPolicies[0].controlledValues: "
         "Forbidden: controlledValues must not be set when mode is Off")),
    ("duplicate container", HEADER + """
spec:
  targetRef: {kind: Deployment, name: web}
  resourcePolicy:
    containerPolicies:
    - containerName: app
    - containerName: app
""", 10, 'spec.resourcePolicy.containerPolicies[1].containerName: Duplicate value: "app"'),
    ("two recommenders", HEADER + """
spec:
  targetRef: {kind: Deployment, name: web}
  recommenders:
  - name: a
  - name: b
""", 7, "spec.recommenders: Too many: 2: must have at most 1 items"),
]


@pytest.mark.parametrize("name, text, line, expected", CASES, ids=[c[0] for c in CASES])
def test_problems_name_the_field(name, text, line, expected):
    assert check(text) == [WHO.format(line=line) + expected]


def test_a_typo_is_an_unknown_field_of_the_crd_schema():
    """Unknown fields are the schema pass's (objects/schema_check.py, the VPA CRD's schema)."""
    from ingressd.objects.validate import validate

    text = HEADER + """
spec:
  targetRef: {kind: Deployment, name: web}
  updatepolicy: {updateMode: "Off"}
"""
    manifests, _ = parse_manifests(textwrap.dedent(text).lstrip("\n"), "vpa.yaml")
    assert [str(p) for p in validate(manifests)] == [
        WHO.format(line=7) + 'spec.updatepolicy: unknown field "spec.updatepolicy", did you mean "spec.updatePolicy"?']


def test_validate_warns_when_an_hpa_and_a_vpa_scale_the_same_target_on_cpu():
    from ingressd.objects.validate import validate

    text = VALID + """---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
"""
    manifests, problems = parse_manifests(textwrap.dedent(text).lstrip("\n"), "both.yaml")
    assert not problems
    warnings = [str(p) for p in validate(manifests) if "HorizontalPodAutoscaler" in p.message]
    assert len(warnings) == 1
    assert warnings[0].startswith("both.yaml:6: VerticalPodAutoscaler default/web: spec.targetRef: warning:")
    assert "cpu" in warnings[0] and "oscillate" in warnings[0]
