"""Gateway API through a real `ingressd run`: Gateways and HTTPRoutes from manifests, echo
Deployments as backends, requests over real sockets (HTTP, HTTPS with SNI, an extra listener
port), and the status ingressd writes, read back through the admin API."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import time

import yaml

from ingressd.certs import init_ca, issue_leaf
from tests.e2e.conftest import HOST, free_port, http_get, run_cli
from tests.kube import KUBECTL

G = "gateway.networking.k8s.io"


def deployment(name: str, namespace: str = "default") -> list[dict]:
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
         "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                      {"name": "echo", "image": "ingressd/echo:1.0", "ports": [{"containerPort": 8080}]}]}}}},
    ]


def rule(*backends, matches=None, filters=None, **extra) -> dict:
    out: dict = {"backendRefs": [b if isinstance(b, dict) else {"name": b, "port": 80} for b in backends], **extra}
    if matches is not None:
        out["matches"] = matches
    if filters is not None:
        out["filters"] = filters
    return out


def prefix(value: str) -> list[dict]:
    return [{"path": {"type": "PathPrefix", "value": value}}]


def http_route(name: str, hostnames: list[str], rules: list[dict], section: str | None = None) -> dict:
    parent = {"name": "gw", **({"sectionName": section} if section else {})}
    return {"apiVersion": f"{G}/v1", "kind": "HTTPRoute", "metadata": {"name": name, "namespace": "default"},
            "spec": {"parentRefs": [parent], "hostnames": hostnames, "rules": rules}}


def world(extra_port: int, cert: bytes, key: bytes) -> list[dict]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}},
        *deployment("v1"), *deployment("v2"), *deployment("mirror"), *deployment("remote", "other"),
        *deployment("remote2", "other"),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "secure-tls", "namespace": "default"},
         "type": "kubernetes.io/tls", "data": {"tls.crt": base64.b64encode(cert).decode(),
                                               "tls.key": base64.b64encode(key).decode()}},
        {"apiVersion": f"{G}/v1", "kind": "GatewayClass", "metadata": {"name": "ingressd"},
         "spec": {"controllerName": "ingressd.io/gateway-controller"}},
        {"apiVersion": f"{G}/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "default"},
         "spec": {"gatewayClassName": "ingressd", "listeners": [
             {"name": "http", "port": 80, "protocol": "HTTP"},
             {"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "secure.test",
              "tls": {"certificateRefs": [{"name": "secure-tls"}]}},
             {"name": "extra", "port": extra_port, "protocol": "HTTP"}]}},
        {"apiVersion": f"{G}/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": "to-remote", "namespace": "other"},
         "spec": {"from": [{"group": G, "kind": "HTTPRoute", "namespace": "default"}],
                  "to": [{"group": "", "kind": "Service", "name": "remote"}]}},
        http_route("main", ["gw.test"], [
            rule("v1"),
            rule("v2", matches=[{"path": {"type": "Exact", "value": "/exact"}}]),
            rule("v2", matches=[{"headers": [{"name": "X-Version", "value": "two"}]}]),
            rule("v2", matches=[{"method": "POST", "path": {"type": "PathPrefix", "value": "/method"}}]),
            rule("v2", matches=[{"queryParams": [{"name": "v", "value": "2"}]}]),
            {"matches": prefix("/redirect"), "filters": [{"type": "RequestRedirect", "requestRedirect": {
                "scheme": "https", "hostname": "elsewhere.test", "statusCode": 301}}]},
            rule("v1", matches=prefix("/rewrite"), filters=[{"type": "URLRewrite", "urlRewrite": {
                "hostname": "rewritten.test", "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}}]),
            rule("v1", matches=prefix("/headers"), filters=[
                {"type": "RequestHeaderModifier", "requestHeaderModifier": {
                    "set": [{"name": "X-Set", "value": "set"}], "add": [{"name": "X-Add", "value": "added"}],
                    "remove": ["X-Remove"]}},
                {"type": "ResponseHeaderModifier", "responseHeaderModifier": {
                    "set": [{"name": "X-Resp", "value": "r"}], "remove": ["X-Echo-Pod"]}}]),
            rule({"name": "v1", "port": 80, "weight": 1}, {"name": "v2", "port": 80, "weight": 1},
                 matches=prefix("/weights")),
            rule("nosuch", matches=prefix("/missing")),
            rule("v1", matches=prefix("/kv"), filters=[{"type": "RequestMirror", "requestMirror": {
                "backendRef": {"name": "mirror", "port": 80}}}]),
            rule({"name": "remote", "namespace": "other", "port": 80}, matches=prefix("/remote")),
            rule({"name": "remote2", "namespace": "other", "port": 80}, matches=prefix("/denied")),
            rule("v1", matches=prefix("/slow"), timeouts={"request": "1s"}),
            rule({"name": "v2", "port": 80, "filters": [
                {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "X-Backend", "value": "v2"}]}},
                {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": [{"name": "X-From", "value": "v2"}]}}]},
                matches=prefix("/backend-filters")),
        ], section="http"),
        http_route("mirror-reader", ["mirror.test"], [rule("mirror")], section="http"),
        http_route("secure", ["secure.test"], [rule("v2")], section="https"),
        http_route("extra", [], [rule("v2")], section="extra"),
    ]


def request(port: int, host: str, target: str = "/", method: str = "GET", headers: dict | None = None,
            body: bytes | None = None):
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.headers, data
    finally:
        conn.close()


def echo(result) -> dict:
    status, _, data = result
    assert status == 200, (status, data[:300])
    return json.loads(data)


def served_by(result) -> str:
    return echo(result)["pod"].rsplit("-", 2)[0]


def test_httproutes_through_a_running_ingressd(ingressd, tmp_path):
    ca = init_ca(tmp_path / "ca")
    cert, key = issue_leaf(ca, ["secure.test"])
    extra = free_port()
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "gateway.yaml").write_text(yaml.safe_dump_all(world(extra, cert, key)))
    proc = ingressd("-f", str(manifests), "--seed", "7")
    proc.wait_healthy()
    port = proc.http_port
    deadline = time.monotonic() + 60
    for host, target in (("gw.test", "/"), ("gw.test", "/exact"), ("gw.test", "/remote"), ("mirror.test", "/")):
        while request(port, host, target)[0] != 200:
            assert time.monotonic() < deadline, proc.stderr()
            time.sleep(0.1)

    # matching: path, header, method, query (HTTPRouteMatching, HeaderMatching, MethodMatching, QueryParamMatching)
    assert served_by(request(port, "gw.test", "/anything")) == "v1"
    assert served_by(request(port, "gw.test", "/exact")) == "v2"
    assert served_by(request(port, "gw.test", "/exact/more")) == "v1"
    assert served_by(request(port, "gw.test", "/", headers={"X-Version": "two"})) == "v2"
    assert served_by(request(port, "gw.test", "/method", method="POST", body=b"x")) == "v2"
    assert served_by(request(port, "gw.test", "/method")) == "v1"
    assert served_by(request(port, "gw.test", "/?v=2")) == "v2"
    # a host no HTTPRoute attaches to: the Ingress rules (none here) answer 404
    assert request(port, "unrouted.test", "/")[0] == 404

    # RequestRedirect (HTTPRouteRedirectScheme / HostAndStatus)
    status, headers, _ = request(port, "gw.test", "/redirect/x?y=1")
    assert (status, headers["Location"]) == (301, "https://elsewhere.test/redirect/x?y=1")

    # URLRewrite: path prefix and Host (HTTPRouteRewritePath / HTTPRouteRewriteHost)
    got = echo(request(port, "gw.test", "/rewrite/a?b=c"))
    assert (got["path"], got["query"], got["host"]) == ("/new/a", "b=c", "rewritten.test")

    # header modifiers (HTTPRouteRequestHeaderModifier / HTTPRouteResponseHeaderModifier)
    status, headers, data = request(port, "gw.test", "/headers", headers={"X-Remove": "gone", "X-Add": "first",
                                                                         "X-Set": "old"})
    got = {k.lower(): v for k, v in json.loads(data)["headers"].items()}
    assert got["x-set"] == "set" and got["x-add"] == "first,added" and "x-remove" not in got
    assert headers["X-Resp"] == "r" and "X-Echo-Pod" not in headers

    # a backendRef's own header modifiers (HTTPRouteBackendRequestHeaderModifier)
    status, headers, data = request(port, "gw.test", "/backend-filters")
    assert json.loads(data)["headers"].get("X-Backend") == "v2" and headers["X-From"] == "v2"

    # weights (HTTPRouteWeight): both backends serve
    seen = {served_by(request(port, "gw.test", "/weights")) for _ in range(40)}
    assert seen == {"v1", "v2"}

    # 500 for an unresolvable backendRef (HTTPRouteInvalidNonExistentBackendRef)
    assert request(port, "gw.test", "/missing")[0] == 500
    # cross-namespace backends: allowed by the ReferenceGrant, refused without one
    # (HTTPRouteReferenceGrant / HTTPRouteInvalidCrossNamespaceBackendRef)
    assert served_by(request(port, "gw.test", "/remote")) == "remote"
    assert request(port, "gw.test", "/denied")[0] == 500

    # RequestMirror (HTTPRouteRequestMirror): the copy of a PUT reaches the mirror backend's kv store
    assert request(port, "gw.test", "/kv/mirrored", method="PUT", body=b"copied")[0] in (200, 201, 204)
    deadline = time.monotonic() + 10
    while request(port, "mirror.test", "/kv/mirrored")[2] != b"copied":
        assert time.monotonic() < deadline, "the mirror backend never received the copy"
        time.sleep(0.1)

    # timeouts.request (HTTPRouteTimeoutRequest): the echo's ?delay= outlasts it: 504
    started = time.monotonic()
    assert request(port, "gw.test", "/slow?delay=5s")[0] == 504
    assert time.monotonic() - started < 4

    # HTTPS listener with SNI: the listener's certificate for secure.test
    context = ssl.create_default_context(cafile=str(ca.cert_path))
    with socket.create_connection((HOST, proc.https_port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="secure.test") as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: secure.test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and b'"v2' in data

    # the extra listener port is bound on --bind and routes by its own HTTPRoute
    assert served_by(request(extra, "any.test", "/")) == "v2"

    # status (GatewayClass Accepted, Gateway Programmed with addresses and listeners, HTTPRoute parents)
    def get(path: str) -> dict:
        status, _, body = http_get(proc.admin_port, path)
        assert status == 200, body
        return json.loads(body)

    deadline = time.monotonic() + 10
    while True:
        gw = get(f"/apis/{G}/v1/namespaces/default/gateways/gw")
        conditions = {c["type"]: c for c in gw.get("status", {}).get("conditions", [])}
        if conditions.get("Programmed", {}).get("status") == "True":
            break
        assert time.monotonic() < deadline, gw
        time.sleep(0.1)
    assert gw["status"]["addresses"] == [{"type": "IPAddress", "value": "127.0.0.1"}]
    attached = {ls["name"]: ls["attachedRoutes"] for ls in gw["status"]["listeners"]}
    assert attached == {"http": 2, "https": 1, "extra": 1}
    gc = get(f"/apis/{G}/v1/gatewayclasses/ingressd")
    assert {c["type"]: c["status"] for c in gc["status"]["conditions"]}["Accepted"] == "True"
    route = get(f"/apis/{G}/v1/namespaces/default/httproutes/main")
    parent = route["status"]["parents"][0]
    assert parent["controllerName"] == "ingressd.io/gateway-controller"
    assert parent["parentRef"]["name"] == "gw"
    by_type = {c["type"]: c for c in parent["conditions"]}
    assert (by_type["Accepted"]["status"], by_type["Accepted"]["reason"]) == ("True", "Accepted")
    assert by_type["ResolvedRefs"]["status"] == "False"
    assert by_type["ResolvedRefs"]["reason"] in ("BackendNotFound", "RefNotPermitted")
    assert "other/remote2" in by_type["ResolvedRefs"]["message"]

    # the real kubectl: PROGRAMMED True on the Gateway, the parents' conditions in describe
    if KUBECTL is not None:
        env = {**os.environ, "KUBECONFIG": str(proc.kubeconfig), "HOME": str(tmp_path)}
        got = subprocess.run([KUBECTL, "get", "gateways", "-n", "default"], capture_output=True, text=True,
                             env=env, timeout=60, check=False)
        assert got.returncode == 0, got.stderr
        header, line = got.stdout.splitlines()[:2]
        assert header.split()[:4] == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED"] and line.split()[:4] == [
            "gw", "ingressd", "127.0.0.1", "True"], got.stdout
        got = subprocess.run([KUBECTL, "describe", "httproute", "main", "-n", "default"], capture_output=True,
                             text=True, env=env, timeout=60, check=False)
        assert got.returncode == 0, got.stderr
        assert re.search(r"Controller Name:\s+ingressd\.io/gateway-controller", got.stdout), got.stdout
        assert "RefNotPermitted" in got.stdout or "BackendNotFound" in got.stdout, got.stdout

    # routes and explain show HTTPRoute decisions
    routes = get("/ingressd/v1/routes")["routes"]
    assert any(r.get("kind") == "HTTPRoute" and r["route"] == "default/main" and r["path"] == "/exact"
               for r in routes)
    explained = run_cli("explain", "--admin", f"http://{HOST}:{proc.admin_port}", "--host", "gw.test",
                        "--path", "/headers")
    assert "matched: HTTPRoute default/main rule 7 match 0" in explained.stdout, explained.stdout
    assert "request header set X-Set: set" in explained.stdout
    explained = run_cli("explain", "--admin", f"http://{HOST}:{proc.admin_port}", "--host", "any.test",
                        "--port", str(extra), "-o", "json")
    assert json.loads(explained.stdout)["httpRoute"]["route"] == "default/extra", explained.stdout + explained.stderr
    table = run_cli("routes", "--admin", f"http://{HOST}:{proc.admin_port}")
    assert "httproute/default/main:80" in table.stdout, table.stdout + table.stderr


def test_a_listener_port_that_cannot_bind_is_a_condition_not_a_crash(ingressd, tmp_path):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        busy = taken.getsockname()[1]
        manifests = tmp_path / "m"
        manifests.mkdir()
        objs = [o for o in world(busy, *issue_leaf(init_ca(tmp_path / "ca"), ["secure.test"]))
                if o["kind"] in ("Namespace", "Secret", "GatewayClass", "Gateway")]
        (manifests / "gateway.yaml").write_text(yaml.safe_dump_all(objs))
        proc = ingressd("-f", str(manifests))
        proc.wait_healthy()
        deadline = time.monotonic() + 10
        while True:
            _, _, body = http_get(proc.admin_port, f"/apis/{G}/v1/namespaces/default/gateways/gw")
            listeners = {ls["name"]: {c["type"]: (c["status"], c["reason"]) for c in ls["conditions"]}
                         for ls in json.loads(body).get("status", {}).get("listeners", [])}
            if "extra" in listeners and listeners["extra"]["Programmed"][1] != "Pending":
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.1)
        assert listeners["extra"]["Programmed"] == ("False", "PortUnavailable")
        assert listeners["http"]["Programmed"] == ("True", "Programmed")
        assert f"Gateway listener port {busy}" in proc.stderr()
        assert proc.proc.poll() is None
