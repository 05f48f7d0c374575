"""Every row of the reference's path table and host rules, through real sockets.

Each case gets its own hosts, so one proxy serves the whole table; the backend's port in the
echo JSON says which Service answered.
"""

from __future__ import annotations

import pytest

from tests.proxy.conftest import Backend, endpoint_slice, ingress, service
from tests.reference_rows import REFERENCE_ROWS

# ImplementationSpecific is Prefix outside regex mode.
PATH_TABLE = REFERENCE_ROWS + [
    ("ImplementationSpecific", "/foo", "/foo/bar", True),
    ("ImplementationSpecific", "/foo", "/foobar", False),
]


@pytest.fixture
async def two_backends():
    a, b = await Backend().start(), await Backend().start()
    yield a, b
    await a.stop()
    await b.stop()


def svc_objects(name: str, port: int) -> list[dict]:
    return [service(name), *endpoint_slice(name, [port])]


async def get(proxy, host: str, path: str) -> tuple[int, int | None]:
    """(status, backend port that answered or None)."""
    raw = await proxy.raw(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    status = int(raw.split(b" ", 2)[1])
    port = None
    if status == 200:
        import json
        port = json.loads(raw.split(b"\r\n\r\n", 1)[1])["port"]
    return status, port


async def test_path_table(two_backends, start_proxy):
    a, _ = two_backends
    objs = svc_objects("a", a.port)
    for i, (ptype, rule, _, _) in enumerate(PATH_TABLE):
        objs.append(ingress(f"row{i}", [(f"row{i}.test", rule, ptype, "a")]))
    proxy = await start_proxy(objs)
    for i, (ptype, rule, request, matches) in enumerate(PATH_TABLE):
        status, _ = await get(proxy, f"row{i}.test", request)
        assert status == (200 if matches else 404), (ptype, rule, request)


async def test_longest_path_wins_and_exact_beats_prefix_on_a_tie(two_backends, start_proxy):
    a, b = two_backends
    proxy = await start_proxy([
        *svc_objects("a", a.port), *svc_objects("b", b.port),
        ingress("long", [("l.test", "/", "Prefix", "a"), ("l.test", "/foo/bar", "Prefix", "b")]),
        ingress("tie", [("t.test", "/foo", "Prefix", "a"), ("t.test", "/foo", "Exact", "b")]),
    ])
    assert await get(proxy, "l.test", "/foo/bar/baz") == (200, b.port)
    assert await get(proxy, "l.test", "/foo/baz") == (200, a.port)
    assert await get(proxy, "t.test", "/foo") == (200, b.port)
    assert await get(proxy, "t.test", "/foo/x") == (200, a.port)


async def test_regex_mode_turns_every_path_of_the_host_into_a_regex(two_backends, start_proxy):
    a, b = two_backends
    proxy = await start_proxy([
        *svc_objects("a", a.port), *svc_objects("b", b.port),
        ingress("re", [("re.test", "/api/v[0-9]+/users", "ImplementationSpecific", "a")], {"use-regex": "true"}),
        ingress("plain", [("re.test", "/static", "Prefix", "b")]),
    ])
    assert await get(proxy, "re.test", "/API/V2/users/7") == (200, a.port)  # case-insensitive, anchored
    assert await get(proxy, "re.test", "/x/api/v2/users") == (404, None)
    assert await get(proxy, "re.test", "/staticfile") == (200, b.port)  # "^/static" as a regex


async def test_host_rules(two_backends, start_proxy):
    a, b = two_backends
    default_backend = {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "fallback", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"defaultBackend": {"service": {"name": "b", "port": {"number": 80}}}},
    }
    with_default = ingress("own-default", [("own.test", "/only", "Exact", "a")])
    with_default["spec"]["defaultBackend"] = {"service": {"name": "b", "port": {"number": 80}}}
    proxy = await start_proxy([
        *svc_objects("a", a.port), *svc_objects("b", b.port),
        ingress("exact", [("foo.bar.com", "/", "Prefix", "a")]),
        ingress("wild", [("*.bar.com", "/", "Prefix", "b")]),
        ingress("old", [("merge.test", "/same", "Prefix", "a")], created="2026-01-01T00:00:00Z"),
        ingress("new", [("merge.test", "/same", "Prefix", "b"), ("merge.test", "/other", "Prefix", "b")],
                created="2026-02-01T00:00:00Z"),
        with_default,
    ])
    # exact host: case-insensitive, port ignored; exact beats wildcard
    assert await get(proxy, "FOO.bar.COM:8080", "/") == (200, a.port)
    # wildcard: exactly one extra label
    assert await get(proxy, "baz.bar.com", "/") == (200, b.port)
    assert (await get(proxy, "x.baz.bar.com", "/"))[0] == 404
    assert (await get(proxy, "bar.com", "/"))[0] == 404
    # several Ingresses merge into one host; the oldest wins a conflict
    assert await get(proxy, "merge.test", "/same") == (200, a.port)
    assert await get(proxy, "merge.test", "/other") == (200, b.port)
    # defaultBackend on an Ingress with rules: "/" fallback for its own hosts only
    assert await get(proxy, "own.test", "/only") == (200, a.port)
    assert await get(proxy, "own.test", "/elsewhere") == (200, b.port)
    # nothing matches -> 404
    assert (await get(proxy, "nowhere.test", "/"))[0] == 404

    catch_all = await start_proxy([
        *svc_objects("a", a.port), *svc_objects("b", b.port),
        default_backend,
        ingress("hostless", [("", "/hostless", "Prefix", "a")]),
    ])
    # a rule without host matches any host; an Ingress with only defaultBackend is the catch-all
    assert await get(catch_all, "anything.test", "/hostless") == (200, a.port)
    assert await get(catch_all, "anything.test", "/") == (200, b.port)
