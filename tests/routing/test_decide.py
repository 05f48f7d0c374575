"""decide(): the one routing decision, table-style, without sockets."""

from __future__ import annotations

import random

import pytest

from ingressd.explain import explain_files, predicted_endpoint_slices
from ingressd.routing.decide import Answer, Forward, Request, decide
from ingressd.routing.explain_view import explain_lines, outcome_of
from ingressd.routing.snapshot import ManifestObjects, SnapshotBuilder
from tests.routing.decide_rows import ROWS, WORLD, Row, _canary, _ingress, expected

SNAPSHOT = SnapshotBuilder().build(ManifestObjects([*WORLD, *predicted_endpoint_slices(WORLD)]))[0]


def request_of(row: Row, https_port: int = 443) -> Request:
    return Request(row.host, row.path, method=row.method, headers=row.headers, content_length=row.body,
                   https_port=https_port)


def outcome(decision) -> tuple:
    if isinstance(decision, Answer):
        return "answer", decision.status, dict(decision.headers).get("Location")
    return "forward", decision.upstream_name


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_decide(row):
    assert outcome(decide(SNAPSHOT, request_of(row), random.Random(0))) == expected(row)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_explain_files_gives_the_same_outcome(row):
    doc = explain_files(WORLD, request_of(row))
    assert outcome_of(doc) == expected(row)
    lines, status = explain_lines(doc)
    assert status == (1 if row.outcome == ("answer", 404, None) else 0)  # 1: no rule matches
    assert lines[0].startswith(f"request: {row.method} http://{row.host}")


def test_the_https_port_appears_in_redirects_when_not_443():
    row = next(r for r in ROWS if r.host == "forcessl.test")
    got = decide(SNAPSHOT, request_of(row, https_port=8443), None)
    assert outcome(got) == expected(row, 8443) == ("answer", 308, "https://forcessl.test:8443/x?y=1")


class Draw:
    """A fake rng: randint always gives `value` and counts its calls."""

    def __init__(self, value: int) -> None:
        self.value = value
        self.calls: list[tuple[int, int]] = []

    def randint(self, low: int, high: int) -> int:
        self.calls.append((low, high))
        return self.value


WEIGHTED = [_ingress("w", "w.test"), _canary("w-canary", "w.test", canary_weight="30"), *WORLD[:4]]
WEIGHTED_SNAPSHOT = SnapshotBuilder().build(ManifestObjects([*WEIGHTED, *predicted_endpoint_slices(WEIGHTED)]))[0]


@pytest.mark.parametrize("draw, upstream", [(1, "default-canary-80"), (30, "default-canary-80"),
                                            (31, "default-web-80"), (100, "default-web-80")])
def test_a_weight_draw_uses_the_injected_rng(draw, upstream):
    rng = Draw(draw)
    got = decide(WEIGHTED_SNAPSHOT, Request("w.test"), rng)
    assert (got.upstream_name, rng.calls) == (upstream, [(1, 100)])
    assert got.canary.step == "weight"


def test_without_an_rng_a_weight_draw_is_described_not_made():
    got = decide(WEIGHTED_SNAPSHOT, Request("w.test"), None)
    assert isinstance(got, Forward)
    assert (got.upstream_name, got.canary_probability) == ("default-web-80", 0.3)
    assert "probability 30.00%" in got.canary.reason


def test_a_canary_without_endpoints_says_why_it_was_not_consulted():
    got = decide(SNAPSHOT, Request("c-noeps.test", headers={"X-Canary": "always"}), None)
    assert got.canary is None
    assert got.canary_skipped == ("service default/empty (port 80) has no ready endpoints: there is no "
                                  "alternative balancer, the main backend serves")


@pytest.mark.parametrize("headers, length, status", [
    ({}, 1025, 413),
    ({}, 1024, None),  # at the limit is allowed, as nginx's client_max_body_size
    ({"Transfer-Encoding": "chunked"}, None, None),  # no declared length: the proxy counts as it reads
])
def test_413_only_on_a_declared_length_over_the_limit(headers, length, status):
    got = decide(SNAPSHOT, Request("bodysize.test", method="POST", headers=headers, content_length=length), None)
    assert (got.status if isinstance(got, Answer) else None) == status


def test_hash_key_and_affinity_cookie_are_decided_once():
    world = [_ingress("h", "h.test", annotations={"upstream-hash-by": "$http_x_user$request_uri"}),
             _ingress("s", "s.test", annotations={"affinity": "cookie", "session-cookie-name": "route"}), *WORLD[:2]]
    snap = SnapshotBuilder().build(ManifestObjects([*world, *predicted_endpoint_slices(world)]))[0]
    hashed = decide(snap, Request("h.test", "/p?q", headers={"X-User": "ann"}), None)
    assert (hashed.hash_key, hashed.affinity_cookie) == ("ann/p?q", None)
    sticky = decide(snap, Request("s.test", cookies={"Route": "k|b"}), None)
    assert (sticky.hash_key, sticky.affinity_cookie) == (None, "k|b")


def test_a_per_pod_name_names_the_pod():
    got = decide(SNAPSHOT, Request("db-0.db.default.svc:80"), None)
    assert (got.pod.endpoint.pod, got.endpoints[0].port, got.config.proxy_body_size) == ("db-0", 8080, 0)
