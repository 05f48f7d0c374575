"""Endpoint choice per upstream: round robin, ingress-nginx's EWMA (balancer/ewma.lua), its
consistent hashing (balancer/chash.lua on lua-resty-balancer's resty.chash ring) and cookie
affinity (balancer/sticky_balanced.lua, sticky_persistent.lua).

State lives here, keyed by upstream name, not in the route table, so cursors, latency averages
and hash rings survive table swaps and endpoint changes. Clock and randomness are injected.

Retries pass `exclude` (addresses already tried). As in ingress-nginx, when every endpoint has
been tried the choice is made among all of them again rather than failing.
"""

from __future__ import annotations

import math
import os
import random
import time
import zlib
from bisect import bisect_left
from collections.abc import Callable

from ingressd.routing import affinity
from ingressd.routing.endpoints import Endpoint

DECAY_TIME = 10.0  # seconds; ewma.lua's DECAY_TIME
PICK_SET_SIZE = 2  # "power of two choices"
CONSISTENT_POINTS = 160  # resty.chash: points per endpoint on the ring
STICKY_MAX_TRIES = 20  # sticky_balanced.lua's MAX_UPSTREAM_CHECKS_COUNT


def _key_bytes(key: str) -> bytes:
    # Request data reaches us decoded as latin-1, so this gives back the bytes nginx hashes.
    try:
        return key.encode("latin-1")
    except UnicodeEncodeError:
        return key.encode("utf-8", "surrogatepass")


class _Ring:
    """resty.chash: each endpoint ("ip:port") gets CONSISTENT_POINTS points, point i at
    crc32(address + point i-1 as 4 little-endian bytes) (point 0 after 0); a key belongs to the
    first point at or after crc32(key), wrapping around. The points depend only on the
    addresses, so removing an endpoint moves only the keys it held."""

    __slots__ = ("endpoints", "addresses", "point_addresses", "hashes", "owners")

    def __init__(self, endpoints: tuple[Endpoint, ...]) -> None:
        points: list[tuple[int, int, str]] = []
        addresses: dict[str, Endpoint] = {}
        for endpoint in endpoints:
            addresses.setdefault(endpoint.address, endpoint)
        for seq, address in enumerate(addresses):
            base = zlib.crc32(address.encode())
            previous = 0
            for i in range(CONSISTENT_POINTS):
                previous = zlib.crc32(previous.to_bytes(4, "little"), base)
                points.append((previous, seq * CONSISTENT_POINTS + i, address))
        points.sort()
        self.endpoints = endpoints
        self.addresses = frozenset(addresses)
        self.point_addresses = [address for _, _, address in points]
        self.hashes = [point for point, _, _ in points]
        self.owners = [addresses[address] for address in self.point_addresses]

    def rebind(self, endpoints: tuple[Endpoint, ...]) -> None:
        """Same addresses in a new tuple (a rebuilt index): keep the points, take the new objects."""
        by_address: dict[str, Endpoint] = {}
        for endpoint in endpoints:
            by_address.setdefault(endpoint.address, endpoint)
        self.endpoints = endpoints
        self.owners = [by_address[address] for address in self.point_addresses]

    def find(self, key: str) -> Endpoint:
        index = bisect_left(self.hashes, zlib.crc32(_key_bytes(key)))
        return self.owners[index if index < len(self.owners) else 0]


class _NodeMap:
    """util/nodemap.lua for persistent affinity: md5(upstream + address) -> endpoint."""

    __slots__ = ("endpoints", "by_key")

    def __init__(self, upstream: str, endpoints: tuple[Endpoint, ...]) -> None:
        self.endpoints = endpoints
        self.by_key: dict[str, Endpoint] = {}
        for endpoint in endpoints:
            self.by_key.setdefault(affinity.persistent_key(upstream, endpoint.address), endpoint)


class _Ewma:
    """Latency averages of one upstream's endpoints: address -> (ewma seconds, last update)."""

    __slots__ = ("endpoints", "addresses", "stats")

    def __init__(self) -> None:
        self.endpoints: tuple[Endpoint, ...] | None = None
        self.addresses: frozenset[str] = frozenset()
        self.stats: dict[str, tuple[float, float]] = {}


class Balancers:
    def __init__(self, clock: Callable[[], float] = time.monotonic, rand: random.Random | None = None) -> None:
        self._clock = clock
        self._rand = rand if rand is not None else random.Random()
        self._cursors: dict[str, int] = {}
        self._ewma: dict[str, _Ewma] = {}
        self._rings: dict[str, _Ring] = {}
        self._node_maps: dict[str, _NodeMap] = {}

    def pick(
        self,
        upstream: str,
        endpoints: tuple[Endpoint, ...],
        method: str = "round_robin",
        exclude: frozenset[str] = frozenset(),
    ) -> Endpoint | None:
        """None only when there are no endpoints. Unknown methods use round robin."""
        if not endpoints:
            return None
        if method == "ewma":
            return self._pick_ewma(upstream, endpoints, exclude)
        # Round robin (inline: most requests come this way).
        count = len(endpoints)
        start = self._cursors.get(upstream, 0) % count  # a shrunk list just wraps
        chosen = start
        if exclude:
            for step in range(count):
                index = (start + step) % count
                if endpoints[index].address not in exclude:
                    chosen = index
                    break
        self._cursors[upstream] = (chosen + 1) % count
        return endpoints[chosen]

    def observe(self, upstream: str, address: str, seconds: float) -> None:
        """Connect + response time of one attempt (ewma.lua's after_balance)."""
        state = self._ewma.get(upstream)
        if state is None:
            state = self._ewma[upstream] = _Ewma()
        elif state.endpoints is not None and address not in state.addresses:
            return  # an endpoint that has gone away; keeping it would only leak
        now = self._clock()
        previous = state.stats.get(address)
        value = seconds if previous is None else _decay(previous[0], previous[1], seconds, now)
        state.stats[address] = (value, now)

    def retain(self, upstreams: set[str] | frozenset[str]) -> None:
        """Forget upstreams that no longer exist (call after a table swap)."""
        for table in (self._cursors, self._ewma, self._rings, self._node_maps):
            for name in [name for name in table if name not in upstreams]:
                del table[name]

    def score(self, upstream: str, address: str) -> float:
        """The EWMA latency as decayed to now (0 for an endpoint never observed)."""
        state = self._ewma.get(upstream)
        if state is None:
            return 0.0
        stats = state.stats.get(address)
        if stats is None:
            return 0.0
        return _decay(stats[0], stats[1], 0.0, self._clock())

    def pick_hash(self, upstream: str, endpoints: tuple[Endpoint, ...], key: str) -> Endpoint | None:
        """upstream-hash-by (chash.lua): the endpoint owning `key` (the expanded nginx expression)
        on the ring. Retries go to the same endpoint, as in ingress-nginx. None when there are no
        endpoints."""
        if not endpoints:
            return None
        return self._ring(upstream, endpoints).find(key)

    def pick_sticky(
        self,
        upstream: str,
        endpoints: tuple[Endpoint, ...],
        cookie_value: str | None,
        mode: str = "balanced",
        exclude: frozenset[str] = frozenset(),
        change_on_failure: bool = False,
    ) -> tuple[Endpoint | None, str | None]:
        """Cookie affinity (sticky.lua balance): (endpoint, new cookie value or None).

        `cookie_value` is the affinity cookie's value as received. When its endpoint key still
        resolves (balanced: always, the ring re-balances it; persistent: while that endpoint exists)
        the request goes there and no cookie is set; otherwise a new endpoint is picked (balanced: a
        random key on the ring; persistent: a random endpoint) and the cookie to set is returned.
        On a retry (`exclude` not empty) the pinned endpoint is kept unless `change_on_failure`
        (session-cookie-change-on-failure); new picks avoid `exclude`. (None, None) when there
        are no endpoints.
        """
        if not endpoints:
            return None, None
        persistent = mode == "persistent"
        key = affinity.endpoint_key(cookie_value)
        if key is not None and not (exclude and change_on_failure):
            if persistent:
                pinned = self._node_map(upstream, endpoints).by_key.get(key)
            else:
                pinned = self._ring(upstream, endpoints).find(key)
            if pinned is not None:
                return pinned, None
        if persistent:
            pool = [e for e in endpoints if e.address not in exclude] if exclude else endpoints
            pool = pool or endpoints  # every endpoint tried: choose among all again
            chosen = pool[self._rand.randint(0, len(pool) - 1)]
            return chosen, affinity.cookie_value(affinity.persistent_key(upstream, chosen.address), upstream)
        ring = self._ring(upstream, endpoints)
        now, pid = self._clock(), os.getpid()
        for i in range(1, STICKY_MAX_TRIES + 1):
            key = f"{now + i:.14g}.{pid}.{self._rand.randint(1, 999999)}"
            chosen = ring.find(key)
            if chosen.address not in exclude:
                break
        return chosen, affinity.cookie_value(key, upstream)

    def first_choice(self, upstream: str, endpoints: tuple[Endpoint, ...], method: str, affinity_cookie: str | None,
                     affinity_mode: str | None, hash_key: str | None) -> tuple[Endpoint | None, str]:
        """The endpoint the next pick for this request would try first and why, changing no state
        (`explain`); None when that is left to a random draw."""
        if not endpoints:
            return None, "no endpoints"
        if affinity_mode is not None:
            key = affinity.endpoint_key(affinity_cookie)
            if key is not None:
                if affinity_mode == "persistent":
                    pinned = _NodeMap(upstream, endpoints).by_key.get(key)
                else:
                    ring = self._rings.get(upstream)
                    pinned = (ring if ring is not None and ring.endpoints is endpoints else _Ring(endpoints)).find(key)
                if pinned is not None:
                    return pinned, f"the affinity cookie pins it ({affinity_mode})"
                return None, "the affinity cookie names an endpoint that is gone: a random one is picked and the " \
                             "cookie replaced"
            return None, "no affinity cookie: a random endpoint is picked and the cookie set on the response"
        if hash_key is not None:
            ring = self._rings.get(upstream)
            chosen = (ring if ring is not None and ring.endpoints is endpoints else _Ring(endpoints)).find(hash_key)
            return chosen, f"upstream-hash-by key {hash_key!r} hashes to it"
        if method == "ewma":
            return None, "ewma: the lower-latency of two random endpoints"
        return endpoints[self._cursors.get(upstream, 0) % len(endpoints)], "round robin: next in turn"

    def _ring(self, upstream: str, endpoints: tuple[Endpoint, ...]) -> _Ring:
        ring = self._rings.get(upstream)
        if ring is not None and ring.endpoints is endpoints:
            return ring
        if ring is not None and ring.addresses == frozenset(e.address for e in endpoints):
            ring.rebind(endpoints)
            return ring
        ring = self._rings[upstream] = _Ring(endpoints)
        return ring

    def _node_map(self, upstream: str, endpoints: tuple[Endpoint, ...]) -> _NodeMap:
        node_map = self._node_maps.get(upstream)
        if node_map is None or node_map.endpoints is not endpoints:
            node_map = self._node_maps[upstream] = _NodeMap(upstream, endpoints)
        return node_map

    # --- ewma ---

    def _pick_ewma(self, upstream: str, endpoints: tuple[Endpoint, ...], exclude: frozenset[str]) -> Endpoint:
        state = self._ewma.get(upstream)
        if state is None:
            state = self._ewma[upstream] = _Ewma()
        self._sync(state, endpoints)
        if len(endpoints) == 1:
            return endpoints[0]
        peers = [endpoint for endpoint in endpoints if endpoint.address not in exclude] or list(endpoints)
        if len(peers) == 1:
            return peers[0]
        # Partial Fisher-Yates: peers[:k] become k distinct random endpoints; the best one wins.
        k = min(PICK_SET_SIZE, len(peers))
        for i in range(k):
            j = self._rand.randint(i, len(peers) - 1)
            peers[i], peers[j] = peers[j], peers[i]
        now = self._clock()
        best, best_score = peers[0], self._score(state, peers[0].address, now)
        for peer in peers[1:k]:
            score = self._score(state, peer.address, now)
            if score < best_score:
                best, best_score = peer, score
        return best

    @staticmethod
    def _score(state: _Ewma, address: str, now: float) -> float:
        stats = state.stats.get(address)
        return 0.0 if stats is None else _decay(stats[0], stats[1], 0.0, now)

    def _sync(self, state: _Ewma, endpoints: tuple[Endpoint, ...]) -> None:
        """ewma.lua's sync: drop stats of removed endpoints; new ones start at the average
        ("slow start") so they are not flooded for having no history."""
        if state.endpoints is endpoints:
            return
        addresses = frozenset(endpoint.address for endpoint in endpoints)
        first = state.endpoints is None  # ewma.lua's new(): no slow start for the initial peers
        state.endpoints = endpoints
        if addresses == state.addresses:
            return
        added = frozenset() if first else addresses - state.addresses
        for address in [a for a in state.stats if a not in addresses]:
            del state.stats[address]
        state.addresses = addresses
        known = [value for value, _ in state.stats.values()]
        if known and added:
            average, now = sum(known) / len(known), self._clock()
            for address in added:
                state.stats.setdefault(address, (average, now))


def _decay(ewma: float, last: float, rtt: float, now: float) -> float:
    weight = math.exp(-max(now - last, 0.0) / DECAY_TIME)
    return ewma * weight + rtt * (1.0 - weight)
