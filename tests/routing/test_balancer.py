import math
import random

import pytest

from ingressd.routing.balancer import DECAY_TIME, Balancers
from ingressd.routing.endpoints import Endpoint

A, B, C, D = (Endpoint(f"10.0.0.{n}", 8080, f"pod-{n}") for n in range(1, 5))
ABC = (A, B, C)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FirstChoices(random.Random):
    """randint(a, b) -> a: the "two random choices" are the first two candidates, in order."""

    def __init__(self) -> None:
        super().__init__(0)
        self.calls: list[tuple[int, int]] = []

    def randint(self, a: int, b: int) -> int:
        self.calls.append((a, b))
        return a


class LastChoices(FirstChoices):
    def randint(self, a: int, b: int) -> int:
        self.calls.append((a, b))
        return b


def picks(balancers, upstream, endpoints, n, **kwargs):
    return [balancers.pick(upstream, endpoints, **kwargs).pod for _ in range(n)]


# --- round robin ---------------------------------------------------------------------------------


def test_round_robin_cycles():
    assert picks(Balancers(), "u", ABC, 7) == ["pod-1", "pod-2", "pod-3", "pod-1", "pod-2", "pod-3", "pod-1"]


def test_round_robin_state_is_per_upstream():
    balancers = Balancers()
    assert picks(balancers, "u1", ABC, 2) == ["pod-1", "pod-2"]
    assert picks(balancers, "u2", ABC, 1) == ["pod-1"]
    assert picks(balancers, "u1", ABC, 1) == ["pod-3"]


def test_round_robin_cursor_survives_new_tuples_and_list_changes():
    balancers = Balancers()
    assert picks(balancers, "u", ABC, 2) == ["pod-1", "pod-2"]
    assert picks(balancers, "u", tuple(ABC), 1) == ["pod-3"]  # an equal list from a rebuilt table
    assert picks(balancers, "u", (A, B), 3) == ["pod-1", "pod-2", "pod-1"]  # shrunk: wraps, no error
    assert picks(balancers, "u", (A, B, C, D), 4) == ["pod-2", "pod-3", "pod-4", "pod-1"]
    assert picks(balancers, "u", (D,), 2) == ["pod-4", "pod-4"]


@pytest.mark.parametrize(
    "exclude, want",
    [
        (frozenset(), "pod-1"),
        (frozenset({A.address}), "pod-2"),
        (frozenset({A.address, B.address}), "pod-3"),
        (frozenset({A.address, B.address, C.address}), "pod-1"),  # all tried: choose among all again
        (frozenset({"10.9.9.9:1"}), "pod-1"),
    ],
)
def test_round_robin_exclude(exclude, want):
    assert Balancers().pick("u", ABC, exclude=exclude).pod == want


def test_round_robin_exclude_moves_the_cursor_past_the_choice():
    balancers = Balancers()
    assert balancers.pick("u", ABC, exclude=frozenset({A.address})).pod == "pod-2"
    assert picks(balancers, "u", ABC, 2) == ["pod-3", "pod-1"]


@pytest.mark.parametrize("method", ["round_robin", "ewma", "chash"])
def test_no_endpoints_is_none(method):
    assert Balancers().pick("u", (), method) is None


def test_unknown_method_is_round_robin():
    assert picks(Balancers(), "u", ABC, 3, method="chash") == ["pod-1", "pod-2", "pod-3"]


def test_retain_forgets_gone_upstreams():
    balancers = Balancers()
    picks(balancers, "keep", ABC, 1)
    picks(balancers, "drop", ABC, 1)
    balancers.retain({"keep"})
    assert picks(balancers, "keep", ABC, 1) == ["pod-2"]
    assert picks(balancers, "drop", ABC, 1) == ["pod-1"]


# --- ewma ------------------------------------------------------------------------------------------


def test_ewma_first_observation_is_the_latency_then_decays_towards_zero():
    clock = FakeClock()
    balancers = Balancers(clock)
    balancers.observe("u", A.address, 0.4)
    assert balancers.score("u", A.address) == pytest.approx(0.4)
    clock.now += DECAY_TIME
    assert balancers.score("u", A.address) == pytest.approx(0.4 * math.exp(-1))
    assert balancers.score("u", B.address) == 0.0
    assert balancers.score("other", A.address) == 0.0


def test_ewma_update_weights_by_elapsed_time():
    clock = FakeClock()
    balancers = Balancers(clock)
    balancers.observe("u", A.address, 1.0)
    clock.now += 5.0
    balancers.observe("u", A.address, 3.0)
    weight = math.exp(-5.0 / DECAY_TIME)
    assert balancers.score("u", A.address) == pytest.approx(1.0 * weight + 3.0 * (1 - weight))
    balancers.observe("u", A.address, 10.0)  # no time passed: weight 1, the average does not move
    assert balancers.score("u", A.address) == pytest.approx(1.0 * weight + 3.0 * (1 - weight))


def test_ewma_picks_the_lower_score_of_two():
    clock, rand = FakeClock(), FirstChoices()
    balancers = Balancers(clock, rand)
    balancers.pick("u", ABC, "ewma")  # learn the endpoints
    balancers.observe("u", A.address, 0.5)
    balancers.observe("u", B.address, 0.1)
    balancers.observe("u", C.address, 0.01)
    assert balancers.pick("u", ABC, "ewma") == B  # candidates A, B: C is not drawn
    assert rand.calls[-2:] == [(0, 2), (1, 2)]  # partial Fisher-Yates over the candidates


def test_ewma_random_candidates():
    balancers = Balancers(FakeClock(), LastChoices())
    balancers.pick("u", ABC, "ewma")
    balancers.observe("u", A.address, 0.5)
    balancers.observe("u", B.address, 0.1)
    balancers.observe("u", C.address, 0.3)
    # randint(0, 2) -> 2 swaps C to the front; randint(1, 2) -> 2 brings A (moved there) second.
    assert balancers.pick("u", ABC, "ewma") == C


def test_ewma_tie_keeps_the_first_candidate():
    balancers = Balancers(FakeClock(), FirstChoices())
    assert balancers.pick("u", ABC, "ewma") == A


def test_ewma_prefers_unknown_latency_zero():
    balancers = Balancers(FakeClock(), FirstChoices())
    balancers.observe("u", A.address, 0.2)
    assert balancers.pick("u", ABC, "ewma") == B


def test_ewma_exclude():
    balancers = Balancers(FakeClock(), FirstChoices())
    balancers.pick("u", ABC, "ewma")
    balancers.observe("u", A.address, 0.1)
    balancers.observe("u", B.address, 0.5)
    balancers.observe("u", C.address, 0.9)
    assert balancers.pick("u", ABC, "ewma", exclude=frozenset({A.address})) == B
    assert balancers.pick("u", ABC, "ewma", exclude=frozenset({A.address, B.address})) == C
    everything = frozenset(e.address for e in ABC)
    assert balancers.pick("u", ABC, "ewma", exclude=everything) == A  # all tried: best of all again


def test_ewma_single_endpoint():
    rand = FirstChoices()
    balancers = Balancers(FakeClock(), rand)
    assert balancers.pick("u", (A,), "ewma") == A
    assert balancers.pick("u", (A,), "ewma", exclude=frozenset({A.address})) == A
    assert rand.calls == []


def test_ewma_new_endpoints_start_at_the_average_and_removed_ones_are_forgotten():
    clock = FakeClock()
    balancers = Balancers(clock, FirstChoices())
    balancers.pick("u", (A, B), "ewma")
    balancers.observe("u", A.address, 0.2)
    balancers.observe("u", B.address, 0.4)
    balancers.pick("u", (A, B, C), "ewma")  # C is new: slow start at the average
    assert balancers.score("u", C.address) == pytest.approx(0.3)
    balancers.pick("u", (B, C), "ewma")  # A removed
    assert balancers.score("u", A.address) == 0.0
    balancers.observe("u", A.address, 5.0)  # a late report for a removed endpoint is ignored
    assert balancers.score("u", A.address) == 0.0
    balancers.pick("u", (A, B, C), "ewma")  # A back: average of B and C
    assert balancers.score("u", A.address) == pytest.approx(0.35)


def test_ewma_state_survives_equal_rebuilt_tuples():
    balancers = Balancers(FakeClock(), FirstChoices())
    balancers.pick("u", (A, B), "ewma")
    balancers.observe("u", A.address, 0.2)
    balancers.pick("u", (Endpoint(A.ip, A.port, A.pod), B), "ewma")
    assert balancers.score("u", A.address) == pytest.approx(0.2)


def test_ewma_spreads_load_with_a_real_random():
    balancers = Balancers(FakeClock(), random.Random(7))
    seen = {balancers.pick("u", ABC, "ewma").pod for _ in range(50)}
    assert seen == {"pod-1", "pod-2", "pod-3"}
