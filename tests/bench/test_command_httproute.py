"""`ingressd bench` for a request an HTTPRoute routes, against the stand-in proxy and an admin port
answering GET /ingressd/v1/explain with a recorded explanation's shape: the query bench sends, the
split it derives, and the fallback to the canary list when no HTTPRoute routes the request."""

from __future__ import annotations

import json

import pytest

from tests.bench.conftest import CANARY, MAIN
from tests.bench.test_command import bench, common


def explanation(weights=((MAIN, "default/web:80", 90), (CANARY, "default/web-canary:80", 10))) -> dict:
    total = sum(w for _, _, w in weights)
    return {"kind": "Explanation", "apiVersion": "ingressd.io/v1",
            "httpRoute": {"hostname": "demo.localtest.me", "why": "...", "route": "default/web", "rule": 0, "match": 0,
                          "ruleName": None, "matches": "path PathPrefix '/'",
                          "backendRefs": [{"backend": label, "weight": w, "probability": w / total, "upstream": up,
                                           "found": True, "endpoints": [{"address": "127.0.0.1:1", "pod": "p"}]}
                                          for up, label, w in weights]},
            "outcome": {"action": "forward", "upstream": MAIN, "path": "/app", "endpoints": []}}


async def test_the_split_comes_from_the_explanation_of_the_benchmarked_request(fake):
    fake.explanation = explanation()
    fake.items = []  # the canary list has nothing: the explanation alone gives the split
    status, out, _ = await bench(*common(fake, "--requests", "1000", "--header", "X-Env=test", "--cookie", "c=1",
                                         "--json", "-"))
    assert status == 0
    doc = json.loads(out)
    assert doc["expected"]["kind"] == "HTTPRoute" and doc["expected"]["shares"] == {MAIN: 0.9, CANARY: 0.1}
    assert doc["test"]["sample_ratio_mismatch"] is False
    query = dict(fake.explain_queries[0])
    assert (query["host"], query["path"], query["method"], query["scheme"]) == ("demo.localtest.me", "/app", "GET",
                                                                                 "http")
    headers = [v for k, v in fake.explain_queries[0] if k == "header"]
    assert "X-Env: test" in headers and "Cookie: c=1" in headers and "port" not in query


async def test_listener_port_and_query_reach_the_explanation(fake):
    fake.explanation = explanation()
    status, _, _ = await bench("--url", fake.url + "?v=2", "--host", "demo.localtest.me", "--admin", fake.admin,
                               "--requests", "10", "--listener-port", "8080")
    assert status == 0
    query = dict(fake.explain_queries[0])
    assert query["path"] == "/app?v=2" and query["port"] == "8080"


async def test_a_wrong_partial_expectation_is_a_mismatch(fake):
    fake.explanation = explanation()
    status, out, _ = await bench(*common(fake, "--requests", "1000", "--expect", "canary=40%"))
    assert status == 3 and "expected shares from admin and --expect: HTTPRoute default/web rule 0" in out


async def test_three_backends_make_aliases_a_usage_error(fake):
    fake.explanation = explanation(((MAIN, "default/web:80", 1), (CANARY, "default/web-canary:80", 1),
                                    ("default-api-80", "default/api:80", 1)))
    status, _, err = await bench(*common(fake, "--requests", "10", "--expect", "canary=10%"))
    assert status == 2 and "main and canary are ambiguous" in err and not fake.headers_seen


async def test_an_ingress_request_falls_to_the_canary_list(fake):
    rule = {"ingress": "default/web", "host": "demo.localtest.me", "path": "/", "pathType": "Prefix"}
    fake.explanation = {"kind": "Explanation", "rule": rule, "outcome": {"action": "forward", "upstream": MAIN}}
    status, out, _ = await bench(*common(fake, "--requests", "1000", "--json", "-"))
    assert status == 0
    expected = json.loads(out)["expected"]
    assert expected["kind"] == "Ingress" and expected["route"]["canaryIngress"] == "default/web-canary"


async def test_the_ingress_rule_the_decision_picks_chooses_the_canary(fake):
    # host and path alone would find the "/" canary, but the proxy serves /app by a rule without one
    rule = {"ingress": "default/app", "host": "demo.localtest.me", "path": "/app", "pathType": "Exact"}
    fake.explanation = {"kind": "Explanation", "rule": rule, "outcome": {"action": "forward", "upstream": MAIN}}
    status, out, _ = await bench(*common(fake, "--requests", "10", "--json", "-"))
    doc = json.loads(out)
    assert status == 0 and doc["expected"] is None
    assert "the admin API lists no canary for demo.localtest.me/app: nothing to test against" in doc["notes"]
    fake.explanation = {"kind": "Explanation", "rule": None, "outcome": {"action": "answer", "status": 404}}
    status, out, _ = await bench(*common(fake, "--requests", "10", "--json", "-"))
    assert json.loads(out)["expected"] is None


async def test_a_bad_listener_port_is_a_usage_error(fake, capsys):
    with pytest.raises(SystemExit):
        await bench(*common(fake, "--requests", "1", "--listener-port", "0"))
    assert "not a port number" in capsys.readouterr().err


async def test_no_phantom_rows_when_responses_do_not_name_upstreams(fake):
    # without --expose-upstream the echo app's version names the backend: the derived shares speak
    # of upstreams, so there is no test, a note says why, and no 0-count row stands for an upstream
    fake.explanation = explanation()
    fake.attribution = "echo"
    status, out, _ = await bench(*common(fake, "--requests", "100", "--json", "-"))
    doc = json.loads(out)
    assert status == 0 and doc["test"] is None
    assert {row["name"] for row in doc["backends"]} == {"v1", "v2"}
    assert doc["expected"]["shares"] == {MAIN: 0.9, CANARY: 0.1}
    assert any("responses name v1, v2" in note and "--expose-upstream" in note for note in doc["notes"])


async def test_an_expected_backend_that_served_nothing_is_a_measured_row(fake):
    fake.explanation = explanation()
    fake.canary_every = 0  # the proxy never picks the canary
    status, out, _ = await bench(*common(fake, "--requests", "200", "--json", "-"))
    rows = {row["name"]: row for row in json.loads(out)["backends"]}
    assert status == 3 and rows[CANARY]["count"] == 0 and rows[CANARY]["expected_share"] == 0.1


async def test_a_name_the_rule_does_not_have_is_noted(fake):
    fake.explanation = explanation(((MAIN, "default/web:80", 100), (CANARY, "default/web-canary:80", 0)))
    fake.canary_every = 0  # as the weights say: web only
    status, out, _ = await bench(*common(fake, "--requests", "50", "--expect", f"{CANARY}=0", "--json", "-"))
    doc = json.loads(out)
    assert status == 0 and not any("--expect names" in note for note in doc["notes"])  # weight 0, but its own
    assert any("has weight 0: it should serve nothing" in note for note in doc["notes"])
    status, out, _ = await bench(*common(fake, "--requests", "50", "--expect", "default-wbe-80=90%", "--json", "-"))
    assert (f"--expect names default-wbe-80, not an upstream of the HTTPRoute rule's backendRefs ({MAIN}, {CANARY})"
            in json.loads(out)["notes"])
