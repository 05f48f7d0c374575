"""Expected shares from the admin API's canary items, and `--expect` overrides."""

from __future__ import annotations

import pytest

from ingressd.bench.expect import (
    canary_for_rule,
    canary_share,
    expectation,
    find_canary,
    parse_cookie_header,
    parse_expect,
    parse_share,
)

MAIN = "default-web-80"
CANARY = "default-web-canary-80"


def item(**policy) -> dict:
    doc = {
        "host": "demo.localtest.me", "path": "/", "pathType": "Prefix",
        "ingress": "default/web", "main": MAIN, "canary": CANARY, "canaryIngress": "default/web-canary",
        "weight": 0, "weightTotal": 100,
        "byHeader": None, "byHeaderValue": None, "byHeaderPattern": None, "byCookie": None,
    }
    doc.update(policy)
    return doc


# (policy, headers, cookies, expected canary share, deciding step)
ROWS = [
    ({"weight": 10}, {}, {}, 0.10, "weight"),
    ({"weight": 0}, {}, {}, 0.0, "weight"),
    ({"weight": 100}, {}, {}, 1.0, "weight"),
    ({"weight": 10, "weightTotal": 50}, {}, {}, 0.10, "weight"),       # a total <= 100 counts as 100
    ({"weight": 10, "weightTotal": 1000}, {}, {}, 0.01, "weight"),
    ({"weight": 200, "weightTotal": 100}, {}, {}, 1.0, "weight"),
    ({"weight": 10, "byHeader": "X-Canary"}, {"x-canary": "always"}, {}, 1.0, "header"),
    ({"weight": 90, "byHeader": "X-Canary"}, {"X-CANARY": "never"}, {}, 0.0, "header"),
    ({"weight": 10, "byHeader": "X-Canary"}, {"X-Canary": "Always"}, {}, 0.10, "weight"),  # values are exact
    ({"weight": 10, "byHeader": "X-Canary"}, {"X-Other": "always"}, {}, 0.10, "weight"),
    ({"byHeader": "X-Canary", "byHeaderValue": "v2"}, {"X-Canary": "v2"}, {}, 1.0, "header"),
    ({"weight": 10, "byHeader": "X-Canary", "byHeaderValue": "v2"}, {"X-Canary": "always"}, {}, 0.10, "weight"),
    ({"weight": 10, "byHeader": "X-Canary", "byHeaderValue": "v2"}, {"X-Canary": "never"}, {}, 0.10, "weight"),
    ({"byHeader": "X-Canary", "byHeaderPattern": "^v[23]$"}, {"X-Canary": "v3"}, {}, 1.0, "header"),
    ({"byHeader": "X-Canary", "byHeaderPattern": "beta"}, {"X-Canary": "is-beta-user"}, {}, 1.0, "header"),
    ({"weight": 10, "byHeader": "X-Canary", "byHeaderPattern": "^v2$"}, {"X-Canary": "v1"}, {}, 0.10, "weight"),
    ({"weight": 100, "byHeader": "X-Canary", "byHeaderPattern": "(["}, {"X-Canary": "v1"}, {}, 0.0, "header"),
    ({"weight": 100, "byHeader": "X-Canary", "byHeaderPattern": "(["}, {}, {}, 1.0, "weight"),
    ({"weight": 10, "byCookie": "canary"}, {}, {"canary": "always"}, 1.0, "cookie"),
    ({"weight": 90, "byCookie": "canary"}, {}, {"canary": "never"}, 0.0, "cookie"),
    ({"weight": 10, "byCookie": "canary"}, {}, {"canary": "yes"}, 0.10, "weight"),
    ({"weight": 10, "byCookie": "canary"}, {}, {"Canary": "always"}, 1.0, "cookie"),  # as nginx's $cookie_
    ({"weight": 10, "byHeader": "X-Canary"}, {"x_canary": "always"}, {}, 1.0, "header"),  # as nginx's $http_
    ({"byHeader": "X-Canary", "byHeaderPattern": "^(?<tier>beta)-"}, {"X-Canary": "beta-1"}, {}, 1.0, "header"),
    # header beats cookie; a header that falls through leaves the cookie to decide
    ({"byHeader": "X-Canary", "byCookie": "canary"}, {"X-Canary": "never"}, {"canary": "always"}, 0.0, "header"),
    ({"byHeader": "X-Canary", "byCookie": "canary"}, {"X-Canary": "maybe"}, {"canary": "always"}, 1.0, "cookie"),
    ({"byHeader": "X-Canary", "byHeaderValue": "v2", "byCookie": "c"}, {"X-Canary": "v1"}, {"c": "always"}, 1.0, "cookie"),
]


@pytest.mark.parametrize(("policy", "headers", "cookies", "share", "step"), ROWS)
def test_canary_share(policy, headers, cookies, share, step):
    decision = canary_share(item(**policy), headers, cookies)
    assert (decision.share, decision.step) == (pytest.approx(share), step)
    assert decision.reason


def test_header_reason_names_the_header():
    decision = canary_share(item(byHeader="X-Canary"), {"X-Canary": "always"}, {})
    assert decision.reason == 'header "X-Canary: always" forces the canary'


def test_find_canary_prefers_exact_host_then_longest_path_then_exact_type():
    items = [
        item(host="", path="/", canary="catch-all"),
        item(host="*.localtest.me", path="/", canary="wildcard"),
        item(host="demo.localtest.me", path="/", canary="root"),
        item(host="demo.localtest.me", path="/api", canary="api-prefix"),
        item(host="demo.localtest.me", path="/api", pathType="Exact", canary="api-exact"),
        item(host="demo.localtest.me", path="/api/v1/", canary="api-v1"),
    ]
    pick = lambda host, path: (find_canary(items, host, path) or {}).get("canary")
    assert pick("demo.localtest.me", "/") == "root"
    assert pick("DEMO.localtest.me:8080", "/x") == "root"
    assert pick("demo.localtest.me", "/api") == "api-exact"
    assert pick("demo.localtest.me", "/api/users") == "api-prefix"
    assert pick("demo.localtest.me", "/apiary") == "root"
    assert pick("demo.localtest.me", "/api/v1") == "api-v1"
    assert pick("other.localtest.me", "/") == "wildcard"
    assert pick("example.com", "/") == "catch-all"
    assert find_canary(items[2:], "example.com", "/") is None
    assert find_canary([item(path="/x", pathType="Exact")], "demo.localtest.me", "/x/") is None


def test_expectation_from_the_admin_item():
    exp = expectation(item(weight=10), {}, {}, {})
    assert exp.shares == {MAIN: pytest.approx(0.9), CANARY: pytest.approx(0.1)}
    assert exp.source == "admin" and exp.decision.step == "weight"


def test_expectation_forced_by_header():
    exp = expectation(item(weight=10, byHeader="X-Canary"), {"X-Canary": "always"}, {}, {})
    assert exp.shares == {MAIN: 0.0, CANARY: 1.0}


def test_expect_alias_overrides_and_the_rest_takes_the_remainder():
    exp = expectation(item(weight=10), {}, {}, {"canary": 0.2})
    assert exp.shares == {CANARY: 0.2, MAIN: pytest.approx(0.8)}
    assert exp.source == "admin and --expect"
    exp = expectation(item(byHeader="X-Canary"), {"X-Canary": "always"}, {}, {"canary": 0.5})
    assert exp.shares == {CANARY: 1.0 - 0.5, MAIN: pytest.approx(0.5)}


def test_expect_by_upstream_names_without_admin():
    exp = expectation(None, {}, {}, {"a": 0.25, "b": 0.75})
    assert exp.shares == {"a": 0.25, "b": 0.75} and exp.source == "--expect" and exp.route is None


@pytest.mark.parametrize(
    ("item_doc", "overrides", "message"),
    [
        (None, {"canary": 0.1}, "needs the admin API"),
        (None, {"a": 0.3}, "not 1"),
        (item(), {"main": 0.7, "canary": 0.7}, "more than 1"),
        (item(), {"canary": 0.1, CANARY: 0.1}, "twice"),
    ],
)
def test_expect_errors(item_doc, overrides, message):
    with pytest.raises(ValueError, match=message):
        expectation(item_doc, {}, {}, overrides)


def test_nothing_known_is_none():
    assert expectation(None, {}, {}, {}) is None
    assert expectation(item(canary=None), {}, {}, {}) is None


@pytest.mark.parametrize(("text", "share"), [("0.1", 0.1), ("10%", 0.1), (" 1 ", 1.0), ("0", 0.0), ("12.5%", 0.125)])
def test_parse_share(text, share):
    assert parse_share(text) == pytest.approx(share)


@pytest.mark.parametrize("text", ["", "x", "1.5", "-0.1", "150%"])
def test_parse_share_rejects(text):
    with pytest.raises(ValueError):
        parse_share(text)


def test_parse_expect():
    assert parse_expect(["canary=0.2", "main=80%"]) == {"canary": 0.2, "main": pytest.approx(0.8)}
    with pytest.raises(ValueError):
        parse_expect(["canary"])
    with pytest.raises(ValueError):
        parse_expect(["a=0.5", "a=0.5"])


def test_parse_cookie_header():
    assert parse_cookie_header("a=1; b=x=y;c; a=2") == {"a": "1", "b": "x=y"}


@pytest.mark.parametrize(("policy", "headers", "cookies", "share", "step"), ROWS)
def test_the_router_decides_the_same(policy, headers, cookies, share, step):
    """The bench reads the reference on its own; the router (ingressd.routing.canary) must agree,
    or a bench run would blame one for the other's reading. Every possible draw is tried, so the
    router's canary share is exact."""
    from ingressd.routing.canary import CanaryConfig, decide_canary

    doc = item(**policy)
    cfg = CanaryConfig(weight=doc["weight"], weight_total=doc["weightTotal"], by_header=doc["byHeader"],
                       by_header_value=doc["byHeaderValue"], by_header_pattern=doc["byHeaderPattern"],
                       by_cookie=doc["byCookie"])
    sent = {name.lower().replace("_", "-"): value for name, value in headers.items()}

    def cookie(name: str) -> str | None:
        return next((value for key, value in cookies.items() if key.lower() == name.lower()), None)

    total = max(100, doc["weightTotal"])
    decisions = [decide_canary(cfg, sent.get, cookie, lambda a, b, v=v: v) for v in range(1, total + 1)]
    assert {d.step for d in decisions} == {step}
    assert sum(d.canary for d in decisions) / total == pytest.approx(share)


@pytest.mark.parametrize("rule,expected", [
    ({"host": "demo.localtest.me", "path": "/", "pathType": "Prefix"}, "default/web-canary"),
    ({"host": "demo.localtest.me", "path": "/", "pathType": "Exact"}, None),
    ({"host": "demo.localtest.me", "path": "/app", "pathType": "Prefix"}, None),  # find_canary would say "/"
    ({"host": "", "path": "/", "pathType": "Prefix"}, "default/catch-all-canary"),
    ({"host": None, "path": "/", "pathType": "Prefix"}, "default/catch-all-canary"),
])
def test_canary_for_the_rule_the_decision_picks(rule, expected):
    items = [item(), item(host="", canaryIngress="default/catch-all-canary")]
    found = canary_for_rule(items, rule)
    assert (found["canaryIngress"] if found else None) == expected
