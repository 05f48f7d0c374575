import pytest

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter

from ingressd.admin import build_admin_app
from ingressd.routing.endpoints import build_endpoint_index
from ingressd.routing.routes_view import route_documents, route_rows
from ingressd.routing.table import build_route_table
from ingressd.routing.tls import TlsTable
from tests.routing.builders import endpoint_slice, http_path, ingress, rule, service, service_port, slice_endpoint


def _app(store, health=lambda: (True, ""), registry=None):
    return build_admin_app(store, registry or CollectorRegistry(), health)


async def test_healthz_ok(aiohttp_client, store):
    client = await aiohttp_client(_app(store))
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.text() == "ok"


async def test_healthz_ok_with_detail_lines(aiohttp_client, store):
    detail = "pod default/web-1 container app cannot bind: cannot listen on 127.9.0.1:8080: Address in use"
    client = await aiohttp_client(_app(store, health=lambda: (True, detail)))
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.text() == f"ok\n{detail}"


async def test_healthz_unhealthy_gives_reason(aiohttp_client, store):
    client = await aiohttp_client(_app(store, health=lambda: (False, "manifests have errors")))
    resp = await client.get("/healthz")
    assert resp.status == 503
    assert await resp.text() == "manifests have errors"


async def test_healthz_is_evaluated_per_request(aiohttp_client, store):
    state = {"ok": False}
    client = await aiohttp_client(_app(store, health=lambda: (state["ok"], "starting")))
    assert (await client.get("/healthz")).status == 503
    state["ok"] = True
    assert (await client.get("/healthz")).status == 200


async def test_metrics_exposes_registry(aiohttp_client, store):
    registry = CollectorRegistry()
    counter = Counter("ingressd_test_things", "Things counted in a test.", ["kind"], registry=registry)
    counter.labels(kind="a").inc(3)
    client = await aiohttp_client(_app(store, registry=registry))
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == CONTENT_TYPE_LATEST
    text = await resp.text()
    assert 'ingressd_test_things_total{kind="a"} 3.0' in text
    assert "# HELP ingressd_test_things_total Things counted in a test." in text


async def test_unknown_path_is_a_status_404(aiohttp_client, store):
    client = await aiohttp_client(_app(store))
    resp = await client.get("/nope")
    assert resp.status == 404
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert body["kind"] == "Status"
    assert body["reason"] == "NotFound"
    assert body["code"] == 404


async def test_wrong_method_on_healthz_is_a_status_405(aiohttp_client, store):
    client = await aiohttp_client(_app(store))
    resp = await client.post("/healthz")
    assert resp.status == 405
    body = await resp.json()
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "MethodNotAllowed", 405)
    assert "GET" in resp.headers["Allow"]


async def test_routes_lists_the_rows_it_is_given(aiohttp_client, store):
    table = build_route_table([ingress("demo", rule("demo.test", http_path("/", service="web")))])
    index = build_endpoint_index([service("web", service_port(80))],
                                 [endpoint_slice("web", [{"port": 80}], [slice_endpoint("10.0.0.1")])], [])
    app = build_admin_app(store, CollectorRegistry(), lambda: (True, ""),
                          routes=lambda: route_documents(route_rows(table, index, TlsTable(tls_hosts=frozenset({"demo.test"})))))
    client = await aiohttp_client(app)
    resp = await client.get("/ingressd/v1/routes")
    assert resp.status == 200
    assert await resp.json() == {"routes": [{
        "host": "demo.test", "path": "/", "pathType": "Prefix", "ingress": "default/demo", "service": "web",
        "port": 80, "canary": None, "ready": 1, "total": 1, "tls": True}]}


async def test_routes_without_a_provider_is_an_empty_list(aiohttp_client, store):
    client = await aiohttp_client(_app(store))
    resp = await client.get("/ingressd/v1/routes")
    assert resp.status == 200
    assert await resp.json() == {"routes": []}


def _explain_app(store):
    from ingressd.routing.explain_view import request_document

    seen = []

    def explain(request):
        seen.append(request)
        return {"request": request_document(request)}

    return build_admin_app(store, CollectorRegistry(), lambda: (True, ""), explain=explain), seen


async def test_explain_passes_the_described_request(aiohttp_client, store):
    app, seen = _explain_app(store)
    client = await aiohttp_client(app)
    resp = await client.get("/ingressd/v1/explain", params=[
        ("host", "demo.test"), ("path", "/a?b=1"), ("method", "POST"), ("scheme", "https"),
        ("header", "X-Canary: always"), ("header", "X-Url=http://x"), ("cookie", "beta=always"),
        ("contentLength", "12")])
    assert resp.status == 200
    assert (await resp.json())["request"] == {
        "method": "POST", "scheme": "https", "host": "demo.test", "path": "/a?b=1",
        "headers": {"x-canary": "always", "x-url": "http://x"}, "cookies": {"beta": "always"}, "contentLength": 12}


@pytest.mark.parametrize("params, message", [
    ([], "explain: host: required (the request's Host header)"),
    ([("host", "a"), ("path", "x")], "explain: path: 'x' must start with /"),
    ([("host", "a"), ("scheme", "ftp")], "explain: scheme: 'ftp' must be http or https"),
    ([("host", "a"), ("header", "novalue")], "explain: header: 'novalue' must be 'Name: value' or Name=value"),
    ([("host", "a"), ("cookie", "=x")], "explain: cookie: '=x' must be name=value"),
    ([("host", "a"), ("contentLength", "-1")], "explain: contentLength: '-1' must be a number of bytes"),
    ([("host", "a"), *[("header", f"h{i}: v") for i in range(101)]], "explain: header, cookie: more than 100"),
])
async def test_explain_rejects_a_bad_query_with_a_status(aiohttp_client, store, params, message):
    app, seen = _explain_app(store)
    client = await aiohttp_client(app)
    resp = await client.get("/ingressd/v1/explain", params=params)
    body = await resp.json()
    assert (resp.status, body["kind"], body["reason"], body["message"]) == (400, "Status", "BadRequest", message)
    assert seen == []


async def test_explain_without_a_provider_is_not_found(aiohttp_client, store):
    client = await aiohttp_client(_app(store))
    assert (await client.get("/ingressd/v1/explain", params={"host": "a"})).status == 404
