import pytest

from ingressd.pods.ips import PodIPPool


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
