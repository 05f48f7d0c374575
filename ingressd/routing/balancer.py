"""Endpoint choice per upstream: round robin, or ingress-nginx's EWMA (balancer/ewma.lua).

State lives here, keyed by upstream name, not in the route table, so cursors and latency
averages survive table swaps and endpoint changes. Clock and randomness are injected.

Retries pass `exclude` (addresses already tried). As in ingress-nginx, when every endpoint has
been tried the choice is made among all of them again rather than failing.
"""

from __future__ import annotations

import math
import random
import time
from typing import Callable

from ingressd.routing.endpoints import Endpoint

DECAY_TIME = 10.0  # seconds; ewma.lua's DECAY_TIME
PICK_SET_SIZE = 2  # "power of two choices"


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
        return self._pick_round_robin(upstream, endpoints, exclude)

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
        for table in (self._cursors, self._ewma):
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

    # --- round robin ---

    def _pick_round_robin(self, upstream: str, endpoints: tuple[Endpoint, ...], exclude: frozenset[str]) -> Endpoint:
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
