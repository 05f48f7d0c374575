import dataclasses

import pytest

from ingressd.routing.annotations import LocationConfig
from ingressd.routing.table import BackendRef, RouteMatch, backend_ref, build_route_table, is_served, oldest_first

from .builders import backend, http_path, ingress, rule
from .test_paths import ALL_ROWS


def service_of(table, host, target):
    match = table.match(host, target)
    return None if match is None or match.location.backend is None else match.location.backend.service


# --- the reference path table, end to end -------------------------------------------------------


@pytest.mark.parametrize("target, routed", [
    ("/a?b?c", True),  # the path ends at the first "?": the rest, "?" and all, is the query
    ("/a?", True),
    ("/a/?x=1", False),  # Exact /a: a trailing slash is another path
    ("/b?/a", False),
])
def test_the_query_is_not_part_of_the_path(target, routed):
    table = build_route_table([ingress("web", rule("foo.com", http_path("/a", "Exact", "svc")))])
    match = table.match("foo.com", target)
    assert (match is not None) is routed
    if routed:
        assert match.upstream_path == target


@pytest.mark.parametrize("path_type, rule_path, request_path, want", ALL_ROWS)
def test_reference_path_table_through_the_route_table(path_type, rule_path, request_path, want):
    table = build_route_table([ingress("web", rule("foo.com", http_path(rule_path, path_type, "svc")))])
    match = table.match("foo.com", request_path + "?q=1")
    assert (match is not None) is want
    if want:
        assert match.upstream_path == request_path + "?q=1"
        assert match.redirect is None
        assert match.location.path == rule_path and match.location.path_type == path_type


def test_location_fields():
    table = build_route_table(
        [ingress("web", rule("Foo.com", http_path("/api", "Prefix", "api", "http")), namespace="shop",
                 annotations={"proxy-body-size": "8k"})]
    )
    match = table.match("foo.com", "/api/x")
    assert match == RouteMatch(match.location, "/api/x")
    location = match.location
    assert (location.ingress_namespace, location.ingress_name, location.host, location.path, location.path_type) == (
        "shop", "web", "foo.com", "/api", "Prefix")
    assert location.backend == BackendRef("shop", "api", "http")
    assert location.backend.upstream_name == "shop-api-http"
    assert location.config == dataclasses.replace(LocationConfig(), proxy_body_size=8192)
    assert table.locations == (location,)
    assert table.ingresses_served == 1


def test_upstream_name():
    assert BackendRef("default", "web", 80).upstream_name == "default-web-80"


def test_path_defaults_to_slash_and_pathtype_to_implementation_specific():
    table = build_route_table([ingress("web", rule("foo.com", http_path(None, None)))])
    location = table.match("foo.com", "/anything").location
    assert (location.path, location.path_type) == ("/", "ImplementationSpecific")


def test_upstream_path_keeps_the_raw_target():
    table = build_route_table([ingress("web", rule("foo.com", http_path("/")))])
    assert table.match("foo.com", "/a%2Fb/../c?x=%20&y").upstream_path == "/a%2Fb/../c?x=%20&y"


# --- hosts ----------------------------------------------------------------------------------------

HOSTS = [
    ingress("exact", rule("foo.com", http_path("/", service="exact"))),
    ingress("wild", rule("*.foo.com", http_path("/", service="wild"))),
    ingress("bar", rule("bar.foo.com", http_path("/", service="bar"))),
    ingress("any", rule(None, http_path("/", service="any"))),
]


@pytest.mark.parametrize(
    "host, want",
    [
        ("foo.com", "exact"),
        ("FOO.COM", "exact"),
        ("foo.com:8080", "exact"),
        ("foo.com.", "exact"),
        ("x.foo.com", "wild"),
        ("X.Foo.Com:443", "wild"),
        ("bar.foo.com", "bar"),  # exact beats wildcard
        ("a.b.foo.com", "any"),  # wildcard matches one label only
        ("example.org", "any"),  # hostless rule is the catch-all
        ("127.0.0.1:80", "any"),
        ("", "any"),
    ],
)
def test_host_selection(host, want):
    assert service_of(build_route_table(HOSTS), host, "/x") == want


def test_nothing_matches_is_none():
    table = build_route_table([ingress("web", rule("foo.com", http_path("/api")))])
    assert table.match("bar.com", "/api") is None
    assert table.match("foo.com", "/other") is None
    assert build_route_table([]).match("foo.com", "/") is None


def test_known_host_does_not_fall_through_to_the_catch_all():
    # Like nginx server blocks: the host's server answers 404 for paths it does not have.
    table = build_route_table(
        [
            ingress("api", rule("foo.com", http_path("/api", service="api"))),
            ingress("any", rule(None, http_path("/other", service="any"))),
            ingress("default", default_backend=backend("fallback")),
        ]
    )
    assert service_of(table, "foo.com", "/api/v1") == "api"
    assert table.match("foo.com", "/other") is None
    assert table.match("foo.com", "/zzz") is None
    assert service_of(table, "bar.com", "/other") == "any"
    assert service_of(table, "bar.com", "/zzz") == "fallback"


def test_rule_without_http_still_claims_the_host():
    table = build_route_table(
        [ingress("tls-only", rule("foo.com")), ingress("any", rule(None, http_path("/", service="any")))]
    )
    assert table.match("foo.com", "/") is None
    assert service_of(table, "bar.com", "/") == "any"


# --- merging and conflicts ---------------------------------------------------------------------------


def test_ingresses_on_one_host_merge():
    table = build_route_table(
        [
            ingress("a", rule("foo.com", http_path("/a", service="a"))),
            ingress("b", rule("foo.com", http_path("/b", service="b")), namespace="other"),
            ingress("c", rule("FOO.com", http_path("/", service="c"))),
        ]
    )
    assert [service_of(table, "foo.com", p) for p in ("/a/1", "/b", "/c")] == ["a", "b", "c"]
    assert table.match("foo.com", "/b").location.backend == BackendRef("other", "b", 80)


@pytest.mark.parametrize(
    "first, second, want",
    [
        # Oldest creationTimestamp wins, whatever the list order.
        (("a", "default", "2024-01-02T00:00:00Z"), ("b", "default", "2024-01-01T00:00:00Z"), "b"),
        (("b", "default", "2024-01-01T00:00:00Z"), ("a", "default", "2024-01-02T00:00:00Z"), "b"),
        # Fractional seconds and offsets compare as times, not strings.
        (("a", "default", "2024-01-01T00:00:00.5Z"), ("b", "default", "2024-01-01T00:00:00Z"), "b"),
        (("a", "default", "2024-01-01T01:00:00+02:00"), ("b", "default", "2024-01-01T00:00:00Z"), "a"),
        # Equal timestamps: ingress-nginx's sortIngressSlice puts the greater namespace/name first.
        (("a", "default", "2024-01-01T00:00:00Z"), ("b", "default", "2024-01-01T00:00:00Z"), "b"),
        (("b", "default", "2024-01-01T00:00:00Z"), ("a", "default", "2024-01-01T00:00:00Z"), "b"),
        (("z", "aaa", "2024-01-01T00:00:00Z"), ("a", "bbb", "2024-01-01T00:00:00Z"), "a"),
        # A missing timestamp counts as oldest.
        (("a", "default", "2024-01-01T00:00:00Z"), ("b", "default", None), "b"),
    ],
)
def test_same_host_path_and_type_oldest_wins(first, second, want):
    ings = [
        ingress(name, rule("foo.com", http_path("/app", service=name)), namespace=ns, created=created)
        for name, ns, created in (first, second)
    ]
    table = build_route_table(ings)
    assert service_of(table, "foo.com", "/app") == want
    assert len(table.locations) == 1


def test_same_path_different_type_both_kept():
    table = build_route_table(
        [
            ingress("a", rule("foo.com", http_path("/app", "Prefix", "prefix")), created="2024-01-01T00:00:00Z"),
            ingress("b", rule("foo.com", http_path("/app", "Exact", "exact")), created="2024-01-02T00:00:00Z"),
        ]
    )
    assert service_of(table, "foo.com", "/app") == "exact"
    assert service_of(table, "foo.com", "/app/x") == "prefix"


def test_oldest_first_order():
    ings = [
        ingress("b", created="2024-01-01T00:00:00Z"),
        ingress("c", created="2023-01-01T00:00:00Z"),
        ingress("a", created="2024-01-01T00:00:00Z"),
        ingress("x", created="not a time"),
    ]
    assert [i["metadata"]["name"] for i in oldest_first(ings)] == ["x", "c", "b", "a"]


# --- defaultBackend -----------------------------------------------------------------------------------


def test_default_backend_without_rules_is_the_catch_all():
    table = build_route_table(
        [
            ingress("site", rule("foo.com", http_path("/", service="site"))),
            ingress("default", default_backend=backend("fallback", "http"), annotations={"rewrite-target": "/x", "app-root": "/app", "proxy-body-size": "2m"}),
        ]
    )
    match = table.match("unknown.org:8080", "/any/path?x=1")
    assert match.location.backend == BackendRef("default", "fallback", "http")
    assert (match.location.host, match.location.path, match.location.path_type) == ("", "/", "Prefix")
    # The catch-all keeps the Ingress's settings but not its rewrites (as ingress-nginx does).
    assert match.upstream_path == "/any/path?x=1" and match.redirect is None
    assert match.location.config.proxy_body_size == 2 * 1048576
    assert table.match("unknown.org", "/").redirect is None
    assert service_of(table, "foo.com", "/x") == "site"


def test_oldest_rule_less_default_backend_wins():
    table = build_route_table(
        [
            ingress("new", default_backend=backend("new"), created="2024-02-01T00:00:00Z"),
            ingress("old", default_backend=backend("old"), created="2024-01-01T00:00:00Z"),
        ]
    )
    assert service_of(table, "x.org", "/") == "old"


def test_rule_less_default_backend_beats_a_hostless_slash_prefix_but_not_longer_paths():
    table = build_route_table(
        [
            ingress("default", default_backend=backend("fallback")),
            ingress("any", rule(None, http_path("/", service="any"), http_path("/api", service="api"))),
        ]
    )
    assert service_of(table, "x.org", "/") == "fallback"
    assert service_of(table, "x.org", "/api/1") == "api"


def test_default_backend_with_rules_is_the_fallback_of_its_hosts_only():
    table = build_route_table(
        [
            ingress("web", rule("foo.com", http_path("/api", service="api")), rule("*.bar.com"),
                    default_backend=backend("web-default")),
            ingress("other", rule("other.com", http_path("/api", service="other"))),
        ]
    )
    assert service_of(table, "foo.com", "/api") == "api"
    assert service_of(table, "foo.com", "/elsewhere") == "web-default"
    assert service_of(table, "x.bar.com", "/") == "web-default"
    fallback = table.match("foo.com", "/elsewhere").location
    assert (fallback.host, fallback.path, fallback.path_type, fallback.ingress_name) == ("foo.com", "/", "Prefix", "web")
    assert table.match("other.com", "/elsewhere") is None
    assert table.match("unknown.org", "/") is None


def test_host_fallback_loses_to_a_slash_prefix_rule_of_another_ingress():
    table = build_route_table(
        [
            ingress("web", rule("foo.com", http_path("/api", service="api")), default_backend=backend("web-default"),
                    created="2024-01-01T00:00:00Z"),
            ingress("root", rule("foo.com", http_path("/", service="root")), created="2024-02-01T00:00:00Z"),
        ]
    )
    assert service_of(table, "foo.com", "/elsewhere") == "root"


def test_host_fallback_is_decided_by_the_oldest_ingress_of_the_host():
    # ingress-nginx creates the host's server, and its "/" fallback, from the oldest Ingress.
    table = build_route_table(
        [
            ingress("old", rule("foo.com", http_path("/a", service="a")), created="2024-01-01T00:00:00Z"),
            ingress("new", rule("foo.com", http_path("/b", service="b")), default_backend=backend("new-default"),
                    created="2024-02-01T00:00:00Z"),
        ]
    )
    assert table.match("foo.com", "/elsewhere") is None


def test_hostless_rules_do_not_take_the_ingress_default_backend():
    table = build_route_table([ingress("any", rule(None, http_path("/api", service="api")), default_backend=backend("d"))])
    assert service_of(table, "x.org", "/api") == "api"
    assert table.match("x.org", "/other") is None


# --- regex mode, rewrite-target, app-root --------------------------------------------------------------


def test_use_regex_on_one_ingress_turns_the_whole_host_regex():
    table = build_route_table(
        [
            ingress("plain", rule("foo.com", http_path("/foo", "Prefix", "plain"))),
            ingress("regex", rule("foo.com", http_path("/bar/[0-9]+", "ImplementationSpecific", "regex")),
                    annotations={"use-regex": "true"}),
            ingress("elsewhere", rule("other.com", http_path("/foo", "Prefix", "elsewhere"))),
        ]
    )
    assert service_of(table, "foo.com", "/FOO") == "plain"  # case-insensitive now
    assert service_of(table, "foo.com", "/foobar") == "plain"  # anchored at the start only
    assert service_of(table, "foo.com", "/bar/42/x") == "regex"
    assert service_of(table, "foo.com", "/bar/x") is None
    assert table.match("foo.com", "/bar/42").upstream_path == "/bar/42"  # no rewrite-target: unchanged
    assert service_of(table, "other.com", "/foobar") is None  # other hosts keep Prefix semantics


def test_rewrite_target_turns_regex_mode_on_and_rewrites():
    table = build_route_table(
        [
            ingress("plain", rule("foo.com", http_path("/foo", "Prefix", "plain"))),
            ingress("rewrite", rule("foo.com", http_path("/foo.+", "ImplementationSpecific", "rewrite")),
                    annotations={"rewrite-target": "/new/backend"}),
        ]
    )
    assert (service_of(table, "foo.com", "/foo"), table.match("foo.com", "/foo").upstream_path) == ("plain", "/foo")
    match = table.match("foo.com", "/foo/bar?x=1")
    assert (match.location.backend.service, match.upstream_path) == ("rewrite", "/new/backend?x=1")


@pytest.mark.parametrize(
    "path, target, request_target, want",
    [
        ("/something(/|$)(.*)", "/$2", "/something/new", "/new"),
        ("/something(/|$)(.*)", "/$2", "/something", "/"),
        ("/something(/|$)(.*)", "/$2", "/something/new?x=1", "/new?x=1"),
        ("/something(/|$)(.*)", "/$2", "/Something/New", "/New"),
        ("/foo/bar/(.+)", "/new/backend/$1", "/foo/bar/bar", "/new/backend/bar"),
        ("/something", "/", "/something/else?a=b", "/?a=b"),
        ("/api(/|$)(.*)", "/v2/$2", "/api/users/1", "/v2/users/1"),
    ],
)
def test_rewrite_target(path, target, request_target, want):
    table = build_route_table(
        [ingress("web", rule("foo.com", http_path(path, "ImplementationSpecific")), annotations={"rewrite-target": target})]
    )
    match = table.match("foo.com", request_target)
    assert (match.upstream_path, match.redirect) == (want, None)


def test_rewrite_target_equal_to_the_path_is_no_rewrite_and_no_regex():
    table = build_route_table(
        [ingress("web", rule("foo.com", http_path("/app")), annotations={"rewrite-target": "/app"})]
    )
    assert table.match("foo.com", "/app/x").upstream_path == "/app/x"
    assert table.match("foo.com", "/APP") is None  # still case-sensitive Prefix
    assert table.match("foo.com", "/appx") is None


def test_rewrite_target_to_a_url_redirects():
    table = build_route_table(
        [ingress("web", rule("foo.com", http_path("/old(/|$)(.*)")), annotations={"rewrite-target": "https://new.com/$2"})]
    )
    assert table.match("foo.com", "/old/x?y=1").redirect == (302, "https://new.com/x?y=1")


def test_regex_mode_first_match_wins_not_longest():
    # ingress-nginx e2e "should fail to use longest match for documented warning".
    table = build_route_table(
        [
            ingress("plain", rule("foo.com", http_path("/foo/bar/bar", "Prefix", "plain"))),
            ingress("regex", rule("foo.com", http_path("/foo/bar/[a-z]{3}", "ImplementationSpecific", "regex")),
                    annotations={"use-regex": "true", "rewrite-target": "/new/backend"}),
        ]
    )
    match = table.match("foo.com", "/foo/bar/bar")
    assert (match.location.backend.service, match.upstream_path) == ("regex", "/new/backend")


def test_invalid_regex_path_is_skipped():
    table = build_route_table(
        [ingress("web", rule("foo.com", http_path("/bad(", "ImplementationSpecific", "bad"), http_path("/", "Prefix", "root")),
                 annotations={"use-regex": "true"})]
    )
    assert service_of(table, "foo.com", "/bad(") == "root"


def test_regex_mode_on_the_catch_all_server():
    table = build_route_table(
        [ingress("any", rule(None, http_path("/v[0-9]+/(.*)", "ImplementationSpecific")), annotations={"rewrite-target": "/$1"})]
    )
    assert table.match("whatever.org", "/v2/users").upstream_path == "/users"


@pytest.mark.parametrize(
    "target, redirect",
    [("/", (302, "/app")), ("/?x=1", (302, "/app")), ("/app", None), ("/other", None)],
)
def test_app_root(target, redirect):
    table = build_route_table([ingress("web", rule("foo.com", http_path("/")), annotations={"app-root": "/app"})])
    match = table.match("foo.com", target)
    assert match.redirect == redirect
    assert match.upstream_path == target


def test_app_root_applies_to_the_whole_host_and_only_that_host():
    table = build_route_table(
        [
            ingress("root", rule("foo.com", http_path("/", service="root"))),
            ingress("app", rule("foo.com", http_path("/app", service="app")), annotations={"app-root": "/app"}),
            ingress("other", rule("other.com", http_path("/", service="other"))),
        ]
    )
    match = table.match("foo.com", "/")
    assert match.redirect == (302, "/app") and match.location.ingress_name == "app"
    assert table.match("foo.com", "/x").redirect is None
    assert table.match("other.com", "/").redirect is None


def test_invalid_app_root_is_ignored():
    table = build_route_table([ingress("web", rule("foo.com", http_path("/")), annotations={"app-root": "app"})])
    assert table.match("foo.com", "/").redirect is None


# --- classes, canaries, odd input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "class_name, annotation, served",
    [
        (None, None, True),
        ("nginx", None, True),
        ("traefik", None, False),
        ("custom-nginx", None, True),  # an IngressClass whose controller is ingress-nginx
        ("custom-other", None, False),
        (None, "nginx", True),
        (None, "traefik", False),
        ("nginx", "traefik", True),  # ingressClassName wins over the annotation
        ("traefik", "nginx", False),
    ],
)
def test_ingress_class(class_name, annotation, served):
    classes = [
        {"kind": "IngressClass", "metadata": {"name": "custom-nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}},
        {"kind": "IngressClass", "metadata": {"name": "custom-other"}, "spec": {"controller": "traefik.io/ingress-controller"}},
    ]
    ing = ingress("web", rule("foo.com", http_path("/")), class_name=class_name,
                  annotations={"kubernetes.io/ingress.class": annotation} if annotation else None)
    table = build_route_table([ing], classes)
    assert (table.match("foo.com", "/") is not None) is served
    assert table.ingresses_served == int(served)


def test_other_ingress_class_name():
    ing = ingress("web", rule("foo.com", http_path("/")), class_name="internal")
    assert build_route_table([ing], ingress_class="internal").match("foo.com", "/") is not None
    assert build_route_table([ing]).match("foo.com", "/") is None
    assert is_served(ing, "internal") and not is_served(ing, "nginx")


def test_canary_ingress_creates_no_routes():
    table = build_route_table(
        [
            ingress("main", rule("foo.com", http_path("/", service="main")), created="2024-01-02T00:00:00Z"),
            ingress("canary", rule("foo.com", http_path("/", service="canary"), http_path("/only-canary", service="canary")),
                    annotations={"canary": "true", "canary-weight": "100", "use-regex": "true"},
                    default_backend=backend("canary"), created="2024-01-01T00:00:00Z"),
            ingress("not-canary", rule("bar.com", http_path("/", service="bar")), annotations={"canary": "false"}),
        ]
    )
    assert service_of(table, "foo.com", "/") == "main"
    assert service_of(table, "foo.com", "/only-canary") == "main"
    assert service_of(table, "foo.com", "/FOO") == "main"  # its use-regex does not count either
    assert service_of(table, "bar.com", "/") == "bar"
    assert table.ingresses_served == 3


def test_resource_backend_has_no_backend_ref():
    ing = ingress("web", rule("foo.com", {"path": "/static", "pathType": "Prefix",
                                            "backend": {"resource": {"kind": "StorageBucket", "name": "b"}}}))
    match = build_route_table([ing]).match("foo.com", "/static/x")
    assert match is not None and match.location.backend is None


@pytest.mark.parametrize(
    "value, want",
    [
        (backend("svc", 8080), BackendRef("ns", "svc", 8080)),
        (backend("svc", "http"), BackendRef("ns", "svc", "http")),
        ({"service": {"name": "svc", "port": {"number": True}}}, None),
        ({"service": {"name": "svc", "port": {}}}, None),
        ({"service": {"port": {"number": 80}}}, None),
        ({"resource": {"kind": "X", "name": "y"}}, None),
        (None, None),
        ("junk", None),
    ],
)
def test_backend_ref(value, want):
    assert backend_ref("ns", value) == want


@pytest.mark.parametrize(
    "junk",
    [
        {},
        {"metadata": None, "spec": None},
        {"metadata": {"name": "x"}, "spec": {"rules": "nope"}},
        {"metadata": {"name": "x"}, "spec": {"rules": [None, 3, {"host": 5, "http": {"paths": [None, {"path": 7}]}}]}},
        {"metadata": {"name": "x", "annotations": {"nginx.ingress.kubernetes.io/use-regex": 1}}, "spec": {"rules": [{"http": "x"}]}},
        "not a dict",
    ],
)
def test_malformed_ingresses_never_raise(junk):
    table = build_route_table([junk, ingress("ok", rule("foo.com", http_path("/")))])
    assert table.match("foo.com", "/") is not None
    table.match("x", "/")
