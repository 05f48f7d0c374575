import dataclasses

import pytest

from ingressd.routing.annotations import (
    ANNOTATIONS,
    CANARY_FIELD,
    PREFIX,
    AnnotationError,
    LocationConfig,
    annotation_docs,
    check_annotations,
    parse_location_config,
)
from ingressd.routing.canary import CanaryConfig

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
    ("upstream-hash-by", "$remote_addr", "upstream_hash_by", "$remote_addr"),
    ("upstream-hash-by", "$request_uri$host", "upstream_hash_by", "$request_uri$host"),
    ("upstream-hash-by", "${request_uri}-text-value", "upstream_hash_by", "${request_uri}-text-value"),
    ("affinity", "cookie", "affinity", "cookie"),
    ("affinity", " cookie ", "affinity", "cookie"),
    ("affinity-mode", "persistent", "affinity_mode", "persistent"),
    ("affinity-mode", "balanced", "affinity_mode", "balanced"),
    ("affinity-canary-behavior", "legacy", "affinity_canary_behavior", "legacy"),
    ("session-cookie-name", "route", "session_cookie_name", "route"),
    ("session-cookie-path", "/app", "session_cookie_path", "/app"),
    ("session-cookie-domain", "example.com", "session_cookie_domain", "example.com"),
    ("session-cookie-expires", "172800", "session_cookie_expires", 172800),
    ("session-cookie-max-age", "0", "session_cookie_max_age", 0),
    ("session-cookie-max-age", "-1", "session_cookie_max_age", -1),
    ("session-cookie-secure", "true", "session_cookie_secure", True),
    ("session-cookie-samesite", "None", "session_cookie_samesite", "None"),
    ("session-cookie-samesite", "lax", "session_cookie_samesite", "lax"),  # kept as written (then dropped)
    ("session-cookie-conditional-samesite-none", "true", "session_cookie_conditional_samesite_none", True),
    ("session-cookie-change-on-failure", "true", "session_cookie_change_on_failure", True),
]


def affinity(annotations: dict[str, str]) -> dict[str, str]:
    """Session-cookie annotations only count with affinity: cookie (the checks say so otherwise)."""
    return {PREFIX + "affinity": "cookie", **annotations}


@pytest.mark.parametrize("name, value, field, want", VALID)
def test_valid_values(name, value, field, want):
    key = PREFIX + name
    annotations = affinity({key: value}) if name.startswith(("session-cookie-", "affinity-mode")) else {key: value}
    assert check_annotations(annotations) == []
    assert getattr(parse_location_config(annotations), field) == want


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
    ("upstream-hash-by", "$remote_addr;", "nginx variables"),
    ("upstream-hash-by", "", "nginx variables"),
    ("affinity", "ip", "must be one of cookie"),
    ("affinity", "Cookie", "must be one of cookie"),  # case-sensitive, as ingress-nginx
    ("affinity-mode", "sticky", "balanced, persistent"),
    ("affinity-canary-behavior", "always", "sticky, legacy"),
    ("session-cookie-name", "my;cookie", "letters, digits"),
    ("session-cookie-name", "", "letters, digits"),
    ("session-cookie-path", "/a b<", "a path"),
    ("session-cookie-expires", "1h", "whole seconds"),
    ("session-cookie-max-age", "01", "whole seconds"),
    ("session-cookie-secure", "yes", '"true" or "false"'),
    ("session-cookie-samesite", "sometimes", "none, lax, strict"),
    ("canary", "yes", '"true" or "false"'),
]


@pytest.mark.parametrize("name, value, needle", INVALID)
def test_invalid_values_are_errors_naming_the_accepted_values(name, value, needle):
    key = PREFIX + name
    annotations = affinity({key: value}) if name.startswith(("session-cookie-", "affinity-mode")) else {key: value}
    [(got_key, severity, message)] = check_annotations(annotations)
    assert (got_key, severity) == (key, "error")
    assert needle in message
    field = ANNOTATIONS[name].field
    if not field.startswith("canary"):
        assert getattr(parse_location_config(annotations), field) == getattr(LocationConfig(), field)
    else:
        assert parse_location_config(annotations).canary is None


@pytest.mark.parametrize("method", ["chash", "chashsubset", "sticky_balanced", "sticky_persistent"])
def test_ingress_nginx_load_balancers_not_in_ingressd_warn_and_use_round_robin(method):
    key = PREFIX + "load-balance"
    [(_, severity, message)] = check_annotations({key: method})
    assert severity == "warning" and "not implemented by ingressd yet" in message
    assert parse_location_config({key: method}).load_balance == "round_robin"


@pytest.mark.parametrize(
    "name",
    ["upstream-hash-by-subset", "upstream-hash-by-subset-size", "service-upstream",
     "enable-cors", "auth-url",
     "configuration-snippet"],
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
        {PREFIX + "enable-cors": "true", PREFIX + "proxy-body-size": "x", PREFIX + "use-regex": "true",
         PREFIX + "nope": "1"}
    )
    assert [(k[len(PREFIX):], s) for k, s, _ in problems] == [
        ("enable-cors", "warning"), ("proxy-body-size", "error"), ("nope", "warning")
    ]


def test_parse_location_config_combines_and_defaults():
    config = parse_location_config(
        {PREFIX + "use-regex": "true", PREFIX + "proxy-body-size": "8k", PREFIX + "proxy-read-timeout": "bad",
         "other": "x"}
    )
    assert config == dataclasses.replace(LocationConfig(), use_regex=True, proxy_body_size=8192)
    assert parse_location_config({}) == LocationConfig()


def test_location_config_defaults_match_reference():
    config = LocationConfig()
    assert (config.proxy_body_size, config.proxy_connect_timeout, config.proxy_read_timeout,
            config.proxy_send_timeout, config.proxy_next_upstream, config.proxy_next_upstream_tries,
            config.load_balance) == (1048576, 5.0, 60.0, 60.0, frozenset({"error", "timeout"}), 3, "round_robin")


def default_of(field: str):
    """The default behind a spec's field: LocationConfig's, CanaryConfig's for "canary.*", and
    for "canary" itself whether the Ingress is a canary."""
    if field == "canary":
        return LocationConfig().canary is not None
    if field.startswith(CANARY_FIELD):
        return getattr(CanaryConfig(), field[len(CANARY_FIELD):])
    return getattr(LocationConfig(), field)


@pytest.mark.parametrize("spec", [s for s in ANNOTATIONS.values() if s.supported], ids=lambda s: s.name)
def test_documented_default_is_the_config_default(spec):
    assert spec.parse is not None and spec.field is not None and spec.doc
    if spec.default is None:
        assert default_of(spec.field) is None
    else:
        assert spec.parse(spec.default) == default_of(spec.field)


def test_unsupported_specs_have_docs_and_no_parser():
    for spec in ANNOTATIONS.values():
        assert spec.doc and spec.key == PREFIX + spec.name
        if not spec.supported:
            assert spec.parse is None and spec.field is None


def test_annotation_docs():
    docs = annotation_docs()
    assert len(docs) == len(ANNOTATIONS)
    assert (PREFIX + "use-regex", True, "false") in [d[:3] for d in docs]
    assert (PREFIX + "ssl-redirect", True, "true") in [d[:3] for d in docs]
    assert (PREFIX + "canary", True, "false") in [d[:3] for d in docs]
    assert (PREFIX + "enable-cors", False, None) in [d[:3] for d in docs]
    assert all(isinstance(doc, str) and doc for *_, doc in docs)


def test_annotation_error_carries_severity():
    assert AnnotationError("x").severity == "error"
    assert AnnotationError("x", "warning").severity == "warning"
