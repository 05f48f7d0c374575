import pytest

from ingressd.routing.hosts import HostIndex, is_wildcard, match_host, normalize_host, wildcard_parent


@pytest.mark.parametrize(
    "value, want",
    [
        ("foo.com", "foo.com"),
        ("Foo.COM", "foo.com"),
        ("foo.com:8080", "foo.com"),
        ("FOO.com:80", "foo.com"),
        ("foo.com.", "foo.com"),
        ("foo.com.:443", "foo.com"),
        (" foo.com ", "foo.com"),
        ("127.0.0.1:8080", "127.0.0.1"),
        ("[::1]:80", "::1"),
        ("[::1]", "::1"),
        ("[2001:DB8::1]:443", "2001:db8::1"),
        ("::1", "::1"),
        ("*.Foo.com", "*.foo.com"),
        ("", ""),
    ],
)
def test_normalize_host(value, want):
    assert normalize_host(value) == want


@pytest.mark.parametrize(
    "rule_host, request_host, want",
    [
        ("foo.com", "foo.com", True),
        ("foo.com", "FOO.com:8080", True),  # case-insensitive, port ignored
        ("Foo.Com", "foo.com", True),
        ("foo.com", "bar.com", False),
        ("foo.com", "www.foo.com", False),
        ("*.foo.com", "bar.foo.com", True),
        ("*.foo.com", "BAR.foo.com:443", True),
        ("*.foo.com", "baz.bar.foo.com", False),  # exactly one extra label
        ("*.foo.com", "foo.com", False),
        ("*.foo.com", ".foo.com", False),
        ("", "anything.example", True),  # no host: catch-all
        ("", "", True),
    ],
)
def test_match_host(rule_host, request_host, want):
    assert match_host(rule_host, request_host) is want


def test_wildcard_helpers():
    assert is_wildcard("*.foo.com") and not is_wildcard("foo.com")
    assert wildcard_parent("a.foo.com") == "foo.com"
    assert wildcard_parent("com") is None
    assert wildcard_parent(".com") is None


@pytest.fixture
def index():
    return HostIndex({"foo.com": "exact", "*.foo.com": "wild", "Bar.foo.com": "bar exact"}, catch_all="any")


@pytest.mark.parametrize(
    "host, want",
    [
        ("foo.com", "exact"),
        ("FOO.COM:80", "exact"),
        ("x.foo.com", "wild"),
        ("bar.foo.com", "bar exact"),  # exact beats wildcard
        ("BAR.FOO.COM.", "bar exact"),
        ("a.b.foo.com", "any"),  # wildcard is one label: falls to the catch-all
        ("other.org", "any"),
        ("", "any"),
        ("[::1]:8080", "any"),
    ],
)
def test_host_index_lookup(index, host, want):
    assert index.lookup(host) == want


def test_host_index_without_catch_all():
    index = HostIndex({"foo.com": 1})
    assert index.lookup("foo.com") == 1
    assert index.lookup("bar.com") is None


def test_host_index_rejects_hostless_entries():
    with pytest.raises(ValueError):
        HostIndex({"": 1})


def test_lookup_remembers_hosts_as_received_but_stays_bounded():
    from ingressd.routing.hosts import HostIndex

    index = HostIndex({"a.test": "A", "*.w.test": "W"}, catch_all="ANY")
    for _ in range(2):  # the second round answers from what was remembered
        assert index.lookup("A.TEST:80") == "A"
        assert index.lookup("x.w.test") == "W"
        assert index.lookup("other.test") == "ANY"
    for i in range(HostIndex.SEEN_LIMIT * 2):
        assert index.lookup(f"h{i}.test") == "ANY"
    assert len(index._seen) <= HostIndex.SEEN_LIMIT


def test_unknown_hosts_do_not_push_out_known_ones():
    index = HostIndex({"a.test": "A"})
    assert index.lookup("A.test:8080") == "A"
    for i in range(3 * HostIndex.SEEN_LIMIT):
        assert index.lookup(f"scan{i}.test") is None
        assert index.lookup(f"scan{i}.test") is None  # remembered as unknown
    assert index._seen == {"A.test:8080": "A"}
    assert len(index._unknown) <= HostIndex.SEEN_LIMIT


@pytest.mark.parametrize("hosts, limit", [(1, 1024), (256, 1024), (257, 1028), (10_000, 40_000)])
def test_a_large_table_remembers_four_spellings_per_host(hosts, limit):
    index = HostIndex({f"h{i}.test": i for i in range(hosts)})
    assert index._seen_limit == limit


def test_remembered_answers_are_the_answers():
    entries = {f"h{i}.test": f"H{i}" for i in range(300)} | {"*.w.test": "W"}
    index, fresh = HostIndex(entries, catch_all="ANY"), HostIndex(entries, catch_all="ANY")
    requests = [f"H{i % 300}.test:80" for i in range(3000)] + [f"x{i}.w.test" for i in range(3000)] + ["nope.org"]
    for host in requests * 2:
        assert index.lookup(host) == fresh._lookup(host)
    assert len(index._seen) <= index._seen_limit
