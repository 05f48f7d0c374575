import errno
import os
import socket
import sys
from ipaddress import IPv4Network

import pytest

from ingressd.pods.ips import (
    AVOIDED,
    CLAIM_PORT,
    PodCIDRError,
    PodIPPool,
    address_configured,
    claim_pod_block,
    derived_blocks,
    loopback_advice,
    parse_pod_cidr,
    state_key,
)


def test_addresses_start_at_one_and_skip_network_and_broadcast_octets():
    pool = PodIPPool("127.1.0.0")
    addresses = [pool.allocate() for _ in range(256)]
    assert addresses[:2] == ["127.1.0.1", "127.1.0.2"]
    assert addresses[253] == "127.1.0.254"
    assert addresses[254:] == ["127.1.1.1", "127.1.1.2"]
    assert len(set(addresses)) == 256


def test_freed_addresses_are_reused_only_after_wrapping():
    pool = PodIPPool("127.1.0.0", size=4)  # .1 .2 .3 usable (.0 skipped)
    a, b, c = pool.allocate(), pool.allocate(), pool.allocate()
    pool.release(b)
    assert pool.allocate() == b  # wrapped around to the only free one
    with pytest.raises(RuntimeError):
        pool.allocate()
    pool.release(a)
    assert pool.allocate() == a
    assert pool.allocated == {a, b, c}


def test_range_must_be_loopback():
    with pytest.raises(ValueError):
        PodIPPool("10.0.0.0")
    with pytest.raises(ValueError):
        PodIPPool("127.255.255.0", size=512)


# -- a block per instance ---------------------------------------------------------------------


def test_a_pool_over_a_network_never_hands_out_its_network_or_broadcast_address():
    pool = PodIPPool.for_network(IPv4Network("127.9.8.16/29"))
    assert [pool.allocate() for _ in range(6)] == [f"127.9.8.{i}" for i in range(17, 23)]
    with pytest.raises(RuntimeError):
        pool.allocate()


@pytest.mark.parametrize(("text", "want"), [
    ("127.10.0.0/24", "127.10.0.0/24"),
    (" 127.200.16.0/20 ", "127.200.16.0/20"),
    ("127.1.2.0/30", "127.1.2.0/30"),
])
def test_pod_cidr_accepted(text, want):
    assert parse_pod_cidr(text) == IPv4Network(want)


@pytest.mark.parametrize(("text", "message"), [
    ("10.0.0.0/24", "not inside 127.0.0.0/8"),
    ("126.0.0.0/7", "not inside 127.0.0.0/8"),
    ("127.0.0.0/8", "holds 127.0.0.1"),
    ("127.0.0.0/24", "holds 127.0.0.1"),
    ("127.10.0.1/24", "did you mean 127.10.0.0/24"),
    ("127.10.0.0/31", "too small"),
    ("::1/128", "not inside 127.0.0.0/8"),
    ("127.10.0.0", "too small"),  # a single address: /32
    ("localhost", "not a CIDR block"),
    ("127.10.0.0/33", "not a CIDR block"),
])
def test_pod_cidr_rejected_with_a_reason(text, message):
    with pytest.raises(ValueError, match=message):
        parse_pod_cidr(text)


def test_the_state_dir_is_made_absolute_before_hashing(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    in_a = state_key(".ingressd")
    monkeypatch.chdir(tmp_path / "b")
    in_b = state_key(".ingressd")
    assert in_a == os.path.realpath(tmp_path / "a" / ".ingressd")
    assert in_a != in_b
    assert next(derived_blocks(in_a)) != next(derived_blocks(in_b))


@pytest.mark.parametrize("key", ["/home/u/demo/.ingressd", "/tmp/x/state", "", "/"])
def test_derived_blocks_are_stable_distinct_and_avoid_well_known_addresses(key):
    blocks = list(derived_blocks(key))
    assert blocks[:3] == list(derived_blocks(key))[:3]  # the same key, the same order
    assert len(set(blocks)) == len(blocks) == 256 * 16 - 3 * 16
    assert all(b.prefixlen == 20 and b.subnet_of(IPv4Network("127.0.0.0/8")) for b in blocks)
    assert not any(b.overlaps(a) for b in blocks for a in AVOIDED)


class FakeBinder:
    """Blocks in `taken` answer EADDRINUSE; the rest are claimed (a socketpair end stands in)."""

    def __init__(self, taken=(), error=errno.EADDRINUSE):
        self.taken, self.error, self.tried, self.sockets = set(taken), error, [], []

    def __call__(self, network):
        self.tried.append(network)
        if network in self.taken:
            raise OSError(self.error, os.strerror(self.error))
        a, b = socket.socketpair()
        b.close()
        self.sockets.append(a)
        return a

    def close(self):
        for s in self.sockets:
            s.close()


@pytest.mark.parametrize(("taken_first", "want_index"), [(0, 0), (1, 1), (3, 3)])
def test_a_taken_derived_block_moves_on_to_the_next(taken_first, want_index):
    order = list(derived_blocks(state_key("/srv/demo/.ingressd")))[:5]
    binder = FakeBinder(taken=order[:taken_first])
    claim = claim_pod_block("/srv/demo/.ingressd", bind=binder)
    try:
        assert claim.network == order[want_index]
        assert claim.derived and claim.skipped == tuple(order[:taken_first])
        assert binder.tried == order[:want_index + 1]
    finally:
        claim.close()
        binder.close()


def test_no_free_block_is_an_error_naming_the_claim_port():
    binder = FakeBinder(taken=list(derived_blocks(state_key("/s")))[:8])
    with pytest.raises(PodCIDRError, match=f"no free pod address block after 8 tries .*{CLAIM_PORT}"):
        claim_pod_block("/s", bind=binder, tries=8)


def test_a_given_pod_cidr_is_used_as_is_or_refused_when_taken():
    cidr = IPv4Network("127.10.0.0/24")
    binder = FakeBinder()
    claim = claim_pod_block("/s", pod_cidr=cidr, bind=binder)
    assert (claim.network, claim.derived, binder.tried) == (cidr, False, [cidr])
    claim.close()
    binder.close()
    with pytest.raises(PodCIDRError, match="pod CIDR 127.10.0.0/24 is in use by another ingressd"):
        claim_pod_block("/s", pod_cidr=cidr, bind=FakeBinder(taken=[cidr]))


def test_without_configured_loopback_addresses_the_block_is_used_unclaimed():
    binder = FakeBinder(taken=list(derived_blocks(state_key("/s"))), error=errno.EADDRNOTAVAIL)
    claim = claim_pod_block("/s", bind=binder)
    assert claim.socket is None and len(binder.tried) == 1


def test_real_claims_exclude_each_other_until_released(tmp_path):
    state = tmp_path / ".ingressd"
    first = claim_pod_block(state)
    try:
        second = claim_pod_block(state)  # the same state dir: the next block
        try:
            assert second.network != first.network
            assert second.skipped == (first.network,)
            with pytest.raises(PodCIDRError, match="in use"):
                claim_pod_block(state, pod_cidr=first.network)
        finally:
            second.close()
    finally:
        first.close()
    again = claim_pod_block(state)
    assert again.network == first.network
    again.close()


@pytest.mark.parametrize("configured, expected", [
    (lambda a: True, None),  # Linux: all of 127.0.0.0/8 is loopback
    (lambda a: a != "127.10.0.5", ("ingressd: pod addresses 127.10.0.5 of 127.10.0.0/28 are not configured on the "
     "loopback interface: pods given them cannot listen; add them with sudo ifconfig lo0 alias 127.10.0.5 up")),
])
def test_loopback_advice_names_the_missing_aliases(configured, expected):
    assert loopback_advice(IPv4Network("127.10.0.0/28"), configured) == expected


def test_loopback_advice_without_any_alias_says_how_to_alias_a_small_block():
    tried = []
    advice = loopback_advice(IPv4Network("127.77.16.0/20"), lambda a: tried.append(a) and False)
    assert tried[:2] == ["127.77.16.1", "127.77.16.2"] and len(tried) == 16  # probes a few, not 4064
    assert advice.startswith("ingressd: pod addresses 127.77.16.0/20 are not configured on the loopback interface")
    assert "for i in $(seq 1 14); do sudo ifconfig lo0 alias 127.10.0.$i up; done" in advice
    assert "ingressd run --pod-cidr 127.10.0.0/28" in advice


def test_every_loopback_address_is_configured_here():
    if not sys.platform.startswith("linux"):
        pytest.skip("only Linux routes all of 127.0.0.0/8 to lo")
    assert address_configured("127.10.0.9") and loopback_advice(IPv4Network("127.10.0.0/28")) is None
