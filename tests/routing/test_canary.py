"""Canary routing as ingress-nginx does it: the per-request decision, the annotations, and how a
canary Ingress attaches to a main location."""

import dataclasses

import pytest

from ingressd.routing.annotations import (
    PREFIX,
    LocationConfig,
    check_annotations,
    parse_location_config,
)
from ingressd.routing.canary import CanaryConfig, CanaryDecision, decide_canary
from ingressd.routing.table import BackendRef, CanaryRoute, build_route_table

from .builders import backend, http_path, ingress, rule


class Draw:
    """A fake randint: always `value`, and remembers its calls."""

    def __init__(self, value: int = 7) -> None:
        self.value = value
        self.calls: list[tuple[int, int]] = []

    def __call__(self, a: int, b: int) -> int:
        self.calls.append((a, b))
        return self.value


def lookup(values: dict[str, str] | None):
    values = values or {}
    return values.get


# --- decide_canary: every branch ------------------------------------------------------------------

HEADER = {"by_header": "X-Canary"}
VALUE = {"by_header": "X-Canary", "by_header_value": "v2"}
PATTERN = {"by_header": "X-Canary", "by_header_pattern": "^v[23]$"}
COOKIE = {"by_cookie": "canary"}

# (config, headers by lowercase name, cookies, pinned, draw, canary?, step)
DECISIONS = [
    # 1. affinity wins over everything
    ({**HEADER, "weight": 100}, {"x-canary": "never"}, None, "canary", 7, True, "affinity"),
    ({**HEADER, **COOKIE}, {"x-canary": "always"}, {"canary": "always"}, "main", 7, False, "affinity"),
    ({"weight": 100}, None, None, None, 7, True, "weight"),  # not pinned: the rest decides
    # 2a. canary-by-header-value: exact and case-sensitive; anything else falls through
    (VALUE, {"x-canary": "v2"}, None, None, 7, True, "header"),
    (VALUE, {"x-canary": "V2"}, None, None, 7, False, "weight"),
    (VALUE, {"x-canary": "v2 "}, None, None, 7, False, "weight"),
    ({**VALUE, **COOKIE}, {"x-canary": "v3"}, {"canary": "always"}, None, 7, True, "cookie"),
    ({**VALUE, "weight": 100}, {"x-canary": "never"}, None, None, 7, True, "weight"),  # no never with a value
    (VALUE, {"x-canary": "always"}, None, None, 7, False, "weight"),  # no always with a value
    ({**VALUE, **COOKIE}, None, {"canary": "always"}, None, 7, True, "cookie"),  # header absent
    # 2b. canary-by-header-pattern: unanchored search; no match falls through; invalid -> main at once
    (PATTERN, {"x-canary": "v3"}, None, None, 7, True, "header"),
    ({"by_header": "X-Canary", "by_header_pattern": "v[23]"}, {"x-canary": "xv2x"}, None, None, 7, True, "header"),
    ({**PATTERN, "weight": 100}, {"x-canary": "v4"}, None, None, 7, True, "weight"),
    (PATTERN, {"x-canary": "V3"}, None, None, 7, False, "weight"),  # case-sensitive
    ({"by_header": "X-Canary", "by_header_pattern": "([", **COOKIE, "weight": 100}, {"x-canary": "x"},
     {"canary": "always"}, None, 7, False, "header"),
    ({"by_header": "X-Canary", "by_header_pattern": "([", **COOKIE}, None, {"canary": "always"}, None, 7,
     True, "cookie"),  # the bad pattern only matters when the header is there
    ({**VALUE, "by_header_pattern": "^v"}, {"x-canary": "v3"}, None, None, 7, False, "weight"),  # value wins
    ({"by_header": "X-Canary", "by_header_pattern": ".*"}, {"x-canary": ""}, None, None, 7, True, "header"),
    ({"by_header": "X-Canary", "by_header_pattern": "(?<n>v2)"}, {"x-canary": "v2"}, None, None, 7, True,
     "header"),  # PCRE named group
    # 2c. always / never / anything else
    (HEADER, {"x-canary": "always"}, None, None, 7, True, "header"),
    ({**HEADER, "weight": 100}, {"x-canary": "never"}, None, None, 7, False, "header"),
    ({**HEADER, **COOKIE}, {"x-canary": "never"}, {"canary": "always"}, None, 7, False, "header"),  # never stops
    ({**HEADER, "weight": 100}, {"x-canary": "maybe"}, None, None, 7, True, "weight"),
    (HEADER, {"x-canary": "Always"}, None, None, 7, False, "weight"),  # the value is case-sensitive
    (HEADER, {"x-canary": ""}, None, None, 7, False, "weight"),
    ({"by_header": "X_Canary"}, {"x-canary": "always"}, None, None, 7, True, "header"),  # "_" is "-" to nginx
    ({"by_header": ""}, {"": "always"}, None, None, 7, False, "weight"),  # empty = unset
    # 3. cookie: always / never / anything else
    (COOKIE, None, {"canary": "always"}, None, 7, True, "cookie"),
    ({**COOKIE, "weight": 100}, None, {"canary": "never"}, None, 7, False, "cookie"),
    ({**COOKIE, "weight": 100}, None, {"canary": "other"}, None, 7, True, "weight"),
    (COOKIE, None, {"canary": "other"}, None, 7, False, "weight"),
    (COOKIE, None, {"other": "always"}, None, 7, False, "weight"),
    ({**HEADER, **COOKIE, "weight": 100}, {"x-canary": "maybe"}, {"canary": "never"}, None, 7, False, "cookie"),
    # 4. weight: random(1..total) <= weight
    ({"weight": 0}, None, None, None, 1, False, "weight"),
    ({"weight": 100}, None, None, None, 100, True, "weight"),
    ({"weight": 10}, None, None, None, 10, True, "weight"),
    ({"weight": 10}, None, None, None, 11, False, "weight"),
    ({"weight": 10, "weight_total": 1000}, None, None, None, 10, True, "weight"),
    ({"weight": 10, "weight_total": 1000}, None, None, None, 11, False, "weight"),
    ({"weight": 60, "weight_total": 50}, None, None, None, 61, False, "weight"),  # total 50 counts as 100
    ({"weight": 100, "weight_total": 50}, None, None, None, 1, True, "weight"),
    ({"weight": 150}, None, None, None, 1, True, "weight"),
    ({"weight": -5}, None, None, None, 1, False, "weight"),
]


@pytest.mark.parametrize("kwargs, headers, cookies, pinned, draw, canary, step", DECISIONS)
def test_decide_canary(kwargs, headers, cookies, pinned, draw, canary, step):
    decision = decide_canary(CanaryConfig(**kwargs), lookup(headers), lookup(cookies), Draw(draw), pinned)
    assert (decision.canary, decision.step) == (canary, step)
    assert decision.reason


@pytest.mark.parametrize(
    "kwargs, draws",
    [
        ({"weight": 0}, []),  # certain outcomes do not draw
        ({"weight": 100}, []),
        ({"weight": 1000, "weight_total": 1000}, []),
        ({"weight": 10}, [(1, 100)]),
        ({"weight": 10, "weight_total": 1000}, [(1, 1000)]),
        ({"weight": 10, "weight_total": 100}, [(1, 100)]),
        ({"weight": 10, "weight_total": 99}, [(1, 100)]),
        ({"weight": 10, "weight_total": 0}, [(1, 100)]),
        ({"weight": 10, "weight_total": -3}, [(1, 100)]),
        ({"weight": 10, "weight_total": 101}, [(1, 101)]),
    ],
)
def test_weight_draws_from_one_to_the_effective_total(kwargs, draws):
    draw = Draw()
    decide_canary(CanaryConfig(**kwargs), lookup(None), lookup(None), draw)
    assert draw.calls == draws


def test_header_is_looked_up_lowercase_and_only_when_configured():
    asked: list[str] = []

    def header(name):
        asked.append(name)

    decide_canary(CanaryConfig(by_header="X-Canary-Version"), header, lookup(None), Draw())
    decide_canary(CanaryConfig(), header, lookup(None), Draw())
    assert asked == ["x-canary-version"]


def test_cookie_is_looked_up_by_its_name_only_when_configured():
    asked: list[str] = []

    def cookie(name):
        asked.append(name)

    decide_canary(CanaryConfig(by_cookie="Canary"), lookup(None), cookie, Draw())
    decide_canary(CanaryConfig(), lookup(None), cookie, Draw())
    assert asked == ["Canary"]


@pytest.mark.parametrize(
    "kwargs, headers, cookies, pinned, draw, needle",
    [
        (HEADER, {"x-canary": "always"}, None, None, 7, 'header "X-Canary: always" forces the canary'),
        (HEADER, {"x-canary": "never"}, None, None, 7, 'header "X-Canary: never" forces the main backend'),
        (VALUE, {"x-canary": "v2"}, None, None, 7, 'header "X-Canary: v2" matches canary-by-header-value'),
        (PATTERN, {"x-canary": "v2"}, None, None, 7, 'matches canary-by-header-pattern "^v[23]$"'),
        ({"by_header": "X-Canary", "by_header_pattern": "(["}, {"x-canary": "v2"}, None, None, 7,
         "is not a valid regex"),
        (COOKIE, None, {"canary": "always"}, None, 7, 'cookie "canary=always" forces the canary'),
        (COOKIE, None, {"canary": "never"}, None, 7, 'cookie "canary=never" forces the main backend'),
        ({}, None, None, "canary", 7, "pins the request to the canary"),
        ({}, None, None, "main", 7, "pins the request to the main backend"),
        ({"weight": 10}, None, None, None, 3, "canary-weight 10 of 100: the random draw picked the canary"),
        ({"weight": 10, "weight_total": 1000}, None, None, None, 30,
         "canary-weight 10 of 1000: the random draw picked the main backend"),
        ({"weight": 0}, None, None, None, 7, "canary-weight 0 of 100: the main backend"),
        ({"weight": 100, "weight_total": 50}, None, None, None, 7, "canary-weight 100 of 100: always the canary"),
    ],
)
def test_reasons_say_why(kwargs, headers, cookies, pinned, draw, needle):
    decision = decide_canary(CanaryConfig(**kwargs), lookup(headers), lookup(cookies), Draw(draw), pinned)
    assert needle in decision.reason


def test_decisions_are_prebuilt_and_the_pattern_compiled_once():
    cfg = CanaryConfig(by_header="X-Canary", by_header_pattern="^v2", weight=10)
    first = decide_canary(cfg, lookup({"x-canary": "v2"}), lookup(None), Draw())
    again = decide_canary(cfg, lookup({"x-canary": "v2"}), lookup(None), Draw())
    assert first is again and isinstance(first, CanaryDecision)
    assert cfg.pattern is not None and cfg.pattern is cfg.pattern
    assert decide_canary(cfg, lookup(None), lookup(None), Draw(5)) is decide_canary(cfg, lookup(None), lookup(None),
                                                                                    Draw(5))


def test_config_derived_fields():
    cfg = CanaryConfig(weight=5, weight_total=60, by_header="X_Canary", by_header_pattern="([")
    assert (cfg.header_key, cfg.pattern, cfg.total) == ("x-canary", None, 100)
    assert CanaryConfig(weight_total=1000).total == 1000
    assert CanaryConfig() == CanaryConfig() and hash(CanaryConfig(weight=3)) == hash(CanaryConfig(weight=3))
    assert dataclasses.replace(cfg, weight_total=500).total == 500
    assert "decisions" not in repr(cfg)


# --- annotations ------------------------------------------------------------------------------------


def canary_annotations(**values: str) -> dict[str, str]:
    return {PREFIX + "canary": "true", **{PREFIX + k.replace("_", "-"): v for k, v in values.items()}}


def test_canary_annotations_parse_into_a_canary_config():
    config = parse_location_config(canary_annotations(
        canary_weight="10", canary_weight_total="1000", canary_by_header="X-Canary", canary_by_header_value="v2",
        canary_by_header_pattern="^v", canary_by_cookie="c"))
    assert config.canary == CanaryConfig(weight=10, weight_total=1000, by_header="X-Canary", by_header_value="v2",
                                         by_header_pattern="^v", by_cookie="c")


@pytest.mark.parametrize("value", ["false", "False", "0", "nope", ""])
def test_not_a_canary_without_canary_true(value):
    assert parse_location_config({PREFIX + "canary": value, PREFIX + "canary-weight": "10"}).canary is None


def test_canary_true_alone_is_weight_zero():
    assert parse_location_config(canary_annotations()).canary == CanaryConfig()
    assert check_annotations(canary_annotations()) == []


@pytest.mark.parametrize(
    "name, value, field, default",
    [("canary-weight", "ten", "weight", 0), ("canary-weight", "1.5", "weight", 0), ("canary-weight", " 5", "weight", 0),
     ("canary-weight-total", "1k", "weight_total", 100), ("canary-by-header", "X Canary;", "by_header", None),
     ("canary-by-cookie", "a=b", "by_cookie", None), ("canary-by-header-value", "v2;rm", "by_header_value", None),
     ("canary-by-header-pattern", "v 2", "by_header_pattern", None),
     ("canary-by-header-pattern", "#", "by_header_pattern", None)],
)
def test_invalid_canary_values_are_errors_and_keep_the_default(name, value, field, default):
    annotations = {**canary_annotations(), PREFIX + name: value}
    assert (PREFIX + name, "error") in [(k, s) for k, s, _ in check_annotations(annotations)]
    assert getattr(parse_location_config(annotations).canary, field) == default


def test_canary_values_as_ingress_nginx_reads_them():
    cfg = parse_location_config(canary_annotations(canary_weight="+5", canary_by_header=" X-Canary ",
                                                   canary_by_header_value="v 2")).canary
    assert (cfg.weight, cfg.by_header, cfg.by_header_value) == (5, "X-Canary", "v 2")  # Atoi; trimmed


@pytest.mark.parametrize(
    "values",
    [{"canary-weight": "10"}, {"canary-by-header": "X-Canary"}, {"canary-by-header-value": "v2"},
     {"canary-by-header-pattern": "^v"}, {"canary-by-cookie": "c"}, {"canary": "false", "canary-weight": "1"}],
)
def test_canary_annotations_without_canary_true_are_an_invalid_configuration(values):
    problems = check_annotations({PREFIX + k: v for k, v in values.items()})
    [(key, severity, message)] = problems
    assert severity == "error" and key == PREFIX + next(iter(values))
    assert message.startswith("the annotation canary does not contain a valid configuration: configured but not"
                              " enabled")
    assert f'{PREFIX}canary: "true"' in message


@pytest.mark.parametrize("values", [{"canary-weight": "0"}, {"canary-weight-total": "1000"},
                                    {"canary-weight": "x"}, {"canary": "false"}])
def test_canary_annotations_that_configure_nothing_are_not_an_error(values):
    assert [s for _, s, _ in check_annotations({PREFIX + k: v for k, v in values.items()})] in ([], ["error"])
    assert not any("configured but not enabled" in m for _, _, m in
                   check_annotations({PREFIX + k: v for k, v in values.items()}))


@pytest.mark.parametrize(
    "name, value",
    [("load-balance", "ewma"), ("upstream-hash-by", "$remote_addr"), ("affinity-canary-behavior", "legacy"),
     ("canary-weight", "5")],
)
def test_annotations_a_canary_decides_are_not_warned(name, value):
    assert check_annotations(canary_annotations(**{name.replace("-", "_"): value})) == []


@pytest.mark.parametrize(
    "name, value",
    [("proxy-body-size", "8k"), ("rewrite-target", "/"), ("use-regex", "true"), ("proxy-read-timeout", "bad"),
     ("enable-cors", "true"), ("ssl-redirect", "false")],
)
def test_other_annotations_on_a_canary_are_ignored_with_a_warning(name, value):
    [(key, severity, message)] = check_annotations(canary_annotations(**{name.replace("-", "_"): value}))
    assert (key, severity) == (PREFIX + name, "warning")
    assert message.startswith("ignored on a canary Ingress")


@pytest.mark.parametrize("name, value", [("affinity", "cookie"), ("session-cookie-name", "x"),
                                         ("affinity-mode", "persistent")])
def test_affinity_on_a_canary_comes_from_the_main_ingress(name, value):
    [(key, severity, message)] = check_annotations(canary_annotations(**{name.replace("-", "_"): value}))
    assert (key, severity) == (PREFIX + name, "warning")
    assert message.startswith("ignored on a canary Ingress") and "main Ingress's affinity" in message


def test_unknown_annotation_on_a_canary_is_still_a_typo():
    [(_, _, message)] = check_annotations(canary_annotations(canary_wieght="5"))
    assert message.startswith("unknown annotation") and "canary-weight" in message


@pytest.mark.parametrize(
    "values, name, needle",
    [
        ({"canary_weight_total": "50"}, "canary-weight-total", "a total of 50 is ignored"),
        ({"canary_by_header_value": "v2"}, "canary-by-header-value", "has no effect without"),
        ({"canary_by_header_pattern": "^v"}, "canary-by-header-pattern", "has no effect without"),
        ({"canary_by_header": "X", "canary_by_header_value": "v2", "canary_by_header_pattern": "^v"},
         "canary-by-header-pattern", "canary-by-header-value is set and takes precedence"),
        ({"canary_by_header": "X", "canary_by_header_pattern": "(["}, "canary-by-header-pattern",
         "is not a valid regex"),
    ],
)
def test_canary_warnings(values, name, needle):
    [(key, severity, message)] = check_annotations(canary_annotations(**values))
    assert (key, severity) == (PREFIX + name, "warning") and needle in message


def test_weight_total_of_100_or_more_is_not_warned():
    assert check_annotations(canary_annotations(canary_weight_total="100")) == []
    assert check_annotations(canary_annotations(canary_weight_total="1000")) == []


# --- attaching a canary to a main location -------------------------------------------------------------

MAIN = ingress("main", rule("foo.com", http_path("/", "Prefix", "main"), http_path("/api", "Exact", "main")),
               created="2024-01-01T00:00:00Z")


def canary_ingress(name="canary", *rules, annotations=None, created="2024-02-01T00:00:00Z", **kwargs):
    rules = rules or (rule("foo.com", http_path("/", "Prefix", "canary")),)
    return ingress(name, *rules, annotations={"canary": "true", "canary-weight": "10", **(annotations or {})},
                   created=created, **kwargs)


def canary_of(table, host, target):
    match = table.match(host, target)
    return None if match is None else match.location.canary


def test_canary_attaches_to_the_same_host_path_and_path_type():
    table = build_route_table([MAIN, canary_ingress()])
    route = canary_of(table, "foo.com", "/x")
    assert isinstance(route, CanaryRoute)
    assert (route.ingress_namespace, route.ingress_name) == ("default", "canary")
    assert route.backend == BackendRef("default", "canary", 80)
    assert route.canary == CanaryConfig(weight=10)
    assert table.match("foo.com", "/x").location.backend.service == "main"  # the main still routes
    assert canary_of(table, "foo.com", "/api") is None  # other paths of the host keep no canary
    assert table.warnings == () and table.errors == ()
    assert sum(loc.canary is not None for loc in table.locations) == 1


@pytest.mark.parametrize(
    "canary_rule, reason",
    [
        (rule("foo.com", http_path("/", "ImplementationSpecific", "canary")),
         'no main Ingress has host "foo.com", path "/" and pathType ImplementationSpecific'),
        (rule("foo.com", http_path("/api", "Prefix", "canary")),
         'no main Ingress has host "foo.com", path "/api" and pathType Prefix'),
        (rule("foo.com", http_path("/api/", "Exact", "canary")), 'path "/api/" and pathType Exact'),
        (rule("foo.com", http_path("/other", "Prefix", "canary")), 'path "/other"'),
    ],
)
def test_canary_needs_the_same_path_string_and_path_type(canary_rule, reason):
    table = build_route_table([MAIN, canary_ingress("canary", canary_rule)])
    assert all(loc.canary is None for loc in table.locations)
    [(namespace, name, field, message)] = table.warnings
    assert (namespace, name, field) == ("default", "canary", ("spec", "rules", 0, "http", "paths", 0))
    assert message.startswith("canary not used: no main Ingress has") and reason in message
    assert "(ingress-nginx: unable to find real backend for alternative backend default-canary-80. Deleting.)" \
        in message


def test_canary_on_an_exact_path():
    table = build_route_table([MAIN, canary_ingress("canary", rule("foo.com", http_path("/api", "Exact", "canary")))])
    assert canary_of(table, "foo.com", "/api").backend.service == "canary"
    assert canary_of(table, "foo.com", "/") is None


def test_canary_for_a_host_no_main_ingress_has():
    table = build_route_table([MAIN, canary_ingress("canary", rule("bar.com", http_path("/", "Prefix", "canary")))])
    [(_, _, _, message)] = table.warnings
    assert message == ('canary not used: no main Ingress has host "bar.com" (ingress-nginx: cannot merge alternative'
                       " backend default-canary-80 into hostname bar.com that does not exist)")
    assert table.match("bar.com", "/") is None  # a request forced to it gets the main result: 404


def test_canary_wildcard_host_is_not_the_exact_host():
    table = build_route_table([MAIN, canary_ingress("canary", rule("*.foo.com", http_path("/", "Prefix", "canary")))])
    assert "hostname *.foo.com that does not exist" in table.warnings[0][3]


def test_canary_without_any_main_ingress():
    table = build_route_table([canary_ingress()])
    assert table.locations == () and table.match("foo.com", "/") is None
    assert table.warnings == (("default", "canary", ("spec",), "canary not used: there is no main (non-canary) Ingress"),)


def test_canary_with_the_main_backend_as_its_own_is_not_used():
    table = build_route_table([MAIN, canary_ingress("canary", rule("foo.com", http_path("/", "Prefix", "main")))])
    assert canary_of(table, "foo.com", "/") is None
    [(_, _, _, message)] = table.warnings
    assert message.startswith("canary not used: its backend default-main-80 is the main backend of Ingress default/main")
    assert "is primary upstream in Other Ingress for location foo.com/!" in message


def test_canary_for_a_resource_backend_main_is_not_used():
    main = ingress("main", rule("foo.com", {"path": "/", "pathType": "Prefix",
                                            "backend": {"resource": {"kind": "Bucket", "name": "b"}}}))
    table = build_route_table([main, canary_ingress()])
    assert canary_of(table, "foo.com", "/") is None
    assert "unable to find real backend" in table.warnings[0][3]


def test_two_canaries_for_one_main_the_older_wins_and_the_newer_is_an_error():
    older = canary_ingress("canary-a", rule("foo.com", http_path("/", "Prefix", "canary-a")),
                           created="2024-02-01T00:00:00Z")
    newer = canary_ingress("canary-b", rule("foo.com", http_path("/", "Prefix", "canary-b")),
                           created="2024-03-01T00:00:00Z")
    for order in ([MAIN, newer, older], [older, MAIN, newer]):
        table = build_route_table(order)
        assert canary_of(table, "foo.com", "/").ingress_name == "canary-a"
        [(namespace, name, field, message)] = table.errors
        assert (namespace, name, field) == ("default", "canary-b", ("spec", "rules", 0, "http", "paths", 0))
        assert "default/canary-a" in message and "default/canary-b" in message and "default/main" in message
        assert message.startswith('a main backend takes one canary: host "foo.com" path "/" (Prefix)')


def test_two_canaries_with_the_same_timestamp_order_by_name_descending():
    a = canary_ingress("canary-a", rule("foo.com", http_path("/", "Prefix", "canary-a")))
    b = canary_ingress("canary-b", rule("foo.com", http_path("/", "Prefix", "canary-b")))
    table = build_route_table([MAIN, a, b])
    assert canary_of(table, "foo.com", "/").ingress_name == "canary-b"  # ingress-nginx's sortIngressSlice
    assert table.errors[0][1] == "canary-a"


def test_two_canaries_on_different_paths_are_fine():
    other = canary_ingress("canary-api", rule("foo.com", http_path("/api", "Exact", "canary-api")))
    table = build_route_table([MAIN, canary_ingress(), other])
    assert canary_of(table, "foo.com", "/").ingress_name == "canary"
    assert canary_of(table, "foo.com", "/api").ingress_name == "canary-api"
    assert table.errors == () and table.warnings == ()


def test_canary_attaches_to_the_location_that_won_its_path():
    older_main = ingress("old", rule("foo.com", http_path("/", "Prefix", "old")), created="2023-01-01T00:00:00Z")
    table = build_route_table([MAIN, older_main, canary_ingress()])
    location = table.match("foo.com", "/").location
    assert (location.ingress_name, location.canary.ingress_name) == ("old", "canary")


def test_canary_attaches_to_a_host_fallback_location():
    main = ingress("main", rule("foo.com", http_path("/api", "Prefix", "api")), default_backend=backend("fallback"))
    table = build_route_table([main, canary_ingress()])
    location = table.match("foo.com", "/anything").location
    assert (location.backend.service, location.canary.backend.service) == ("fallback", "canary")


def test_canary_on_the_catch_all_server():
    main = ingress("main", rule(None, http_path("/", "Prefix", "main"), http_path("/b", "Prefix", "b")))
    table = build_route_table([main, canary_ingress("canary", rule(None, http_path("/", "Prefix", "canary")))])
    assert canary_of(table, "anything.test", "/").ingress_name == "canary"
    assert canary_of(table, "anything.test", "/b") is None


def test_canary_default_backend_attaches_to_every_catch_all_location():
    main = ingress("main", rule(None, http_path("/", "Prefix", "main"), http_path("/b", "Exact", "b")),
                   rule("foo.com", http_path("/", "Prefix", "foo")))
    canary = ingress("canary", annotations={"canary": "true"}, default_backend=backend("canary"),
                     created="2024-02-01T00:00:00Z")
    table = build_route_table([main, canary])
    assert canary_of(table, "x.test", "/").backend.service == "canary"
    assert canary_of(table, "x.test", "/b").backend.service == "canary"
    assert canary_of(table, "foo.com", "/") is None
    assert table.warnings == ()


def test_canary_default_backend_without_a_catch_all_server():
    canary = ingress("canary", annotations={"canary": "true"}, default_backend=backend("canary"),
                     created="2024-02-01T00:00:00Z")
    table = build_route_table([MAIN, canary])
    [(_, _, field, message)] = table.warnings
    assert field == ("spec", "defaultBackend") and "unable to find real backend" in message


def test_canary_of_another_ingress_class_is_not_seen():
    canary = canary_ingress(class_name="other")
    table = build_route_table([MAIN, canary])
    assert canary_of(table, "foo.com", "/") is None and table.warnings == ()


def test_canary_route_config_is_the_main_locations_with_the_canarys_balancing():
    main = ingress("main", rule("foo.com", http_path("/", "Prefix", "main")),
                   annotations={"proxy-read-timeout": "7", "affinity": "cookie", "session-cookie-name": "S",
                                "load-balance": "ewma"})
    canary = canary_ingress(annotations={"proxy-read-timeout": "99", "upstream-hash-by": "$remote_addr",
                                         "load-balance": "round_robin", "affinity-mode": "persistent"})
    route = canary_of(build_route_table([main, canary]), "foo.com", "/")
    config = route.config
    assert config.proxy_read_timeout == 7.0  # nginx location settings are the main's
    assert (config.upstream_hash_by, config.load_balance) == ("$remote_addr", "round_robin")
    assert (config.affinity, config.session_cookie_name, config.affinity_mode) == ("cookie", "S", "balanced")
    assert config.balancer == "sticky"  # the inherited affinity wins over the canary's hashing
    assert config.canary is None


def test_canary_route_config_legacy_drops_the_affinity():
    main = ingress("main", rule("foo.com", http_path("/", "Prefix", "main")), annotations={"affinity": "cookie"})
    canary = canary_ingress(annotations={"affinity-canary-behavior": "legacy", "upstream-hash-by": "$request_uri"})
    config = canary_of(build_route_table([main, canary]), "foo.com", "/").config
    assert (config.affinity, config.affinity_canary_behavior, config.balancer) == (None, "legacy", "chash")


def test_canary_own_affinity_does_not_count():
    canary = canary_ingress(annotations={"affinity": "cookie"})
    table = build_route_table([MAIN, canary])
    assert canary_of(table, "foo.com", "/").config.affinity is None
    [(namespace, name, field, message)] = table.warnings
    assert (namespace, name, field) == ("default", "canary", ("metadata", "annotations", PREFIX + "affinity"))
    assert message.startswith("ignored on a canary Ingress")


def test_ignored_annotations_of_a_canary_are_table_warnings():
    canary = canary_ingress(annotations={"rewrite-target": "/x", "use-regex": "true", "load-balance": "ewma"})
    table = build_route_table([MAIN, canary])
    assert [(w[2][-1], w[3].split(":")[0]) for w in table.warnings] == [
        (PREFIX + "rewrite-target", "ignored on a canary Ingress"), (PREFIX + "use-regex", "ignored on a canary Ingress")]
    assert not table.match("foo.com", "/x").location.config.use_regex  # a canary never turns on regex mode


def test_balancer_precedence():
    assert LocationConfig().balancer == "round_robin"
    assert LocationConfig(load_balance="ewma").balancer == "ewma"
    assert LocationConfig(load_balance="ewma", upstream_hash_by="$remote_addr").balancer == "chash"
    assert LocationConfig(upstream_hash_by="$remote_addr", affinity="cookie").balancer == "sticky"
