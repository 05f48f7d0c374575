"""The admin API's bearer token and the self-reviews, on the admin app (aiohttp test client)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app

TOKEN = "t0ken-t0ken-t0ken-t0ken-t0ken-t0ken-xyz"
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def client(aiohttp_client, store):
    return await aiohttp_client(build_admin_app(store, CollectorRegistry(), lambda: (True, ""), token=TOKEN,
                                                explain=lambda request: {"host": request.host}))


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/namespaces/default/pods"),
    ("GET", "/api/v1/pods?watch=true"),
    ("GET", "/api"),
    ("GET", "/apis"),
    ("GET", "/"),
    ("GET", "/openapi/v2"),
    ("GET", "/no/such/path"),
    ("DELETE", "/api/v1/namespaces/default/pods/web-0"),
    ("POST", "/apis/apps/v1/namespaces/default/deployments"),
    ("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale"),
    ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"),
    ("GET", "/ingressd/v1/routes"),
    ("GET", "/ingressd/v1/canaries"),
    ("GET", "/ingressd/v1/explain?host=a.test"),
    ("GET", "/healthz/ping"),
    ("GET", "/readyz/ping"),
    ("GET", "/metrics/extra"),
])
@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong"},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": "Bearer "},
    {"Authorization": f"Bearer {TOKEN}x"},
    {"Authorization": f"Bearer {TOKEN[:-1]}"},
    {"Authorization": f"Bearer \u00e9{TOKEN}"},
])
async def test_a_request_without_the_token_is_a_401_status(client, store, method, path, headers):
    before = store.get("Pod", "default", "web-0")
    resp = await client.request(method, path, headers=headers, json={} if method != "GET" else None)
    assert resp.status == 401
    assert resp.content_type == "application/json"
    assert await resp.json() == UNAUTHORIZED
    assert store.get("Pod", "default", "web-0") == before  # nothing was done


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/readyz", "/livez", "/version"])
async def test_public_paths_answer_without_a_token(client, path):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        resp = await client.get(path, headers=headers)
        assert resp.status != 401, (path, await resp.text())


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"  BEARER {TOKEN}  ",
                                           f"Bearer {TOKEN} extra"])
async def test_the_token_opens_the_api(client, authorization):
    resp = await client.get("/api/v1/namespaces/default/pods", headers={"Authorization": authorization})
    assert resp.status == 200
    assert [p["metadata"]["name"] for p in (await resp.json())["items"]] == ["web-0", "web-1"]
    resp = await client.get("/ingressd/v1/explain?host=a.test", headers={"Authorization": authorization})
    assert resp.status == 200 and await resp.json() == {"host": "a.test"}


async def test_the_host_check_comes_first(client):
    resp = await client.get("/api/v1/pods", headers={"Host": "evil.example"})
    assert resp.status == 403


async def test_without_a_token_configured_nothing_is_checked(aiohttp_client, store):
    client = await aiohttp_client(build_admin_app(store, CollectorRegistry(), lambda: (True, "")))
    assert (await client.get("/api/v1/pods")).status == 200


async def test_self_subject_access_review_allows(client):
    body = {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "group": "apps",
                                            "resource": "deployments"}}}
    resp = await client.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=body, headers=AUTH)
    assert resp.status == 201
    assert await resp.json() == {**body, "status": {"allowed": True}}


@pytest.mark.parametrize("spec, field, message", [
    ({}, "spec.resourceAttributes", 'Invalid value: "null": exactly one of nonResourceAttributes or '
                                    "resourceAttributes must be specified"),
    ({"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"path": "/api", "verb": "get"}},
     "spec.nonResourceAttributes",
     'Invalid value: {"path":"/api","verb":"get"}: cannot be specified in combination with resourceAttributes'),
])
async def test_self_subject_access_review_is_validated_as_upstream(client, spec, field, message):
    resp = await client.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                             json={"spec": spec}, headers=AUTH)
    assert resp.status == 422
    status = await resp.json()
    assert status["reason"] == "Invalid"
    assert status["message"] == f'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: {field}: {message}'
    assert status["details"]["causes"] == [{"reason": "FieldValueInvalid", "message": message, "field": field}]


async def test_self_subject_rules_review_allows_everything(client):
    resp = await client.post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                             json={"spec": {"namespace": "default"}}, headers=AUTH)
    assert resp.status == 201
    review = await resp.json()
    assert review["status"]["resourceRules"][0] == {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
    assert review["status"]["nonResourceRules"][0] == {"verbs": ["*"], "nonResourceURLs": ["*"]}
    assert review["status"]["incomplete"] is False
    resp = await client.post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", json={"spec": {}}, headers=AUTH)
    assert resp.status == 400
    assert (await resp.json())["message"] == "no namespace on request"


async def test_self_subject_review_names_the_user(client):
    resp = await client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                             json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                             headers=AUTH)
    assert resp.status == 201
    review = await resp.json()
    assert review["status"] == {"userInfo": {"username": "ingressd-admin",
                                             "groups": ["system:masters", "system:authenticated"]}}
    assert review["metadata"]["creationTimestamp"].endswith("Z")


@pytest.mark.parametrize("path", ["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                  "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                                  "/apis/authentication.k8s.io/v1/selfsubjectreviews"])
async def test_reviews_are_create_only(client, path):
    resp = await client.get(path, headers=AUTH)
    assert resp.status == 405
    assert resp.headers["Allow"] == "POST"
    resp = await client.post(path, data=b"{", headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status == 400
    resp = await client.post(path, json=[1], headers=AUTH)
    assert resp.status == 400


async def test_reviews_are_discovered(client):
    groups = {g["name"]: g for g in (await (await client.get("/apis", headers=AUTH)).json())["groups"]}
    for group, resources in (("authorization.k8s.io", {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}),
                             ("authentication.k8s.io", {"selfsubjectreviews"})):
        assert groups[group]["preferredVersion"]["version"] == "v1"
        listed = (await (await client.get(f"/apis/{group}/v1", headers=AUTH)).json())["resources"]
        assert {r["name"]: r["verbs"] for r in listed} == {name: ["create"] for name in resources}
        assert all(r["namespaced"] is False for r in listed)
