import dataclasses

import pytest

from ingressd.routing.annotations import (
    ANNOTATIONS,
    PREFIX,
    AnnotationError,
    LocationConfig,
    annotation_docs,
    check_annotations,
    parse_location_config,
)

VALID = [
    ("use-regex", "true", "use_regex", True),
    ("use-regex", "false", "use_regex", False),
    ("use-regex", "True", "use_regex", True),
    ("use-regex", "1", "use_regex", True),
    ("rewrite-target", "/$2", "rewrite_target", "/$2"),
    ("rewrite-target", "/", "rewrite_target", "/"),
    ("rewrite-target", "/new/backend/$1", "rewrite_target", "/new/backend/$1"),
    ("app-root", "/app", "app_root", "/app"),
    ("app-root", "/app1/", "app_root", "/app1/"),
    ("proxy-body-size", "1m", "proxy_body_size", 1048576),
    ("proxy-body-size", "1M", "proxy_body_size", 1048576),
    ("proxy-body-size", "8k", "proxy_body_size", 8192),
    ("proxy-body-size", "8K", "proxy_body_size", 8192),
    ("proxy-body-size", "1g", "proxy_body_size", 1024**3),
    ("proxy-body-size", "512", "proxy_body_size", 512),
    ("proxy-body-size", "0", "proxy_body_size", 0),
    ("proxy-body-size", " 10 m ", "proxy_body_size", 10 * 1048576),
    ("proxy-connect-timeout", "10", "proxy_connect_timeout", 10.0),
    ("proxy-connect-timeout", "5s", "proxy_connect_timeout", 5.0),
    ("proxy-read-timeout", "120", "proxy_read_timeout", 120.0),
    ("proxy-send-timeout", "3", "proxy_send_timeout", 3.0),
    ("proxy-next-upstream", "error timeout http_502", "proxy_next_upstream", frozenset({"error", "timeout", "http_502"})),
    ("proxy-next-upstream", "off", "proxy_next_upstream", frozenset({"off"})),
    ("proxy-next-upstream", "error  non_idempotent", "proxy_next_upstream", frozenset({"error", "non_idempotent"})),
    ("proxy-next-upstream-tries", "5", "proxy_next_upstream_tries", 5),
    ("proxy-next-upstream-tries", "0", "proxy_next_upstream_tries", 0),
    ("load-balance", "ewma", "load_balance", "ewma"),
    ("load-balance", "round_robin", "load_balance", "round_robin"),
    ("load-balance", " EWMA ", "load_balance", "ewma"),
]


@pytest.mark.parametrize("name, value, field, want", VALID)
def test_valid_values(name, value, field, want):
    key = PREFIX + name
    assert check_annotations({key: value}) == []
    assert getattr(parse_location_config({key: value}), field) == want


INVALID = [
    ("use-regex", "yes", '"true" or "false"'),
    ("use-regex", "", '"true" or "false"'),
    ("rewrite-target", "", "capture groups"),
    ("rewrite-target", "/a b", "capture groups"),
    ("rewrite-target", "/a;rm", "capture groups"),
    ("app-root", "app", 'starting with "/"'),
    ("app-root", "http://x.com/app", 'starting with "/"'),
    ("proxy-body-size", "1mb", "k, m or g"),
    ("proxy-body-size", "-1", "k, m or g"),
    ("proxy-body-size", "1.5m", "k, m or g"),
    ("proxy-body-size", "big", "k, m or g"),
    ("proxy-connect-timeout", "5m", "whole seconds"),
    ("proxy-read-timeout", "1.5", "whole seconds"),
    ("proxy-send-timeout", "-1", "whole seconds"),
    ("proxy-next-upstream", "error http_418", "error timeout invalid_header http_500"),
    ("proxy-next-upstream", "", "non_idempotent off"),
    ("proxy-next-upstream-tries", "-1", "whole number"),
    ("proxy-next-upstream-tries", "three", "whole number"),
    ("load-balance", "random", "round_robin, ewma"),
]


@pytest.mark.parametrize("name, value, needle", INVALID)
def test_invalid_values_are_errors_naming_the_accepted_values(name, value, needle):
    key = PREFIX + name
    [(got_key, severity, message)] = check_annotations({key: value})
    assert (got_key, severity) == (key, "error")
    assert needle in message
    field = ANNOTATIONS[name].field
    assert getattr(parse_location_config({key: value}), field) == getattr(LocationConfig(), field)


@pytest.mark.parametrize("method", ["chash", "chashsubset", "sticky_balanced", "sticky_persistent"])
def test_ingress_nginx_load_balancers_not_in_ingressd_warn_and_use_round_robin(method):
    key = PREFIX + "load-balance"
    [(_, severity, message)] = check_annotations({key: method})
    assert severity == "warning" and "not implemented by ingressd yet" in message
    assert parse_location_config({key: method}).load_balance == "round_robin"


@pytest.mark.parametrize(
    "name",
    ["canary", "canary-weight", "canary-weight-total", "canary-by-header", "canary-by-header-value",
     "canary-by-header-pattern", "canary-by-cookie", "affinity", "affinity-mode", "affinity-canary-behavior",
     "session-cookie-name", "session-cookie-max-age", "upstream-hash-by", "ssl-redirect", "force-ssl-redirect",
     "backend-protocol", "proxy-ssl-verify", "enable-cors", "auth-url", "configuration-snippet"],
)
def test_known_but_not_implemented_is_a_warning(name):
    assert check_annotations({PREFIX + name: "whatever"}) == [
        (PREFIX + name, "warning", "not implemented by ingressd yet")
    ]


def test_unknown_annotation_is_a_warning_with_a_suggestion():
    [(key, severity, message)] = check_annotations({PREFIX + "rewrite-targte": "/"})
    assert (key, severity) == (PREFIX + "rewrite-targte", "warning")
    assert message.startswith("unknown annotation")
    assert PREFIX + "rewrite-target" in message
    [(_, _, message)] = check_annotations({PREFIX + "zzzzzz": "1"})
    assert message == "unknown annotation"


def test_other_annotations_are_not_ours():
    assert check_annotations({"kubernetes.io/ingress.class": "nginx", "example.com/x": "1", "nginx.ingress.kubernetes.io": "x"}) == []


def test_non_string_value_is_an_error():
    [(_, severity, message)] = check_annotations({PREFIX + "use-regex": True})
    assert severity == "error" and "strings" in message
    assert parse_location_config({PREFIX + "use-regex": True}).use_regex is False


def test_several_problems_in_order():
    problems = check_annotations(
        {PREFIX + "canary": "true", PREFIX + "proxy-body-size": "x", PREFIX + "use-regex": "true", PREFIX + "nope": "1"}
    )
    assert [(k[len(PREFIX):], s) for k, s, _ in problems] == [
        ("canary", "warning"), ("proxy-body-size", "error"), ("nope", "warning")
    ]


def test_parse_location_config_combines_and_defaults():
    config = parse_location_config(
        {PREFIX + "use-regex": "true", PREFIX + "proxy-body-size": "8k", PREFIX + "proxy-read-timeout": "bad",
         PREFIX + "canary": "true", "other": "x"}
    )
    assert config == dataclasses.replace(LocationConfig(), use_regex=True, proxy_body_size=8192)
    assert parse_location_config({}) == LocationConfig()


def test_location_config_defaults_match_reference():
    config = LocationConfig()
    assert (config.proxy_body_size, config.proxy_connect_timeout, config.proxy_read_timeout,
            config.proxy_send_timeout, config.proxy_next_upstream, config.proxy_next_upstream_tries,
            config.load_balance) == (1048576, 5.0, 60.0, 60.0, frozenset({"error", "timeout"}), 3, "round_robin")


@pytest.mark.parametrize("spec", [s for s in ANNOTATIONS.values() if s.supported], ids=lambda s: s.name)
def test_documented_default_is_the_config_default(spec):
    assert spec.parse is not None and spec.field is not None and spec.doc
    if spec.default is None:
        assert getattr(LocationConfig(), spec.field) is None
    else:
        assert spec.parse(spec.default) == getattr(LocationConfig(), spec.field)


def test_unsupported_specs_have_docs_and_no_parser():
    for spec in ANNOTATIONS.values():
        assert spec.doc and spec.key == PREFIX + spec.name
        if not spec.supported:
            assert spec.parse is None and spec.field is None


def test_annotation_docs():
    docs = annotation_docs()
    assert len(docs) == len(ANNOTATIONS)
    assert docs[0][:3] == (PREFIX + "use-regex", True, "false")
    assert (PREFIX + "canary", False, None) in [d[:3] for d in docs]
    assert all(isinstance(doc, str) and doc for *_, doc in docs)


def test_annotation_error_carries_severity():
    assert AnnotationError("x").severity == "error"
    assert AnnotationError("x", "warning").severity == "warning"
