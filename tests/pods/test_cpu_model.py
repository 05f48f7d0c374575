"""The processor-sharing CPU model of the echo app (pure, explicit time)."""

import pytest

from ingressd.pods.cpu_model import ProcessorSharing


def run(capacity, arrivals):
    """arrivals: [(time, job, work)] -> {job: finish time}, stepping event to event."""
    model = ProcessorSharing(capacity, 0.0)
    pending = sorted(arrivals)
    finish, now = {}, 0.0
    while pending or model.jobs:
        nxt = model.next_completion()
        completion = now + nxt if nxt is not None else float("inf")
        if pending and pending[0][0] <= completion:
            now, job, work = pending.pop(0)
            model.add(job, work, now)
        else:
            now = completion
            for job in model.pop_finished(now):
                finish[job] = round(now, 9)
    return finish, model.cpu_seconds(now)


@pytest.mark.parametrize("capacity, arrivals, finish, cpu", [
    (1.0, [(0, "a", 0.02)], {"a": 0.02}, 0.02),
    (1.0, [(0, "a", 0.02), (0, "b", 0.02)], {"a": 0.04, "b": 0.04}, 0.04),  # shared: both twice as slow
    (2.0, [(0, "a", 0.02), (0, "b", 0.02)], {"a": 0.02, "b": 0.02}, 0.04),  # two cores: no queueing
    (4.0, [(0, "a", 0.02)], {"a": 0.02}, 0.02),  # one request uses at most one core
    (0.5, [(0, "a", 0.02)], {"a": 0.04}, 0.02),  # a 500m limit halves the speed
    (1.0, [(0, "a", 0.02), (0.01, "b", 0.02)], {"a": 0.03, "b": 0.04}, 0.04),
    (1.0, [(0, "a", 0.01), (0.5, "b", 0.01)], {"a": 0.01, "b": 0.51}, 0.02),  # idle time costs nothing
])
def test_processor_sharing(capacity, arrivals, finish, cpu):
    got_finish, got_cpu = run(capacity, arrivals)
    assert got_finish == pytest.approx(finish)
    assert got_cpu == pytest.approx(cpu)


def test_removed_job_keeps_the_work_it_got():
    model = ProcessorSharing(1.0, 0.0)
    model.add("a", 1.0, 0.0)
    model.remove("a", 0.25)
    assert model.cpu_seconds(10.0) == pytest.approx(0.25)
    assert model.next_completion() is None


def test_early_timer_slack():
    model = ProcessorSharing(1.0, 0.0)
    model.add("a", 0.02, 0.0)
    assert model.pop_finished(0.0195) == []
    assert model.pop_finished(0.0195, slack=0.001) == ["a"]


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        ProcessorSharing(0, 0.0)
