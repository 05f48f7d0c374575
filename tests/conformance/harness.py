"""The Gateway API conformance harness, translated: the upstream base setup, manifest builders, and
an HTTP round tripper whose checks are those of upstream's `conformance/utils/http` (status, the
backend pod that answered and its namespace, the path/host/headers the backend saw, response
headers, redirect targets), against one real `ingressd run` on loopback ports.

Upstream: kubernetes-sigs/gateway-api v1.2.1, `conformance/base/manifests.yaml` and
`conformance/tests/*.go|*.yaml`. The manifests below are built from those files' content; each table
row names the upstream test (ShortName) and file it comes from.

Mapping of upstream's echo-basic onto ingressd's `ingressd/echo` (ingressd/pods/echo.py):
  echo-basic `pod`/`namespace`  -> echo `pod`/`namespace` (the Deployment's pods, name prefix = the
                                   upstream `Backend`)
  echo-basic `path` (with query) -> echo `path` + `?` + `query` (raw, as the backend saw it)
  echo-basic `host`, `headers`  -> echo `host`, `headers` (compared case-insensitively, values of a
                                   repeated header joined with ",", as upstream's roundtripper does)
  echo-basic's X-Echo-Set-Header (response headers the backend sets, `BackendSetResponseHeaders`)
                                -> the same request header on ingressd/echo.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import yaml

INFRA = "gateway-conformance-infra"
APP = "gateway-conformance-app-backend"
WEB = "gateway-conformance-web-backend"
GROUP = "gateway.networking.k8s.io"
CLASS = "ingressd"
CONTROLLER = "ingressd.io/gateway-controller"
UPSTREAM = "kubernetes-sigs/gateway-api v1.2.1"

# How long a case may take to become true (upstream: MaxTimeToConsistency, 30 s by default; here
# everything runs in one process, so a reload lands in well under a second).
CONSISTENCY_TIMEOUT = 10.0
# Upstream asks for RequiredConsecutiveSuccesses (3) identical answers in a row.
CONSECUTIVE = 3


# --- manifest builders (upstream's YAML, as Python data) -------------------------------------------

def namespace(name: str, labels: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def listener(name: str, port: int = 80, protocol: str = "HTTP", hostname: str | None = None,
             from_: str = "Same", selector: dict | None = None, tls_secret: str | None = None,
             kinds: list[str] | None = None, tls_mode: str | None = None) -> dict:
    allowed: dict = {"namespaces": {"from": from_}}
    if selector is not None:
        allowed["namespaces"]["selector"] = {"matchLabels": selector}
    if kinds is not None:
        allowed["kinds"] = [{"kind": k} for k in kinds]
    out: dict = {"name": name, "port": port, "protocol": protocol, "allowedRoutes": allowed}
    if hostname is not None:
        out["hostname"] = hostname
    if tls_secret is not None:
        out["tls"] = {"certificateRefs": [{"group": "", "kind": "Secret", "name": tls_secret, "namespace": INFRA}]}
    if tls_mode is not None:
        out["tls"] = {"mode": tls_mode}
    return out


def gateway(name: str, *listeners: dict, ns: str = INFRA, api_version: str = "v1") -> dict:
    return {"apiVersion": f"{GROUP}/{api_version}", "kind": "Gateway", "metadata": {"name": name, "namespace": ns},
            "spec": {"gatewayClassName": CLASS, "listeners": list(listeners)}}


def given(**fields) -> dict:
    """The fields that are not None, in the order given (optional API fields left out when unset)."""
    return {k: v for k, v in fields.items() if v is not None}


def parent(name: str = "same-namespace", ns: str | None = None, section: str | None = None,
           port: int | None = None) -> dict:
    return given(name=name, namespace=ns, sectionName=section, port=port)


def backend(name: str, port: int | None = 8080, ns: str | None = None, weight: int | None = None,
            group: str | None = None, kind: str | None = None) -> dict:
    return given(group=group, kind=kind, name=name, namespace=ns, port=port, weight=weight)


def match(path: tuple[str, str] | None = None, headers: dict[str, str] | None = None,
          query: dict[str, str] | None = None, method: str | None = None) -> dict:
    out: dict = {}
    if path is not None:
        out["path"] = {"type": path[0], "value": path[1]}
    if headers:
        out["headers"] = [{"name": k, "value": v} for k, v in headers.items()]
    if query:
        out["queryParams"] = [{"name": k, "value": v} for k, v in query.items()]
    if method is not None:
        out["method"] = method
    return out


def prefix(value: str, **kw) -> dict:
    return match(path=("PathPrefix", value), **kw)


def exact(value: str, **kw) -> dict:
    return match(path=("Exact", value), **kw)


def _modifier(set_: dict | None, add: dict | None, remove: list | None) -> dict:
    out: dict = {}
    if set_:
        out["set"] = [{"name": k, "value": v} for k, v in set_.items()]
    if add:
        out["add"] = [{"name": k, "value": v} for k, v in add.items()]
    if remove:
        out["remove"] = list(remove)
    return out


def request_headers(set_: dict | None = None, add: dict | None = None, remove: list | None = None) -> dict:
    return {"type": "RequestHeaderModifier", "requestHeaderModifier": _modifier(set_, add, remove)}


def response_headers(set_: dict | None = None, add: dict | None = None, remove: list | None = None) -> dict:
    return {"type": "ResponseHeaderModifier", "responseHeaderModifier": _modifier(set_, add, remove)}


def redirect(scheme: str | None = None, hostname: str | None = None, port: int | None = None,
             status: int | None = None, full: str | None = None, prefix_: str | None = None) -> dict:
    out: dict = {}
    if scheme is not None:
        out["scheme"] = scheme
    if hostname is not None:
        out["hostname"] = hostname
    if port is not None:
        out["port"] = port
    if status is not None:
        out["statusCode"] = status
    if full is not None:
        out["path"] = {"type": "ReplaceFullPath", "replaceFullPath": full}
    if prefix_ is not None:
        out["path"] = {"type": "ReplacePrefixMatch", "replacePrefixMatch": prefix_}
    return {"type": "RequestRedirect", "requestRedirect": out}


def rewrite(hostname: str | None = None, full: str | None = None, prefix_: str | None = None) -> dict:
    out: dict = {}
    if hostname is not None:
        out["hostname"] = hostname
    if full is not None:
        out["path"] = {"type": "ReplaceFullPath", "replaceFullPath": full}
    if prefix_ is not None:
        out["path"] = {"type": "ReplacePrefixMatch", "replacePrefixMatch": prefix_}
    return {"type": "URLRewrite", "urlRewrite": out}


def mirror(name: str, ns: str | None = None, port: int = 8080) -> dict:
    return {"type": "RequestMirror", "requestMirror": {"backendRef": backend(name, port, ns)}}


def rule(*backends: dict, matches: list[dict] | None = None, filters: list[dict] | None = None,
         timeouts: dict | None = None) -> dict:
    out: dict = {}
    if matches:
        out["matches"] = matches
    if filters:
        out["filters"] = filters
    if backends:
        out["backendRefs"] = list(backends)
    if timeouts:
        out["timeouts"] = timeouts
    return out


def httproute(name: str, *rules: dict, ns: str = INFRA, parents: list[dict] | None = None,
              hostnames: list[str] | None = None) -> dict:
    spec: dict = {"parentRefs": parents if parents is not None else [parent()]}
    if hostnames:
        spec["hostnames"] = hostnames
    spec["rules"] = list(rules)
    return {"apiVersion": f"{GROUP}/v1", "kind": "HTTPRoute", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def reference_grant(name: str, ns: str, from_ns: str, to_name: str | None = None) -> dict:
    to: dict = {"group": "", "kind": "Service"}
    if to_name is not None:
        to["name"] = to_name
    return {"apiVersion": f"{GROUP}/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": name, "namespace": ns},
            "spec": {"from": [{"group": GROUP, "kind": "HTTPRoute", "namespace": from_ns}], "to": [to]}}


# --- the base setup (conformance/base/manifests.yaml) ----------------------------------------------

def echo_backend(name: str, ns: str, replicas: int = 2, ports: list[dict] | None = None) -> list[dict]:
    """A Service (port 8080 -> 3000 unless `ports`, as upstream's) and a Deployment of ingressd/echo
    in place of echo-basic (which listens on 3000, and 3001 for h2c); like echo-basic, it logs every
    request (ECHO_LOG_REQUESTS), where upstream's ExpectMirroredRequest looks for mirrored ones."""
    labels = {"app": name}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
               "spec": {"selector": labels,
                        "ports": ports or [{"protocol": "TCP", "port": 8080, "targetPort": 3000}]}}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": name, "image": "ingressd/echo:1.0",
                                                       "env": [{"name": "ECHO_LOG_REQUESTS", "value": "1"}],
                                                       "ports": [{"containerPort": 3000},
                                                                 {"containerPort": 3001}]}]}}},
    }
    return [service, deployment]


TLS_SECRET = "tls-validity-checks-certificate"
TLS_HOSTS = ["example.org", "second-example.org", "unknown-example.org", "*.example.org", "secure.test.com"]


def tls_secret(cert_pem: bytes, key_pem: bytes, name: str = TLS_SECRET, ns: str = INFRA) -> dict:
    import base64

    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": ns},
            "data": {"tls.crt": base64.b64encode(cert_pem).decode(), "tls.key": base64.b64encode(key_pem).decode()}}


def base_manifests(cert_pem: bytes, key_pem: bytes) -> list[dict]:
    """Upstream's base setup with ingressd's GatewayClass `ingressd` in place of the suite's class.
    Left out: tls-backend, the grpc backends and coredns (the TLSRoute/GRPCRoute/UDP suites ingressd
    does not claim). The TLS Secret upstream's suite creates at run time is written here.
    Upstream writes these Gateways as gateway.networking.k8s.io/v1beta1 (a served version of the
    v1.2 CRD); ingressd serves Gateway as v1 only, so they are written as v1 (same schema)."""
    return [
        {"apiVersion": f"{GROUP}/v1", "kind": "GatewayClass", "metadata": {"name": CLASS},
         "spec": {"controllerName": CONTROLLER}},
        namespace(INFRA, {"gateway-conformance": "infra"}),
        gateway("same-namespace", listener("http")),
        gateway("same-namespace-with-https-listener",
                listener("https", 443, "HTTPS", tls_secret=TLS_SECRET),
                listener("https-with-hostname", 443, "HTTPS", hostname="second-example.org", tls_secret=TLS_SECRET),
                ),
        gateway("all-namespaces", listener("http", from_="All")),
        gateway("backend-namespaces", listener("http", from_="Selector", selector={"gateway-conformance": "backend"}),
                ),
        tls_secret(cert_pem, key_pem),
        *echo_backend("infra-backend-v1", INFRA, ports=[
            {"name": "first-port", "protocol": "TCP", "port": 8080, "targetPort": 3000},
            {"name": "second-port", "protocol": "TCP", "appProtocol": "kubernetes.io/h2c", "port": 8081,
             "targetPort": 3001},
            {"name": "third-port", "protocol": "TCP", "appProtocol": "kubernetes.io/ws", "port": 8082,
             "targetPort": 3000},
        ]),
        *echo_backend("infra-backend-v2", INFRA),
        *echo_backend("infra-backend-v3", INFRA),
        namespace(APP, {"gateway-conformance": "backend"}),
        *echo_backend("app-backend-v1", APP),
        *echo_backend("app-backend-v2", APP),
        namespace(WEB, {"gateway-conformance": "backend"}),
        *echo_backend("web-backend", WEB),
        tls_secret(cert_pem, key_pem, "certificate", WEB),  # the suite's gateway-secret-* tests refer to it
    ]


def dump(objects: list[dict]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)


# --- requests and expectations (conformance/utils/http.ExpectedResponse) ---------------------------

@dataclass(frozen=True)
class Req:
    path: str = "/"
    host: str | None = None  # None: the gateway address, as upstream's roundtripper sends it
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    backend_sets: dict[str, str] = field(default_factory=dict)  # BackendSetResponseHeaders
    https: bool = False  # over the HTTPS port with SNI = host
    port: int | None = None  # a listener port other than 80/443 (bound as given); None: --http/https-port


@dataclass(frozen=True)
class Exp:
    status: int = 200
    backend: str | None = None  # pod name prefix (upstream `Backend`)
    ns: str | None = INFRA  # upstream `Namespace`, checked when backend is set
    seen_path: str | None = None  # ExpectedRequest.Path (default: the request's path)
    seen_host: str | None = None  # ExpectedRequest.Host
    seen_headers: dict[str, str] = field(default_factory=dict)
    seen_absent: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)  # Response.Headers
    absent: tuple[str, ...] = ()  # Response.AbsentHeaders
    location: dict[str, str] | None = None  # RedirectRequest: scheme/host/port/path, "" = default


@dataclass(frozen=True)
class Case:
    req: Req
    exp: Exp


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    echo: dict | None


class Gateway:
    """The session's `ingressd run`: its ports, its manifest directory and its admin API."""

    def __init__(self, proc, manifest_dir, ca_pem: bytes) -> None:
        self.proc = proc
        self.dir = manifest_dir
        self.ca_pem = ca_pem
        self.current: list[dict] = []

    @property
    def http_port(self) -> int:
        return self.proc.http_port

    @property
    def https_port(self) -> int:
        return self.proc.https_port

    # -- the admin API
    def api_get(self, path: str) -> tuple[int, dict]:
        from tests.e2e.conftest import http_get

        status, _, body = http_get(self.proc.admin_port, path)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {}

    def api_text(self, path: str) -> str:
        from tests.e2e.conftest import http_get

        status, _, body = http_get(self.proc.admin_port, path)
        return body.decode(errors="replace") if status == 200 else ""

    def pod_logs(self, ns: str, app: str) -> dict[str, str]:
        """pod name -> its container log, for the pods labelled app=`app`."""
        _, pods = self.api_get(f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3D{app}")
        return {p["metadata"]["name"]: self.api_text(f"/api/v1/namespaces/{ns}/pods/{p['metadata']['name']}/log")
                for p in pods.get("items") or ()}

    def get(self, obj: dict) -> dict | None:
        status, body = self.api_get(object_path(obj))
        return body if status == 200 else None

    # -- manifests through the watched directory (hot reload)
    def apply(self, name: str, objects: list[dict]) -> None:
        """Make `objects` the test manifests: one file, `test.yaml`, replaced whole (upstream applies
        each test's manifests and deletes the previous test's; here that is one reload). Returns
        once the API serves every object of `objects` and none of the previous test's others."""
        previous = [o for o in self.current if all(object_path(o) != object_path(n) for n in objects)]
        tmp = self.dir / ".test.yaml.tmp"
        tmp.write_text(f"# {name}\n" + dump(objects))
        tmp.rename(self.dir / "test.yaml")  # whole, never truncate-then-write
        self.current = list(objects)
        wait_until(lambda: all(self.get(o) is not None for o in objects)
                   and all(self.get(o) is None for o in previous),
                   f"{name}: the API does not serve the test's objects (file refused?): {self.proc.stderr()[-2000:]}")

    # -- the data plane
    def send(self, req: Req, timeout: float = 5.0) -> Answer:
        port = req.port or (self.https_port if req.https else self.http_port)
        host = req.host if req.host is not None else f"127.0.0.1:{port}"
        if req.https:
            ctx = ssl.create_default_context(cadata=self.ca_pem.decode())  # verified, SNI = host
            sni = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            conn: http.client.HTTPConnection = _SNIConnection("127.0.0.1", port, sni, ctx, timeout)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        headers = {"Host": host, **req.headers}
        if req.backend_sets:
            headers["X-Echo-Set-Header"] = ",".join(f"{k}:{v}" for k, v in req.backend_sets.items())
        try:
            conn.request(req.method, req.path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            echo = None
            if resp.getheader("Content-Type", "").startswith("application/json"):
                try:
                    echo = json.loads(body)
                except ValueError:
                    echo = None
            return Answer(resp.status, resp.getheaders(), echo if isinstance(echo, dict) and "pod" in echo else None)
        finally:
            conn.close()

    def expect(self, case: Case, timeout: float = CONSISTENCY_TIMEOUT) -> None:
        """Upstream's MakeRequestAndExpectEventuallyConsistentResponse: CONSECUTIVE matching answers
        in a row within the timeout; the last mismatch is the failure message."""
        deadline = time.monotonic() + timeout
        streak, last = 0, ""
        while True:
            try:
                problems = check(case, self.send(case.req), self.http_port)
            except OSError as exc:
                problems = [f"request failed: {exc!r}"]
            if not problems:
                streak += 1
                if streak >= CONSECUTIVE:
                    return
                continue
            streak, last = 0, "; ".join(problems)
            if time.monotonic() > deadline:
                raise AssertionError(f"{case.req}: {last}")
            time.sleep(0.05)


class _SNIConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, sni, ctx, timeout) -> None:
        super().__init__(host, port, timeout=timeout, context=ctx)
        self._sni = sni

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._sni)


def object_path(obj: dict) -> str:
    api_version, kind = obj["apiVersion"], obj["kind"]
    plural = {"GatewayClass": "gatewayclasses", "Gateway": "gateways", "HTTPRoute": "httproutes",
              "ReferenceGrant": "referencegrants", "Service": "services", "Deployment": "deployments",
              "Namespace": "namespaces", "Secret": "secrets", "EndpointSlice": "endpointslices"}[kind]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    ns = obj["metadata"].get("namespace")
    scope = f"/namespaces/{ns}" if ns else ""
    return f"{base}{scope}/{plural}/{obj['metadata']['name']}"


def wait_until(predicate, message: str, timeout: float = CONSISTENCY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


def eventually(read, want, what: str, timeout: float = CONSISTENCY_TIMEOUT):
    """read() until want(value) holds (as upstream's eventual-consistency waits); its last value.
    Fails the test naming `what` and the last value read when it never does."""
    last = read()
    deadline = time.monotonic() + timeout
    while not want(last):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: got {last}")
        time.sleep(0.05)
        last = read()
    return last


def _joined(pairs) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


def check(case: Case, answer: Answer, http_port: int) -> list[str]:
    """What differs between `answer` and the expectation (upstream's CompareRequest)."""
    req, exp = case.req, case.exp
    problems = []
    if answer.status != exp.status:
        return [f"status {answer.status}, want {exp.status}"]
    if exp.backend is not None:
        if answer.echo is None:
            return ["no echo body from a backend"]
        if not answer.echo["pod"].startswith(exp.backend + "-"):
            problems.append(f"served by pod {answer.echo['pod']}, want a pod of {exp.backend}")
        if exp.ns is not None and answer.echo["namespace"] != exp.ns:
            problems.append(f"backend namespace {answer.echo['namespace']}, want {exp.ns}")
        seen = answer.echo["path"] + (f"?{answer.echo['query']}" if answer.echo.get("query") else "")
        want_path = exp.seen_path if exp.seen_path is not None else req.path
        if seen != want_path:
            problems.append(f"backend saw path {seen!r}, want {want_path!r}")
        if exp.seen_host is not None and answer.echo["host"] != exp.seen_host:
            problems.append(f"backend saw host {answer.echo['host']!r}, want {exp.seen_host!r}")
        seen_headers = _joined(answer.echo["headers"].items())
        for name, value in exp.seen_headers.items():
            got = seen_headers.get(name.lower())
            if got is None or got.replace(", ", ",") != value:
                problems.append(f"backend saw {name}: {got!r}, want {value!r}")
        for name in exp.seen_absent:
            if name.lower() in seen_headers:
                problems.append(f"backend saw {name} (should be absent)")
    headers = _joined(answer.headers)
    for name, value in exp.headers.items():
        got = headers.get(name.lower())
        if got is None or got.replace(", ", ",") != value:
            problems.append(f"response header {name}: {got!r}, want {value!r}")
    for name in exp.absent:
        if name.lower() in headers:
            problems.append(f"response has {name} (should be absent)")
    if exp.location is not None:
        location = headers.get("location")
        if not location:
            return [*problems, "no Location header"]
        got = urlsplit(location)
        sent_host = (req.host or f"127.0.0.1:{http_port}").rsplit(":", 1)[0]
        scheme = exp.location.get("scheme") or ("https" if req.https else "http")
        host = exp.location.get("host") or sent_host
        path = exp.location.get("path") or req.path
        port = exp.location.get("port", "")
        if got.scheme != scheme:
            problems.append(f"redirect scheme {got.scheme!r}, want {scheme!r} ({location})")
        if got.hostname != host:
            problems.append(f"redirect host {got.hostname!r}, want {host!r} ({location})")
        if (got.path or "/") != path:
            problems.append(f"redirect path {got.path!r}, want {path!r} ({location})")
        got_port = str(got.port) if got.port is not None else ""
        if got_port in ({"http": "80", "https": "443"}[scheme],):
            got_port = ""
        if got_port != port:
            problems.append(f"redirect port {got_port!r}, want {port!r} ({location})")
    return problems


# --- status (conformance/utils/kubernetes) ---------------------------------------------------------

def parent_conditions(route: dict, gateway_name: str, gateway_ns: str = INFRA) -> dict[str, tuple[str, str]] | None:
    """type -> (status, reason) of the route's status.parents[] entry for that Gateway, written by
    ingressd's controller; None without one."""
    for entry in (route.get("status") or {}).get("parents") or ():
        ref = entry.get("parentRef") or {}
        if ref.get("name") == gateway_name and ref.get("namespace", route["metadata"]["namespace"]) == gateway_ns \
                and entry.get("controllerName") == CONTROLLER:
            return {c["type"]: (c["status"], c.get("reason", "")) for c in entry.get("conditions") or ()}
    return None
