"""Affinity cookies in ingress-nginx's format, and the sticky / consistent-hash balancers."""

import calendar
import hashlib
import random
import zlib
from collections import Counter

import pytest

from ingressd.routing.affinity import (
    backend_key,
    cookie_time,
    cookie_value,
    endpoint_key,
    persistent_key,
    pinned_backend,
    same_site_none_compatible,
    set_cookie_header,
    split_cookie,
)
from ingressd.routing.annotations import LocationConfig
from ingressd.routing import balancer as balancer_module
from ingressd.routing.balancer import CONSISTENT_POINTS, Balancers
from ingressd.routing.endpoints import Endpoint

A, B, C, D, E = (Endpoint(f"10.0.0.{n}", 8080, f"pod-{n}") for n in range(1, 6))
ABC = (A, B, C)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


# --- cookie format ------------------------------------------------------------------------------------


def test_backend_key_is_md5_of_md5_of_the_upstream_name_and_the_name():
    assert backend_key("default-web-80") == md5(md5("default-web-80") + "default-web-80")
    assert backend_key("default-web-80") != backend_key("default-canary-80")


def test_persistent_key_is_the_salted_endpoint():
    assert persistent_key("default-web-80", "10.0.0.1:8080") == md5("default-web-8010.0.0.1:8080")


def test_cookie_value():
    assert cookie_value("k", "u") == "k|" + backend_key("u")


@pytest.mark.parametrize(
    "value, parts",
    [(None, (None, None)), ("", (None, None)), ("abc", ("abc", None)), ("abc|def", ("abc", "def")),
     ("|def", ("def", None)), ("a||b", ("a", "b")), ("|", (None, None)), ("a|b|c", ("a", "b"))],
)
def test_split_cookie_skips_empty_parts_like_lua(value, parts):
    assert split_cookie(value) == parts
    assert endpoint_key(value) == parts[0]


def test_pinned_backend():
    main = cookie_value("k", "default-main-80")
    canary = cookie_value("k", "default-canary-80")
    assert pinned_backend(main, "default-main-80", "default-canary-80") == "main"
    assert pinned_backend(canary, "default-main-80", "default-canary-80") == "canary"
    assert pinned_backend(canary, "default-main-80", None) is None  # legacy: the canary is not sticky
    assert pinned_backend(main, None, "default-canary-80") is None
    assert pinned_backend(cookie_value("k", "other"), "default-main-80", "default-canary-80") is None
    assert pinned_backend("k", "default-main-80", "default-canary-80") is None
    assert pinned_backend(None, "default-main-80", "default-canary-80") is None
    assert pinned_backend("", "default-main-80", None) is None


def test_cookie_time_is_nginx_format():
    stamp = calendar.timegm((2025, 11, 18, 11, 27, 35, 0, 0, 0))
    assert cookie_time(stamp) == "Tue, 18-Nov-25 11:27:35 GMT"
    assert cookie_time(calendar.timegm((2040, 1, 2, 3, 4, 5, 0, 0, 0))) == "Mon, 02-Jan-2040 03:04:05 GMT"


COOKIE = LocationConfig(affinity="cookie")


@pytest.mark.parametrize(
    "config, https, path, want",
    [
        (COOKIE, False, "/", "INGRESSCOOKIE=v; Path=/; HttpOnly"),
        (COOKIE, True, "/app", "INGRESSCOOKIE=v; Path=/app; Secure; HttpOnly"),
        (LocationConfig(affinity="cookie", session_cookie_secure=True), False, "/",
         "INGRESSCOOKIE=v; Path=/; Secure; HttpOnly"),
        (LocationConfig(affinity="cookie", session_cookie_name="route", session_cookie_path="/p",
                        session_cookie_max_age=60, session_cookie_domain="foo.com", session_cookie_samesite="Lax"),
         False, "/x", "route=v; Max-Age=60; Domain=foo.com; Path=/p; HttpOnly; SameSite=Lax"),
        (LocationConfig(affinity="cookie", session_cookie_expires=3600), False, "/",
         "INGRESSCOOKIE=v; Expires=Tue, 18-Nov-25 12:27:35 GMT; Path=/; HttpOnly"),
        (LocationConfig(affinity="cookie", session_cookie_samesite="lax"), False, "/",
         "INGRESSCOOKIE=v; Path=/; HttpOnly"),  # lua-resty-cookie drops a lowercase SameSite
        (LocationConfig(affinity="cookie", session_cookie_samesite="None"), True, "/",
         "INGRESSCOOKIE=v; Path=/; Secure; HttpOnly; SameSite=None"),
    ],
)
def test_set_cookie_header(config, https, path, want):
    now = calendar.timegm((2025, 11, 18, 11, 27, 35, 0, 0, 0)) + 0.9
    assert set_cookie_header(config, "v", path, https, now) == want


def test_conditional_same_site_none_drops_it_for_browsers_that_reject_it():
    config = LocationConfig(affinity="cookie", session_cookie_samesite="None",
                            session_cookie_conditional_samesite_none=True)
    old = "Mozilla/5.0 (iPhone; CPU iPhone OS 12_0 like Mac OS X) AppleWebKit/605.1.15"
    new = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
    assert "SameSite" not in set_cookie_header(config, "v", "/", True, 0, old)
    assert set_cookie_header(config, "v", "/", True, 0, new).endswith("; SameSite=None")
    assert set_cookie_header(config, "v", "/", True, 0, None).endswith("; SameSite=None")


@pytest.mark.parametrize(
    "agent, ok",
    [(None, True), ("", True), ("Chrome/51.0", False), ("Chrome/66.0", False), ("Chrome/80.0", True),
     ("(iPad; CPU OS 12_1 like Mac OS X)", False),
     ("(Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12 Safari/605", False),
     ("(Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36 Chrome/90.0 Safari/537.36", True)],
)
def test_same_site_none_compatible(agent, ok):
    assert same_site_none_compatible(agent) is ok


# --- sticky balancer ---------------------------------------------------------------------------------


def sticky(seed: int = 1) -> Balancers:
    return Balancers(clock=lambda: 1700000000.123, rand=random.Random(seed))


@pytest.mark.parametrize("mode", ["balanced", "persistent"])
def test_no_cookie_gets_an_endpoint_and_a_cookie_that_pins_it(mode):
    balancers = sticky()
    endpoint, cookie = balancers.pick_sticky("default-web-80", ABC, None, mode)
    assert endpoint in ABC and cookie is not None
    assert cookie.endswith("|" + backend_key("default-web-80"))
    for _ in range(50):
        assert balancers.pick_sticky("default-web-80", ABC, cookie, mode) == (endpoint, None)
    # another Balancers (another worker, a restart) reads the cookie the same way
    assert sticky(99).pick_sticky("default-web-80", ABC, cookie, mode) == (endpoint, None)


def test_balanced_cookie_is_a_random_key_on_the_ring():
    _, cookie = sticky().pick_sticky("u", ABC, None)
    key = split_cookie(cookie)[0]
    assert key.startswith("1700000001.123.") and key.count(".") == 3  # "<now+1>.<pid>.<random>"


def test_persistent_cookie_names_the_endpoint():
    endpoint, cookie = sticky().pick_sticky("u", ABC, None, "persistent")
    assert cookie == persistent_key("u", endpoint.address) + "|" + backend_key("u")


def test_new_clients_are_spread():
    for mode in ("balanced", "persistent"):
        balancers = sticky(3)
        seen = Counter(balancers.pick_sticky("u", ABC, None, mode)[0].pod for _ in range(300))
        assert set(seen) == {"pod-1", "pod-2", "pod-3"} and min(seen.values()) > 50, mode


def test_persistent_endpoint_gone_gives_a_new_endpoint_and_cookie():
    balancers = sticky()
    endpoint, cookie = balancers.pick_sticky("u", ABC, None, "persistent")
    remaining = tuple(e for e in ABC if e != endpoint)
    moved, new_cookie = balancers.pick_sticky("u", remaining, cookie, "persistent")
    assert moved in remaining and new_cookie is not None and new_cookie != cookie
    assert balancers.pick_sticky("u", remaining, new_cookie, "persistent") == (moved, None)
    # scaling up never moves a persistent session
    assert balancers.pick_sticky("u", remaining + (D, E), new_cookie, "persistent") == (moved, None)


def test_balanced_endpoint_gone_rebalances_the_key_and_keeps_the_cookie():
    balancers = sticky()
    endpoint, cookie = balancers.pick_sticky("u", ABC, None)
    remaining = tuple(e for e in ABC if e != endpoint)
    moved, new_cookie = balancers.pick_sticky("u", remaining, cookie)
    assert moved in remaining and new_cookie is None  # the key still maps somewhere: no Set-Cookie
    assert balancers.pick_sticky("u", remaining, cookie) == (moved, None)
    assert balancers.pick_sticky("u", ABC, cookie) == (endpoint, None)  # and back when it returns


def test_balanced_keys_held_by_other_endpoints_do_not_move():
    balancers = sticky()
    cookies = [balancers.pick_sticky("u", ABC, None) for _ in range(200)]
    for endpoint, cookie in cookies:
        if endpoint != A:
            assert balancers.pick_sticky("u", (B, C), cookie) == (endpoint, None)


def test_unreadable_persistent_cookie_is_replaced():
    endpoint, cookie = sticky().pick_sticky("u", ABC, "garbage|" + backend_key("u"), "persistent")
    assert endpoint in ABC and cookie is not None and not cookie.startswith("garbage")


def test_a_cookie_of_another_backend_is_read_by_its_endpoint_key_only():
    _, main_cookie = sticky().pick_sticky("main", ABC, None)
    endpoint, cookie = sticky().pick_sticky("canary", (D, E), main_cookie)
    assert endpoint in (D, E) and cookie is None  # sticky.lua reads only the key part


def test_retry_stays_on_the_pinned_endpoint_without_change_on_failure():
    balancers = sticky()
    endpoint, cookie = balancers.pick_sticky("u", ABC, None)
    tried = frozenset({endpoint.address})
    assert balancers.pick_sticky("u", ABC, cookie, exclude=tried) == (endpoint, None)


@pytest.mark.parametrize("mode", ["balanced", "persistent"])
def test_retry_with_change_on_failure_repins_elsewhere(mode):
    balancers = sticky()
    endpoint, cookie = balancers.pick_sticky("u", ABC, None, mode)
    tried = frozenset({endpoint.address})
    moved, new_cookie = balancers.pick_sticky("u", ABC, cookie, mode, exclude=tried, change_on_failure=True)
    assert moved != endpoint and new_cookie is not None
    assert balancers.pick_sticky("u", ABC, new_cookie, mode) == (moved, None)


@pytest.mark.parametrize("mode", ["balanced", "persistent"])
def test_first_pick_on_a_retry_avoids_tried_endpoints(mode, monkeypatch):
    # The balanced key has the worker's pid in it (sticky_balanced.lua); after 20 keys that all
    # land on tried endpoints it takes the last, as the Lua does. Some pids (about 1 in 100) meet
    # such a seed below, so the pid is fixed here like the clock and the random source.
    monkeypatch.setattr(balancer_module.os, "getpid", lambda: 4242)
    for seed in range(20):
        endpoint, cookie = sticky(seed).pick_sticky("u", ABC, None, mode, exclude=frozenset({A.address, B.address}))
        assert endpoint == C and cookie is not None


def test_every_endpoint_tried_still_picks_one():
    everything = frozenset(e.address for e in ABC)
    for mode in ("balanced", "persistent"):
        endpoint, cookie = sticky().pick_sticky("u", ABC, None, mode, exclude=everything)
        assert endpoint in ABC and cookie is not None


def test_sticky_without_endpoints():
    assert sticky().pick_sticky("u", (), "k|x") == (None, None)
    assert sticky().pick_sticky("u", (), None, "persistent") == (None, None)


# --- consistent hashing ---------------------------------------------------------------------------------


def keys(n: int) -> list[str]:
    return [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(n)]


def test_hash_same_key_same_endpoint_whatever_the_order_or_instance():
    one, other = Balancers(), Balancers()
    first = [one.pick_hash("u", ABC, key) for key in keys(500)]
    assert [one.pick_hash("u", ABC, key) for key in keys(500)] == first
    assert [other.pick_hash("u", (C, A, B), key) for key in keys(500)] == first
    assert [one.pick_hash("u", (A, B, C), key) for key in keys(500)] == first  # a rebuilt tuple


def test_hash_spreads_keys():
    balancers, endpoints = Balancers(), (A, B, C, D, E)
    counts = Counter(balancers.pick_hash("u", endpoints, key).pod for key in keys(20000))
    assert len(counts) == 5
    assert all(0.75 * 4000 < n < 1.25 * 4000 for n in counts.values()), counts


def test_removing_an_endpoint_moves_only_its_keys():
    balancers = Balancers()
    five, four = (A, B, C, D, E), (A, B, C, D)
    before = {key: balancers.pick_hash("u", five, key) for key in keys(5000)}
    after = {key: balancers.pick_hash("u", four, key) for key in keys(5000)}
    moved = [key for key in before if before[key] != after[key]]
    assert all(before[key] == E for key in moved)
    assert len(moved) == sum(1 for e in before.values() if e == E)
    assert Counter(after[key] for key in moved).keys() <= {A, B, C, D}
    assert len({after[key] for key in moved}) == 4  # E's keys are shared out, not dumped on one


def test_adding_an_endpoint_moves_about_its_share():
    balancers = Balancers()
    four, five = (A, B, C, D), (A, B, C, D, E)
    before = {key: balancers.pick_hash("u", four, key) for key in keys(5000)}
    after = {key: balancers.pick_hash("u", five, key) for key in keys(5000)}
    moved = [key for key in before if before[key] != after[key]]
    assert all(after[key] == E for key in moved)
    assert 0.12 < len(moved) / 5000 < 0.28  # about 1/5


def test_ring_points_follow_resty_chash():
    balancers = Balancers()
    balancers.pick_hash("u", (A,), "x")
    ring = balancers._rings["u"]
    assert len(ring.hashes) == CONSISTENT_POINTS and ring.hashes == sorted(ring.hashes)
    base, previous, expected = zlib.crc32(A.address.encode()), 0, []
    for _ in range(CONSISTENT_POINTS):
        previous = zlib.crc32(previous.to_bytes(4, "little"), base)
        expected.append(previous)
    assert ring.hashes == sorted(expected)


def test_key_goes_to_the_first_point_at_or_after_its_crc32():
    balancers = Balancers()
    balancers.pick_hash("u", ABC, "x")
    ring = balancers._rings["u"]
    for key in keys(200):
        h = zlib.crc32(key.encode())
        after = [i for i, point in enumerate(ring.hashes) if point >= h]
        assert balancers.pick_hash("u", ABC, key) == ring.owners[after[0] if after else 0]


def test_hash_duplicates_and_empty():
    assert Balancers().pick_hash("u", (), "k") is None
    assert Balancers().pick_hash("u", (A, Endpoint(A.ip, A.port, "other")), "k") == A
    assert Balancers().pick_hash("u", ABC, "") in ABC
    assert Balancers().pick_hash("u", ABC, "é\u20ac") in ABC


def test_retain_forgets_rings_and_node_maps():
    balancers = Balancers()
    balancers.pick_hash("gone", ABC, "k")
    balancers.pick_sticky("gone", ABC, None, "persistent")
    balancers.pick_hash("kept", ABC, "k")
    balancers.retain({"kept"})
    assert set(balancers._rings) == {"kept"} and balancers._node_maps == {}


def test_ring_is_rebuilt_only_when_addresses_change():
    balancers = Balancers()
    balancers.pick_hash("u", ABC, "k")
    ring = balancers._rings["u"]
    renamed = (Endpoint(A.ip, A.port, "new-pod"), B, C)
    assert balancers.pick_hash("u", renamed, "k") in renamed
    assert balancers._rings["u"] is ring and ring.endpoints is renamed
    assert any(owner.pod == "new-pod" for owner in ring.owners)
    balancers.pick_hash("u", (A, B), "k")
    assert balancers._rings["u"] is not ring
