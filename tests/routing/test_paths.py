import re

import pytest

from ingressd.routing.paths import (
    PathMatcher,
    compile_path_regex,
    expand_rewrite,
    match_exact,
    match_prefix,
    nginx_order,
)

from tests.reference_rows import REFERENCE_ROWS

# ImplementationSpecific is Prefix outside regex mode.
ALL_ROWS = REFERENCE_ROWS + [
    ("ImplementationSpecific", rule, request, want) for kind, rule, request, want in REFERENCE_ROWS if kind == "Prefix"
]


@pytest.mark.parametrize("path_type, rule, request_path, want", ALL_ROWS)
def test_reference_path_table(path_type, rule, request_path, want):
    predicate = match_exact if path_type == "Exact" else match_prefix
    assert predicate(rule, request_path) is want
    matcher = PathMatcher([(rule, path_type, "hit")])
    assert (matcher.match(request_path) is not None) is want


@pytest.mark.parametrize(
    "rules, request_path, want",
    [
        # Kubernetes docs "examples" with several paths: the longest match wins.
        ([("/", "Prefix"), ("/aaa", "Prefix")], "/aaa/ccc", "/aaa"),
        ([("/", "Prefix"), ("/aaa", "Prefix"), ("/aaa/bbb", "Prefix")], "/aaa/bbb", "/aaa/bbb"),
        ([("/", "Prefix"), ("/aaa", "Prefix"), ("/aaa/bbb", "Prefix")], "/ccc", "/"),
        ([("/aaa", "Prefix")], "/ccc", None),
        # On a tie Exact beats Prefix, whatever the order they were written in.
        ([("/foo", "Prefix"), ("/foo", "Exact")], "/foo", "Exact /foo"),
        ([("/foo", "Exact"), ("/foo", "Prefix")], "/foo", "Exact /foo"),
        ([("/foo", "Exact"), ("/foo", "Prefix")], "/foo/x", "/foo"),
        ([("/foo/", "Prefix"), ("/foo", "Exact")], "/foo", "Exact /foo"),
        ([("/foo", "Prefix"), ("/foo/", "Exact")], "/foo/", "Exact /foo/"),
        # Longer Prefix beats shorter Exact.
        ([("/a", "Exact"), ("/a/b", "Prefix")], "/a/b", "/a/b"),
        # Case-sensitive outside regex mode.
        ([("/foo", "Prefix")], "/FOO", None),
        ([("/foo", "Exact")], "/Foo", None),
        # Deep requests only probe as deep as the deepest rule.
        ([("/a/b", "Prefix")], "/a/b" + "/x" * 500, "/a/b"),
        ([("/a/b", "Prefix"), ("/", "Prefix")], "/a/c" + "/x" * 500, "/"),
        # Doubled slashes are segments like any other.
        ([("/foo", "Prefix")], "/foo//", "/foo"),
        ([("/foo", "Prefix")], "//foo", None),
        # Paths not starting with "/" never match, except under "/".
        ([("foo", "ImplementationSpecific")], "/foo", None),
        ([("/", "Prefix")], "*", "/"),
    ],
)
def test_several_paths(rules, request_path, want):
    matcher = PathMatcher(
        [(path, kind, f"Exact {path}" if kind == "Exact" else path) for path, kind in rules]
    )
    hit = matcher.match(request_path)
    assert (hit and hit[0]) == want
    assert hit is None or hit[1] is None  # no regex match object outside regex mode


def test_same_prefix_written_twice_first_wins():
    matcher = PathMatcher([("/a/", "Prefix", "first"), ("/a", "Prefix", "second")])
    assert matcher.match("/a/x") == ("first", None)


@pytest.mark.parametrize(
    "rules, request_path, want",
    [
        # Anchored at the start only, case-insensitive.
        ([("/foo", "Prefix")], "/foobar", "/foo"),
        ([("/foo", "Prefix")], "/FOO", "/foo"),
        ([("/foo", "Prefix")], "/x/foo", None),
        # Exact and Prefix alike become ^<path>.
        ([("/exact", "Exact")], "/exact/more", "/exact"),
        # Longest path is tried first and the first match wins (ingress-nginx e2e rewrite.go).
        ([("/foo", "Prefix"), ("/foo.+", "ImplementationSpecific")], "/foo", "/foo"),
        ([("/foo", "Prefix"), ("/foo.+", "ImplementationSpecific")], "/foo/bar", "/foo.+"),
        ([("/foo/bar/bar", "Prefix"), ("/foo/bar/[a-z]{3}", "ImplementationSpecific")], "/foo/bar/bar", "/foo/bar/[a-z]{3}"),
        # Same length: reverse lexicographic order, like ingress-nginx's sort.
        ([("/a.*", "ImplementationSpecific"), ("/abc", "Prefix")], "/abc", "/abc"),
        # An invalid regex is skipped, the others still work.
        ([("/bad(", "ImplementationSpecific"), ("/", "Prefix")], "/bad(", "/"),
        # PCRE named groups are accepted.
        ([("/u/(?<id>[0-9]+)", "ImplementationSpecific")], "/u/42", "/u/(?<id>[0-9]+)"),
    ],
)
def test_regex_mode(rules, request_path, want):
    matcher = PathMatcher([(path, kind, path) for path, kind in rules], regex=True)
    hit = matcher.match(request_path)
    assert (hit and hit[0]) == want
    if hit:
        assert isinstance(hit[1], re.Match)


def test_regex_mode_reports_invalid_paths():
    matcher = PathMatcher([("/ok", "Prefix", 1), ("/bad[", "Prefix", 2), ("/x{99999999999}", "Prefix", 3)], regex=True)
    assert set(matcher.invalid) == {"/bad[", "/x{99999999999}"}
    assert matcher.match("/ok")[0] == 1
    assert matcher.match("/bad[") is None


def test_compile_path_regex():
    assert compile_path_regex("/a(") is None
    pattern = compile_path_regex("/Api/(.*)")
    assert pattern.match("/api/x").group(1) == "x"


@pytest.mark.parametrize(
    "path, target, request_path, query, want",
    [
        ("/something(/|$)(.*)", "/$2", "/something/new", "", "/new"),
        ("/something(/|$)(.*)", "/$2", "/something", "", "/"),
        ("/something(/|$)(.*)", "/$2", "/something/", "", "/"),
        ("/something(/|$)(.*)", "/$2", "/something/new", "x=1", "/new?x=1"),
        ("/something(/|$)(.*)", "/$2", "/SOMETHING/a/b", "", "/a/b"),
        ("/foo/bar/(.+)", "/new/backend/$1", "/foo/bar/bar", "", "/new/backend/bar"),
        ("/something", "/", "/something/else", "", "/"),  # the whole URI is replaced
        ("/(a)(b)?", "/$1$2$3$9", "/a", "", "/a"),  # unmatched and missing groups are empty
        ("/(a)", "/$10", "/a", "", "/a0"),  # only $1..$9, like nginx
        ("/(a)", "/$x", "/a", "", "/$x"),
        ("/(a)", "/n?k=v", "/a", "x=1", "/n?k=v&x=1"),
        ("/(a)", "/n?", "/a", "x=1", "/n"),
    ],
)
def test_expand_rewrite(path, target, request_path, query, want):
    match = compile_path_regex(path).match(request_path)
    assert expand_rewrite(target, match, query) == want




def test_nginx_order_longest_first_then_reverse_lexicographic_stable():
    rules = [("/a", "Prefix", 1), ("/b", "Prefix", 2), ("/abc", "Prefix", 3), ("/b", "Exact", 4), ("/", "Prefix", 5)]
    assert [value for _, _, value in nginx_order(rules)] == [3, 2, 4, 1, 5]
