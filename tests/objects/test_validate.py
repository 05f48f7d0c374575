import textwrap

import pytest

from ingressd.objects.load import parse_manifests
from ingressd.objects.manifests import load_paths
from ingressd.objects.validate import validate

BASE = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: ingressd/echo, ports: [{containerPort: 8080}]}]
"""

# Lines 1-8; a case adds path items from line 9.
INGRESS_PATHS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
  - http:
      paths:
"""

BACKEND = "backend: {service: {name: web, port: {number: 80}}}"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(textwrap.dedent(text).lstrip("\n"))


def check(text: str, ingress_class: str = "nginx") -> list[str]:
    """Problems of m.yaml loaded together with base.yaml (Service web:80 and its Deployment)."""
    write("base.yaml", BASE)
    write("m.yaml", text)
    return [str(p) for p in load_paths(["base.yaml", "m.yaml"], ingress_class).problems]


def paths(items: str) -> str:
    return INGRESS_PATHS.lstrip("\n") + textwrap.indent(textwrap.dedent(items).lstrip("\n"), "      ")


VALID = """
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: nginx
  annotations: {ingressclass.kubernetes.io/is-default-class: "true"}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: default
  labels: {app.kubernetes.io/name: web}
  annotations:
    nginx.ingress.kubernetes.io/use-regex: "true"
    nginx.ingress.kubernetes.io/proxy-body-size: 8m
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: web, port: {name: http}}}
  tls:
  - hosts: [a.example.com, "*.example.com"]
    secretName: tls
  rules:
  - host: a.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /exact, pathType: Exact, backend: {service: {name: web, port: {name: http}}}}
      - {path: "/api(/|$)(.*)", pathType: ImplementationSpecific, backend: {service: {name: web, port: {number: 80}}}}
  - host: "*.example.com"
    http:
      paths:
      - {pathType: ImplementationSpecific, backend: {service: {name: web, port: {number: 80}}}}
  - http:
      paths:
      - {path: /x, pathType: Prefix, backend: {service: {name: external, port: {number: 443}}}}
---
apiVersion: v1
kind: Service
metadata: {name: external}
spec: {type: ExternalName, externalName: example.com}
---
apiVersion: v1
kind: Service
metadata: {name: headless}
spec: {clusterIP: None, selector: {app: web}}
---
apiVersion: v1
kind: Service
metadata: {name: manual}
spec:
  ports:
  - {name: http, port: 80, targetPort: http, protocol: TCP}
  - {name: metrics, port: 9090, targetPort: 9090}
---
apiVersion: v1
kind: Endpoints
metadata: {name: manual}
subsets:
- addresses: [{ip: 127.0.0.1}]
  notReadyAddresses: [{ip: "::1"}]
  ports: [{name: http, port: 8000}, {name: metrics, port: 9000}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: manual-1
  labels: {kubernetes.io/service-name: manual}
addressType: IPv4
endpoints:
- addresses: [127.0.0.2]
  conditions: {ready: true, serving: true, terminating: false}
ports: [{name: http, port: 8000, protocol: TCP}]
---
apiVersion: v1
kind: Secret
metadata: {name: tls}
type: Opaque  # a kubernetes.io/tls Secret must hold a real certificate (see test_tls_secrets.py)
data:
  tls.crt: |
    LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    Cg==
stringData: {tls.key: "not a real key: tests never hold one"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {a.conf: "x = 1", "2": two}
binaryData: {blob: AAEC}
---
apiVersion: v1
kind: Pod
metadata: {name: p, labels: {app: p}}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: ingressd/echo
    command: [python, -m, http.server]
    env:
    - {name: PORT, value: "8000"}
    - name: POD
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    ports: [{name: http, containerPort: 8000}]
    resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 1}}
    readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 2}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchExpressions: [{key: app, operator: In, values: [db]}]}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: ingressd/echo}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  replicas: 0
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs, tier: x}}
    spec:
      containers: [{name: rs, image: ingressd/echo}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
"""


def test_valid_manifests_have_no_problems():
    assert check(VALID) == []


def test_validate_takes_manifests_directly():
    manifests, problems = parse_manifests("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n", "x.yaml")
    assert problems == []
    assert [str(p) for p in validate(manifests)] == ["x.yaml:1: Service default/a: spec: Required value"]


UNSUPPORTED_PATH_TYPE = (
    'Unsupported value: "Foo": supported values: "Exact", "ImplementationSpecific", "Prefix"'
)
P0 = "Ingress default/web: spec.rules[0].http.paths[0]"

INGRESS_CASES = {
    "unknown pathType": (
        paths(f"""
        - path: /
          pathType: Foo
          {BACKEND}
        """),
        [f"m.yaml:10: {P0}.pathType: {UNSUPPORTED_PATH_TYPE}"],
    ),
    "missing pathType points at the path item": (
        paths(f"""
        - path: /
          {BACKEND}
        """),
        [f"m.yaml:9: {P0}.pathType: Required value: pathType must be specified"],
    ),
    "second path item": (
        paths(f"""
        - {{path: /, pathType: Prefix, {BACKEND}}}
        - path: /b
          {BACKEND}
          pathType: prefix
        """),
        ["m.yaml:12: Ingress default/web: spec.rules[0].http.paths[1].pathType: "
         'Unsupported value: "prefix": supported values: "Exact", "ImplementationSpecific", "Prefix"'],
    ),
    "typo in a field name": (
        paths(f"""
        - path: /
          pathtype: Prefix
          {BACKEND}
        """),
        [f"m.yaml:9: {P0}.pathType: Required value: pathType must be specified",
         f'm.yaml:10: {P0}.pathtype: unknown field "spec.rules[0].http.paths[0].pathtype", did you mean "spec.rules[0].http.paths[0].pathType"?'],
    ),
    "relative and unsafe paths": (
        paths(f"""
        - {{path: api, pathType: Prefix, {BACKEND}}}
        - {{path: /a//b/.., pathType: Exact, {BACKEND}}}
        - {{path: relative, pathType: ImplementationSpecific, {BACKEND}}}
        """),
        [f'm.yaml:9: {P0}.path: Invalid value: "api": must be an absolute path',
         'm.yaml:10: Ingress default/web: spec.rules[0].http.paths[1].path: Invalid value: "/a//b/..": '
         "must not contain '//'",
         'm.yaml:10: Ingress default/web: spec.rules[0].http.paths[1].path: Invalid value: "/a//b/..": '
         "cannot end with '/..'",
         'm.yaml:11: Ingress default/web: spec.rules[0].http.paths[2].path: Invalid value: "relative": '
         "must be an absolute path"],
    ),
    "missing paths": (
        INGRESS_PATHS.lstrip("\n") + "        []\n",
        ["m.yaml:8: Ingress default/web: spec.rules[0].http.paths: Required value"],
    ),
    "backend: neither, both, resource": (
        paths("""
        - {path: /a, pathType: Prefix, backend: {}}
        - path: /b
          pathType: Prefix
          backend:
            service: {name: web, port: {number: 80}}
            resource: {kind: Bucket, name: b}
        - {path: /c, pathType: Prefix, backend: {resource: {apiGroup: x.io, kind: Bucket, name: b}}}
        """),
        [f'm.yaml:9: {P0}.backend: Invalid value: "": resource or service backend is required',
         'm.yaml:12: Ingress default/web: spec.rules[0].http.paths[1].backend: Invalid value: "": '
         "cannot set both resource and service backends",
         "m.yaml:15: Ingress default/web: spec.rules[0].http.paths[2].backend.resource: warning: "
         "resource backends are not supported by ingressd: requests get 503"],
    ),
    "backend service name and port": (
        paths("""
        - path: /a
          pathType: Prefix
          backend:
            service:
              port: {number: 80}
        - {path: /b, pathType: Prefix, backend: {service: {name: web}}}
        - {path: /c, pathType: Prefix, backend: {service: {name: web, port: {number: 80, name: http}}}}
        - {path: /d, pathType: Prefix, backend: {service: {name: web, port: {number: 70000}}}}
        - {path: /e, pathType: Prefix, backend: {service: {name: web, port: {number: "80"}}}}
        - {path: /f, pathType: Prefix, backend: {service: {name: web, port: {name: HTTP}}}}
        - {path: /g, pathType: Prefix, backend: {service: {name: Web, port: {number: 0}}}}
        """),
        [f"m.yaml:12: {P0}.backend.service.name: Required value",
         "m.yaml:14: Ingress default/web: spec.rules[0].http.paths[1].backend.service.port: "
         "Required value: port name or number is required",
         "m.yaml:15: Ingress default/web: spec.rules[0].http.paths[2].backend.service.port: "
         'Invalid value: "": cannot set both port name & port number',
         "m.yaml:16: Ingress default/web: spec.rules[0].http.paths[3].backend.service.port.number: "
         "Invalid value: 70000: must be between 1 and 65535, inclusive",
         "m.yaml:17: Ingress default/web: spec.rules[0].http.paths[4].backend.service.port.number: "
         'Invalid value: "80": must be an integer',
         "m.yaml:18: Ingress default/web: spec.rules[0].http.paths[5].backend.service.port.name: "
         'Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
         "m.yaml:18: Ingress default/web: spec.rules[0].http.paths[5].backend.service.port.name: "
         'Invalid value: "HTTP": must contain at least one letter (a-z)',
         "m.yaml:19: Ingress default/web: spec.rules[0].http.paths[6].backend.service.name: "
         "Invalid value: \"Web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
         "start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
         "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
         "m.yaml:19: Ingress default/web: spec.rules[0].http.paths[6].backend.service.port: "
         "Required value: port name or number is required"],
    ),
    "service or port not among the manifests": (
        paths("""
        - {path: /a, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
        - {path: /b, pathType: Prefix, backend: {service: {name: web, port: {number: 8080}}}}
        - {path: /c, pathType: Prefix, backend: {service: {name: web, port: {name: grpc}}}}
        """),
        [f"m.yaml:9: {P0}.backend.service.name: warning: service default/api not found: requests get 503",
         "m.yaml:10: Ingress default/web: spec.rules[0].http.paths[1].backend.service.port: warning: "
         "service default/web has no port 8080: requests get 503",
         "m.yaml:11: Ingress default/web: spec.rules[0].http.paths[2].backend.service.port: warning: "
         'service default/web has no port named "grpc": requests get 503'],
    ),
    "hosts": (
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: web}
        spec:
          rules:
          - host: 10.0.0.1
          - host: foo.*.example.com
          - host: Example.com
          - host: "*.example.com"
          - host: "**.example.com"
        """,
        ['m.yaml:6: Ingress default/web: spec.rules[0].host: Invalid value: "10.0.0.1": '
         "must be a DNS name, not an IP address",
         'm.yaml:7: Ingress default/web: spec.rules[1].host: Invalid value: "foo.*.example.com": '
         "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
         "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character "
         r"(e.g. '*.example.com', regex used for validation is '\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?"
         r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
         'm.yaml:8: Ingress default/web: spec.rules[2].host: Invalid value: "Example.com": '
         "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
         "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
         r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
         'm.yaml:10: Ingress default/web: spec.rules[4].host: Invalid value: "**.example.com": '
         "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
         "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character "
         r"(e.g. '*.example.com', regex used for validation is '\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?"
         r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"],
    ),
    "neither rules nor defaultBackend": (
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec: {rules: []}\n",
        ["m.yaml:4: Ingress default/web: spec: Required value: either `defaultBackend` or `rules` must be specified"],
    ),
    "no spec": (
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\n",
        ["m.yaml:1: Ingress default/web: spec: Required value: either `defaultBackend` or `rules` must be specified"],
    ),
    "defaultBackend": (
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: web}
        spec:
          defaultBackend:
            service: {name: nope, port: {number: 80}}
        """,
        ["m.yaml:6: Ingress default/web: spec.defaultBackend.service.name: warning: "
         "service default/nope not found: requests get 503"],
    ),
    "tls": (
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: web}
        spec:
          defaultBackend: {service: {name: web, port: {number: 80}}}
          tls:
          - hosts: [ok.example.com, 10.1.1.1, 5]
            secretName: missing
          - secretName: Bad_Name
          - hosts: ok.example.com
        """,
        ['m.yaml:7: Ingress default/web: spec.tls[0].hosts[1]: Invalid value: "10.1.1.1": '
         "must be a DNS name, not an IP address",
         "m.yaml:7: Ingress default/web: spec.tls[0].hosts[2]: Invalid value: 5: must be a string "
         '(quote it: "5")',
         "m.yaml:8: Ingress default/web: spec.tls[0].secretName: warning: "
         "secret default/missing not found: the default certificate is used",
         'm.yaml:9: Ingress default/web: spec.tls[1].secretName: Invalid value: "Bad_Name": '
         "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
         "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
         r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
         'm.yaml:10: Ingress default/web: spec.tls[2].hosts: Invalid value: "ok.example.com": must be a list'],
    ),
    "regex paths": (
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: web
          annotations:
            nginx.ingress.kubernetes.io/use-regex: "true"
        spec:
          rules:
          - http:
              paths:
              - {path: "~*^/a", pathType: ImplementationSpecific, backend: {service: {name: web, port: {number: 80}}}}
              - {path: "/b(/|$)(.*)", pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
        """,
        ["m.yaml:12: Ingress default/web: spec.rules[0].http.paths[1].path: warning: regex path with pathType "
         "Prefix: ingress-nginx rejects it (strict-validate-path-type); use ImplementationSpecific"],
    ),
    "class not served": (
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: web}
        spec:
          ingressClassName: traefik
          defaultBackend: {service: {name: nope, port: {number: 80}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: legacy
          annotations:
            kubernetes.io/ingress.class: traefik
            nginx.ingress.kubernetes.io/no-such-thing: "x"
        spec:
          defaultBackend: {service: {name: nope, port: {number: 80}}}
        """,
        ["m.yaml:5: Ingress default/web: spec.ingressClassName: warning: "
         "ignored: ingress class traefik is not served (--ingress-class nginx)",
         "m.yaml:13: Ingress default/legacy: metadata.annotations[kubernetes.io/ingress.class]: warning: "
         "ignored: ingress class traefik is not served (--ingress-class nginx)"],
    ),
    "class and annotation disagree": (
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: web
          annotations: {kubernetes.io/ingress.class: other}
        spec:
          ingressClassName: nginx
          defaultBackend: {service: {name: web, port: {number: 80}}}
        """,
        ['m.yaml:5: Ingress default/web: metadata.annotations[kubernetes.io/ingress.class]: '
         'Invalid value: "other": must match `ingressClassName` when both are specified'],
    ),
    "an IngressClass of the ingress-nginx controller is served": (
        """
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: internal}
        spec: {controller: k8s.io/ingress-nginx}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: web}
        spec:
          ingressClassName: internal
          defaultBackend: {service: {name: web, port: {number: 80}}}
        """,
        [],
    ),
    "annotation values are strings": (
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: web
          annotations:
            nginx.ingress.kubernetes.io/use-regex: true
        spec:
          defaultBackend: {service: {name: web, port: {number: 80}}}
        """,
        ["m.yaml:6: Ingress default/web: metadata.annotations[nginx.ingress.kubernetes.io/use-regex]: "
         'Invalid value: true: must be a string (quote it: "true")'],
    ),
}


@pytest.mark.parametrize(("text", "expected"), INGRESS_CASES.values(), ids=INGRESS_CASES.keys())
def test_ingress(text, expected):
    assert check(text) == expected


def test_served_class_follows_the_flag():
    text = ("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n"
            "  ingressClassName: nginx\n  defaultBackend: {service: {name: web, port: {number: 80}}}\n")
    assert check(text, ingress_class="nginx") == []
    assert check(text, ingress_class="internal") == [
        "m.yaml:5: Ingress default/web: spec.ingressClassName: warning: "
        "ignored: ingress class nginx is not served (--ingress-class internal)"]


def test_nginx_annotations_are_checked_by_the_routing_table():
    problems = check("""
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: web
          annotations:
            nginx.ingress.kubernetes.io/use-regx: "true"
            nginx.ingress.kubernetes.io/proxy-body-size: huge
            example.com/other: anything
        spec:
          defaultBackend: {service: {name: web, port: {number: 80}}}
    """)
    assert len(problems) == 2
    assert problems[0].startswith(
        "m.yaml:6: Ingress default/web: metadata.annotations[nginx.ingress.kubernetes.io/use-regx]: warning: ")
    assert problems[1].startswith(
        "m.yaml:7: Ingress default/web: metadata.annotations[nginx.ingress.kubernetes.io/proxy-body-size]: ")
    assert ": warning: " not in problems[1]


COMMON_CASES = {
    "missing apiVersion, kind and name": (
        "metadata:\n  labels: {a: b}\n",
        ["m.yaml:1: - default/-: apiVersion: Required value",
         "m.yaml:1: - default/-: kind: Required value",
         "m.yaml:1: - default/-: metadata.name: Required value: name is required"],
    ),
    "missing metadata": (
        "apiVersion: v1\nkind: ConfigMap\ndata: {}\n",
        ["m.yaml:1: ConfigMap default/-: metadata: Required value"],
    ),
    "apiVersion not matching kind": (
        "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: old}\n"
        "spec: {backend: {serviceName: web, servicePort: 80}}\n",
        ['m.yaml:1: Ingress default/old: apiVersion: no matches for kind "Ingress" in version '
         '"extensions/v1beta1": use "networking.k8s.io/v1"'],
    ),
    "unknown kind": (
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\nspec: {}\n",
        ["m.yaml:2: Certificate default/c: kind: warning: kind Certificate is not served by ingressd; ignored"],
    ),
    "names, namespaces, labels": (
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: My_Config
          namespace: Prod
          labels: {"a/b/c": x, app: "bad value"}
          annotations: {"/x": y}
          lables: {}
        """,
        ["m.yaml:4: ConfigMap Prod/My_Config: metadata.name: Invalid value: \"My_Config\": a lowercase RFC 1123 "
         "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with "
         "an alphanumeric character (e.g. 'example.com', regex used for validation is "
         r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
         "m.yaml:5: ConfigMap Prod/My_Config: metadata.namespace: Invalid value: \"Prod\": a lowercase RFC 1123 "
         "label must consist of lower case alphanumeric characters or '-', and must start and end with an "
         "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
         'm.yaml:6: ConfigMap Prod/My_Config: metadata.labels[a/b/c]: Invalid value: "a/b/c": a qualified name '
         "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
         "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
         "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
         "(e.g. 'example.com/MyName')",
         'm.yaml:6: ConfigMap Prod/My_Config: metadata.labels[app]: Invalid value: "bad value": a valid label '
         "must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
         "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation "
         "is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
         'm.yaml:7: ConfigMap Prod/My_Config: metadata.annotations[/x]: Invalid value: "/x": prefix part must '
         "be non-empty",
         'm.yaml:8: ConfigMap Prod/My_Config: metadata.lables: unknown field "metadata.lables", did you mean "metadata.labels"?'],
    ),
}


@pytest.mark.parametrize(("text", "expected"), COMMON_CASES.values(), ids=COMMON_CASES.keys())
def test_common(text, expected):
    assert check(text) == expected


def test_duplicates_across_files_name_both_places():
    write("other.yaml", "# the same Service again\n" + textwrap.dedent(BASE).split("---")[0].lstrip("\n"))
    write("base.yaml", BASE)
    problems = [str(p) for p in load_paths(["base.yaml", "other.yaml"]).problems]
    assert problems == [
        "other.yaml:4: Service default/web: metadata.name: duplicate Service default/web: also defined at base.yaml:1"]


def test_same_name_in_other_namespace_or_kind_is_no_duplicate():
    assert check("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n---\n"
                 "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: other}\n"
                 "spec: {clusterIP: None}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n") == []


CORE_CASES = {
    "service ports": (
        """
        apiVersion: v1
        kind: Service
        metadata: {name: s}
        spec:
          type: Balanced
          clusterIP: 10.0.0.300
          selector: {app: 1}
          ports:
          - port: 80
            targetPort: "8080"
            protocol: HTTP
          - {name: http, port: 80}
          - {name: http, port: 0, targetPort: Not_A_Name}
          - {name: x, port: 80}
        """,
        ['m.yaml:5: Service default/s: spec.type: Unsupported value: "Balanced": supported values: '
         '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
         'm.yaml:6: Service default/s: spec.clusterIP: Invalid value: "10.0.0.300": '
         "must be empty, 'None', or a valid IP address",
         'm.yaml:7: Service default/s: spec.selector[app]: Invalid value: 1: must be a string (quote it: "1")',
         "m.yaml:9: Service default/s: spec.ports[0].name: Required value",
         'm.yaml:10: Service default/s: spec.ports[0].targetPort: Invalid value: "8080": must be a number, '
         "not a string, or a port name (remove the quotes)",
         'm.yaml:11: Service default/s: spec.ports[0].protocol: Unsupported value: "HTTP": supported values: '
         '"SCTP", "TCP", "UDP"',
         'm.yaml:13: Service default/s: spec.ports[2].name: Duplicate value: "http"',
         "m.yaml:13: Service default/s: spec.ports[2].port: Invalid value: 0: must be between 1 and 65535, "
         "inclusive",
         'm.yaml:13: Service default/s: spec.ports[2].targetPort: Invalid value: "Not_A_Name": '
         "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
         "m.yaml:14: Service default/s: spec.ports[3]: Duplicate value: port 80/TCP (also spec.ports[1])"],
    ),
    "service needs ports unless headless or ExternalName": (
        """
        apiVersion: v1
        kind: Service
        metadata: {name: s}
        spec:
          selector: {app: s}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: e}
        spec: {type: ExternalName}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: 1abc}
        spec: {clusterIP: None}
        """,
        ["m.yaml:4: Service default/s: spec.ports: Required value",
         "m.yaml:10: Service default/e: spec.externalName: Required value",
         'm.yaml:14: Service default/1abc: metadata.name: Invalid value: "1abc": a DNS-1035 label must consist '
         "of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an "
         "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
         "'[a-z]([-a-z0-9]*[a-z0-9])?')"],
    ),
    "endpoints": (
        """
        apiVersion: v1
        kind: Endpoints
        metadata: {name: e}
        subsets:
        - addresses:
          - ip: localhost
          - {}
          ports: [{port: 80}, {name: b, port: 81}]
        """,
        ['m.yaml:6: Endpoints default/e: subsets[0].addresses[0].ip: Invalid value: "localhost": '
         "must be a valid IP address",
         "m.yaml:7: Endpoints default/e: subsets[0].addresses[1].ip: Required value",
         "m.yaml:8: Endpoints default/e: subsets[0].ports[0].name: Required value"],
    ),
    "endpoint slice": (
        """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: s}
        addressType: IPv5
        endpoints:
        - addresses: []
        - addresses: ["::1"]
          conditions: {ready: "true"}
        ports: [{port: 0}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: t, labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        endpoints:
        - addresses: ["::1"]
        """,
        ["m.yaml:3: EndpointSlice default/s: metadata.labels: warning: label kubernetes.io/service-name is "
         "missing: no Service uses this EndpointSlice",
         'm.yaml:4: EndpointSlice default/s: addressType: Unsupported value: "IPv5": supported values: '
         '"FQDN", "IPv4", "IPv6"',
         "m.yaml:6: EndpointSlice default/s: endpoints[0].addresses: Required value: "
         "must contain at least 1 address",
         'm.yaml:8: EndpointSlice default/s: endpoints[1].conditions.ready: Invalid value: "true": '
         "must be a boolean (true or false)",
         "m.yaml:9: EndpointSlice default/s: ports[0].port: Invalid value: 0: must be between 1 and 65535, "
         "inclusive",
         'm.yaml:16: EndpointSlice default/t: endpoints[0].addresses[0]: Invalid value: "::1": '
         "must be a valid IPv4 address"],
    ),
    "secret": (
        """
        apiVersion: v1
        kind: Secret
        metadata: {name: s}
        type: kubernetes.io/tls
        data:
          tls.crt: "not base64!"
          tls.key: abc
          bad key: YQ==
          n: 12
        """,
        ["m.yaml:6: Secret default/s: data[tls.crt]: illegal base64 data at input byte 3; "
         "use stringData for plain text",
         "m.yaml:7: Secret default/s: data[tls.key]: illegal base64 data at input byte 3 (length must be a "
         "multiple of 4, padded with '='); use stringData for plain text",
         'm.yaml:8: Secret default/s: data[bad key]: Invalid value: "bad key": a valid config key must consist '
         "of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
         "regex used for validation is '[-._a-zA-Z0-9]+')",
         "m.yaml:9: Secret default/s: data[n]: must be a base64-encoded string"],
    ),
    "tls secret needs both keys": (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\nstringData: {tls.crt: x}\n",
        ["m.yaml:1: Secret default/s: data[tls.key]: Required value"],
    ),
    "config map": (
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: c}
        data: {port: 8080, same: x}
        binaryData: {same: eA==}
        spec: {}
        """,
        ["m.yaml:4: ConfigMap default/c: data[port]: Invalid value: 8080: must be a string (quote it: \"8080\")",
         'm.yaml:4: ConfigMap default/c: data[same]: Invalid value: "same": duplicate of key present in '
         "binaryData",
         'm.yaml:6: ConfigMap default/c: spec: unknown field "spec"'],
    ),
    "pod": (
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          restartPolicy: Sometimes
          containers:
          - image: ingressd/echo
            ports: [{containerPort: 0}, {containerPort: 80, name: web}, {containerPort: 81, name: web}]
            env:
            - name: PORT
              value: 8080
            - value: x
            - {name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            resources: {requests: {cpu: lots}}
            readinessProbe: {periodSeconds: 0}
          - name: b
            imge: x
        """,
        ['m.yaml:5: Pod default/p: spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
         '"Always", "Never", "OnFailure"',
         "m.yaml:7: Pod default/p: spec.containers[0].name: Required value",
         "m.yaml:8: Pod default/p: spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between "
         "1 and 65535, inclusive",
         'm.yaml:8: Pod default/p: spec.containers[0].ports[2].name: Duplicate value: "web"',
         'm.yaml:11: Pod default/p: spec.containers[0].env[0].value: Invalid value: 8080: must be a string '
         '(quote it: "8080")',
         "m.yaml:12: Pod default/p: spec.containers[0].env[1].name: Required value",
         'm.yaml:13: Pod default/p: spec.containers[0].env[2].valueFrom: Invalid value: "": may not be '
         "specified when `value` is not empty",
         'm.yaml:14: Pod default/p: spec.containers[0].resources.requests[cpu]: Invalid value: "lots": '
         "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
         "m.yaml:15: Pod default/p: spec.containers[0].readinessProbe: Required value: must specify a handler "
         "type",
         "m.yaml:15: Pod default/p: spec.containers[0].readinessProbe.periodSeconds: Invalid value: 0: must be "
         "greater than or equal to 1",
         "m.yaml:16: Pod default/p: spec.containers[1].image: Required value",
         'm.yaml:17: Pod default/p: spec.containers[1].imge: unknown field "spec.containers[1].imge", did you mean "spec.containers[1].image"?'],
    ),
    "pod without containers": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: []\n",
        ["m.yaml:5: Pod default/p: spec.containers: Required value"],
    ),
}


@pytest.mark.parametrize(("text", "expected"), CORE_CASES.values(), ids=CORE_CASES.keys())
def test_core(text, expected):
    assert check(text) == expected


APPS_CASES = {
    "selector does not match template labels": (
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          replicas: -1
          selector:
            matchLabels: {app: d}
          template:
            metadata:
              labels: {app: e}
            spec:
              restartPolicy: Never
              containers: [{name: d, image: ingressd/echo}]
        """,
        ["m.yaml:5: Deployment default/d: spec.replicas: Invalid value: -1: must be greater than or equal to 0",
         'm.yaml:10: Deployment default/d: spec.template.metadata.labels: Invalid value: {"app":"e"}: '
         "`selector` does not match template `labels`",
         'm.yaml:12: Deployment default/d: spec.template.spec.restartPolicy: Unsupported value: "Never": '
         'supported values: "Always"'],
    ),
    "missing selector and template": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: '2'\n",
        ["m.yaml:4: Deployment default/d: spec.selector: Required value",
         "m.yaml:4: Deployment default/d: spec.template: Required value",
         'm.yaml:5: Deployment default/d: spec.replicas: Invalid value: "2": must be an integer'],
    ),
    "empty selector, bad expressions, strategy": (
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          selector: {}
          strategy: {type: Rolling, rollingUpdate: {maxSurge: 0, maxUnavailable: "0%"}}
          template:
            spec:
              containers: [{name: d, image: ingressd/echo}]
        ---
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata: {name: r}
        spec:
          selector:
            matchExpressions:
            - {key: app, operator: Is, values: [r]}
            - {key: tier, operator: In}
          template:
            spec:
              containers: [{name: r, image: ingressd/echo}]
        """,
        ["m.yaml:5: Deployment default/d: spec.selector: Invalid value: {}: empty selector is invalid for "
         "deployment",
         'm.yaml:6: Deployment default/d: spec.strategy.type: Unsupported value: "Rolling": supported values: '
         '"Recreate", "RollingUpdate"',
         'm.yaml:6: Deployment default/d: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": '
         "may not be 0 when `maxSurge` is 0",
         'm.yaml:17: ReplicaSet default/r: spec.selector.matchExpressions[0].operator: Unsupported value: "Is": '
         'supported values: "DoesNotExist", "Exists", "In", "NotIn"',
         "m.yaml:18: ReplicaSet default/r: spec.selector.matchExpressions[1].values: Required value: must be "
         "specified when `operator` is 'In' or 'NotIn'"],
    ),
    "stateful set matchExpressions mismatch": (
        """
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db}
        spec:
          podManagementPolicy: Random
          selector: {matchExpressions: [{key: app, operator: NotIn, values: [db]}]}
          template:
            metadata: {labels: {app: db}}
            spec: {containers: [{name: db, image: ingressd/echo}]}
        """,
        ['m.yaml:5: StatefulSet default/db: spec.podManagementPolicy: Unsupported value: "Random": supported '
         'values: "OrderedReady", "Parallel"',
         'm.yaml:8: StatefulSet default/db: spec.template.metadata.labels: Invalid value: {"app":"db"}: '
         "`selector` does not match template `labels`"],
    ),
    "autoscaler": (
        """
        apiVersion: autoscaling/v2
        kind: HorizontalPodAutoscaler
        metadata: {name: h}
        spec:
          scaleTargetRef: {kind: Deployment, name: gone}
          minReplicas: 5
          maxReplicas: 2
          metrics:
          - type: Resource
            resource: {name: cpu, target: {type: Utilization}}
          - type: Magic
        ---
        apiVersion: autoscaling/v1
        kind: HorizontalPodAutoscaler
        metadata: {name: old}
        spec: {}
        """,
        ["m.yaml:5: HorizontalPodAutoscaler default/h: spec.scaleTargetRef.name: warning: Deployment "
         "default/gone not found: nothing to scale",
         "m.yaml:7: HorizontalPodAutoscaler default/h: spec.maxReplicas: Invalid value: 2: must be greater than "
         "or equal to `minReplicas`",
         "m.yaml:10: HorizontalPodAutoscaler default/h: spec.metrics[0].resource.target.averageUtilization: "
         "Required value",
         'm.yaml:11: HorizontalPodAutoscaler default/h: spec.metrics[1].type: Unsupported value: "Magic": '
         'supported values: "ContainerResource", "External", "Object", "Pods", "Resource"',
         'm.yaml:13: HorizontalPodAutoscaler default/old: apiVersion: no matches for kind '
         '"HorizontalPodAutoscaler" in version "autoscaling/v1": use "autoscaling/v2"'],
    ),
    "service used by an ingress selects no pods": (
        """
        apiVersion: v1
        kind: Service
        metadata: {name: api}
        spec:
          selector: {app: api}
          ports: [{port: 80}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: api}
        spec:
          defaultBackend: {service: {name: api, port: {number: 80}}}
        """,
        ["m.yaml:5: Service default/api: spec.selector: warning: selector matches no Pod or Pod template in "
         "namespace default: the service has no endpoints, requests get 503"],
    ),
}


@pytest.mark.parametrize(("text", "expected"), APPS_CASES.values(), ids=APPS_CASES.keys())
def test_apps_and_cross_object(text, expected):
    assert check(text) == expected


def test_never_raises_on_odd_shapes():
    odd = [
        "apiVersion: 1\nkind: [Ingress]\nmetadata: {name: {a: b}}\n",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\nspec: [1]\n",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\nspec: {rules: [1, {http: 2}, "
        "{http: {paths: [3, {backend: {service: 4}}]}}], tls: 5, defaultBackend: 6}\n",
        "apiVersion: v1\nkind: Service\nmetadata: {name: x, labels: 3, annotations: [1]}\nspec: {ports: {a: 1}}\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {selector: {matchExpressions: [{}]}, "
        "template: {metadata: {labels: [1]}, spec: {containers: [{env: [1, {}], ports: 2, resources: 3}]}}}\n",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {1: 2}\nstringData: 4\n",
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: x}\naddressType: 1\n"
        "endpoints: [{addresses: [1], conditions: 2}]\nports: [{name: 3}]\n",
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\n"
        "spec: {scaleTargetRef: 1, metrics: [{type: Pods}]}\n",
        "apiVersion: v1\nkind: List\nitems: {a: 1}\n",
    ]
    for text in odd:
        problems = check(text)
        assert problems and all(p.startswith("m.yaml:") for p in problems), (text, problems)


def test_hundreds_of_objects_reload_quickly():
    import time

    docs = [f"apiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}\nspec: {{selector: {{app: a}}, "
            f"ports: [{{port: 80}}]}}\n" for i in range(300)]
    write("many.yaml", "---\n".join(docs))
    start = time.perf_counter()
    result = load_paths(["many.yaml"])
    assert time.perf_counter() - start < 2.0
    assert len(result.manifests) == 300 and result.problems == []


# --- canaries -------------------------------------------------------------------------------------

CANARY_SERVICES = """
apiVersion: v1
kind: Service
metadata: {name: canary}
spec: {ports: [{port: 80}]}
---
"""


def canary_ingress(name: str, host: str = "foo.com", path: str = "/", path_type: str = "Prefix",
                   annotations: str = 'nginx.ingress.kubernetes.io/canary: "true"', service: str = "canary",
                   created: str = "2024-01-02") -> str:
    return f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  creationTimestamp: "{created}T00:00:00Z"
  annotations:
    {annotations}
spec:
  rules:
  - host: {host}
    http:
      paths:
      - {{path: "{path}", pathType: {path_type}, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}
---
"""


MAIN_INGRESS = canary_ingress("main", annotations="example.com/none: x", service="web", created="2024-01-01")


def test_canary_attached_is_clean():
    assert check(CANARY_SERVICES + MAIN_INGRESS + canary_ingress("canary")) == []


def test_second_canary_for_one_main_is_an_error_naming_both():
    text = CANARY_SERVICES + MAIN_INGRESS + canary_ingress("canary") + canary_ingress("canary-two", created="2024-01-03")
    [problem] = check(text)
    assert problem.startswith("m.yaml:46: Ingress default/canary-two: spec.rules[0].http.paths[0]: a main backend"
                              " takes one canary: ")
    assert "the canary default/canary, which is older" in problem and "this canary default/canary-two is" in problem
    assert "Ingress default/main" in problem
    assert ": warning: " not in problem


def test_canary_without_main_is_a_warning_with_ingress_nginx_reason():
    [problem] = check(CANARY_SERVICES + MAIN_INGRESS + canary_ingress("canary", path_type="Exact"))
    assert problem == (
        'm.yaml:32: Ingress default/canary: spec.rules[0].http.paths[0]: warning: canary not used: no main Ingress'
        ' has host "foo.com", path "/" and pathType Exact (ingress-nginx: unable to find real backend for'
        " alternative backend default-canary-80. Deleting.)")


def test_canary_annotations_without_canary_true_are_an_error():
    annotations = 'nginx.ingress.kubernetes.io/canary-weight: "10"'
    problems = check(CANARY_SERVICES + MAIN_INGRESS + canary_ingress("canary", host="bar.com",
                                                                     annotations=annotations))
    [problem] = problems
    assert problem.startswith("m.yaml:26: Ingress default/canary: metadata.annotations[nginx.ingress.kubernetes.io/"
                              "canary-weight]: the annotation canary does not contain a valid configuration: "
                              "configured but not enabled")


def test_annotations_ignored_on_a_canary_are_warned_once():
    annotations = 'nginx.ingress.kubernetes.io/canary: "true"\n    nginx.ingress.kubernetes.io/proxy-body-size: 8k'
    [problem] = check(CANARY_SERVICES + MAIN_INGRESS + canary_ingress("canary", annotations=annotations))
    assert problem.startswith("m.yaml:27: Ingress default/canary: metadata.annotations[nginx.ingress.kubernetes.io/"
                              "proxy-body-size]: warning: ignored on a canary Ingress")


def test_canary_of_another_class_is_not_checked():
    annotations = 'nginx.ingress.kubernetes.io/canary: "true"\n    kubernetes.io/ingress.class: other'
    problems = check(CANARY_SERVICES + MAIN_INGRESS + canary_ingress("canary", path_type="Exact",
                                                                     annotations=annotations))
    assert [p for p in problems if "canary not used" in p] == []


def test_hpa_behavior_and_target_types_are_validated_as_the_api_server_does():
    text = textwrap.dedent("""\
        apiVersion: autoscaling/v2
        kind: HorizontalPodAutoscaler
        metadata: {name: h}
        spec:
          scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
          maxReplicas: 5
          metrics:
          - type: Pods
            pods: {metric: {name: requests_per_second}, target: {type: Utilization, averageUtilization: 50}}
          - type: Object
            object:
              metric: {name: requests_per_second}
              describedObject: {kind: Service, name: web}
              target: {type: Value}
          - type: External
            external: {metric: {name: queue}, target: {type: AverageValue, averageValue: "-1"}}
          behavior:
            scaleUp:
              stabilizationWindowSeconds: 4000
              selectPolicy: Fastest
              policies:
              - {type: Pods, value: 0, periodSeconds: 15}
              - {type: Percent, value: 10, periodSeconds: 3600}
              - {type: Nodes, value: 1, periodSeconds: 60}
            scaleDown:
              policies: []
        """)
    manifests, problems = parse_manifests(text, "m.yaml")
    assert not problems
    got = [str(p) for p in validate(manifests)]
    prefix = "m.yaml:{}: HorizontalPodAutoscaler default/h: "
    assert got == [
        prefix.format(9) + 'spec.metrics[0].pods.target.type: Unsupported value: "Utilization": supported values: '
                           '"AverageValue"',
        prefix.format(14) + "spec.metrics[1].object.target.value: Required value: must be set for a target of type Value",
        prefix.format(16) + 'spec.metrics[2].external.target.averageValue: Invalid value: "-1": must be positive',
        prefix.format(19) + "spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than "
                            "or equal to 3600",
        prefix.format(20) + 'spec.behavior.scaleUp.selectPolicy: Unsupported value: "Fastest": supported values: '
                            '"Disabled", "Max", "Min"',
        prefix.format(22) + "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
        prefix.format(23) + "spec.behavior.scaleUp.policies[1].periodSeconds: Invalid value: 3600: must be less than "
                            "or equal to 1800",
        prefix.format(24) + 'spec.behavior.scaleUp.policies[2].type: Unsupported value: "Nodes": supported values: '
                            '"Percent", "Pods"',
        prefix.format(26) + "spec.behavior.scaleDown.policies: Required value: must specify at least one Policy",
        prefix.format(5) + "spec.scaleTargetRef.name: warning: Deployment default/web not found: nothing to scale",
    ]


def test_node_manifests_are_checked():
    text = textwrap.dedent("""\
        apiVersion: v1
        kind: Node
        metadata: {name: small}
        spec: {unschedulable: "yes"}
        status:
          capacity: {cpu: lots, memory: 4Gi}
        """)
    manifests, problems = parse_manifests(text, "n.yaml")
    assert not problems
    assert [str(p) for p in validate(manifests)] == [
        'n.yaml:4: Node small: spec.unschedulable: Invalid value: "yes": must be a boolean (true or false)',
        "n.yaml:6: Node small: status.capacity[cpu]: Invalid value: \"lots\": quantities must match the regular "
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
    ]


@pytest.mark.parametrize("container, warned", [
    ('{name: web, image: "nginx:1.25"}', True),
    ('{name: web, image: "nginx:1.25", command: [python3, -m, http.server]}', False),
    ('{name: web, image: "ingressd/echo:1.0"}', False),
    ('{name: web, image: "docker.io/ingressd/echo"}', False),
])
def test_images_ingressd_cannot_run_are_warned_about(container, warned):
    text = textwrap.dedent(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: p}}
        spec:
          containers:
          - {container}
        """)
    manifests, problems = parse_manifests(text, "p.yaml")
    assert not problems
    got = [str(p) for p in validate(manifests)]
    expected = ['p.yaml:6: Pod default/p: spec.containers[0].image: warning: "nginx:1.25" is not runnable by ingressd '
                "(images are not pulled): the pod stays Pending (ImageNotSupported); use ingressd/echo or give the "
                "container a command"]
    assert got == (expected if warned else [])


def test_a_stored_persistent_volume_claim_is_not_called_unserved():
    claim = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"""
    manifests, problems = parse_manifests(claim, "claim.yaml")
    problems += validate(manifests)
    assert [str(p) for p in problems] == []


@pytest.mark.parametrize("spec, field, message", [
    ("{resources: {requests: {storage: 1Gi}}}", "spec.accessModes", "at least 1 access mode is required"),
    ("{accessModes: [ReadWriteSometimes], resources: {requests: {storage: 1Gi}}}", "spec.accessModes[0]",
     "ReadWriteSometimes"),
    ("{accessModes: [ReadWriteOnce]}", "spec.resources.requests[storage]", "Required value"),
    ("{accessModes: [ReadWriteOnce], resources: {requests: {storage: lots}}}", "spec.resources.requests[storage]",
     "lots"),
])
def test_a_claim_is_checked_as_the_api_server_does(spec, field, message):
    claim = f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: data}}\nspec: {spec}\n"
    manifests, problems = parse_manifests(claim, "claim.yaml")
    problems += validate(manifests)
    assert len(problems) == 1 and f": {field}: " in str(problems[0]) and message in str(problems[0]), problems
