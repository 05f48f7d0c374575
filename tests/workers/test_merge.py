"""The pure parts of --workers (ingressd.workers.merge), table-style: no sockets, no processes."""

from __future__ import annotations

import os

import pytest

from ingressd.metrics import ProxyMetrics, exposition
from ingressd.workers.merge import (MAX_WORKERS, SilenceWatch, TrafficTotals, drain, merge, parse_workers,
                                    reuseport_unavailable, worker_seed)

LABELS_A = ("200", "GET", "/", "default", "web", "web", "", "a.test")
LABELS_B = ("404", "POST", "/x", "default", "web", "web", "", "a.test")


@pytest.mark.parametrize("text, want", [
    ("1", 1), ("2", 2), (str(MAX_WORKERS), MAX_WORKERS), ("auto", max(1, min(os.cpu_count() or 1, MAX_WORKERS))),
])
def test_parse_workers(text, want):
    assert parse_workers(text) == want


@pytest.mark.parametrize("text, message", [
    ("0", "invalid value '0': want a number of workers from 1 to 64, or auto"),
    ("-1", "invalid value '-1': want a number of workers from 1 to 64, or auto"),
    ("65", "invalid value '65': want a number of workers from 1 to 64, or auto"),
    ("two", "invalid value 'two': want a number of workers (1 to 64) or auto"),
    ("", "invalid value '': want a number of workers (1 to 64) or auto"),
    ("AUTO", "invalid value 'AUTO': want a number of workers (1 to 64) or auto"),
])
def test_parse_workers_refuses(text, message):
    with pytest.raises(ValueError) as err:
        parse_workers(text)
    assert str(err.value) == message


@pytest.mark.parametrize("platform, has_option, want", [
    ("linux", True, None),
    ("darwin", True, "SO_REUSEPORT does not spread connections across processes on this platform (darwin)"),
    ("freebsd14", True, "SO_REUSEPORT does not spread connections across processes on this platform (freebsd14)"),
    ("win32", False, "SO_REUSEPORT is not available on this platform (win32)"),
    ("linux", False, "SO_REUSEPORT is not available on this platform (linux)"),
])
def test_reuseport_unavailable(platform, has_option, want):
    assert reuseport_unavailable(platform, has_option) == want


@pytest.mark.parametrize("seed, index, want", [(None, 0, None), (None, 3, None), (7, 0, 7), (7, 1, 8), (0, 5, 5)])
def test_worker_seed(seed, index, want):
    assert worker_seed(seed, index) == want


def observe(metrics: ProxyMetrics, labels, seconds=0.02, upstream=0.01, size=100, sent=1000):
    metrics.observe(labels, seconds, upstream, size, sent)


def test_drain_of_nothing_is_none():
    assert drain(ProxyMetrics()) is None


def test_drained_deltas_merged_equal_one_process_counting_everything():
    """Two workers counting, drained twice each, merged: the same exposition as one process that
    observed every request itself."""
    single, control = ProxyMetrics(), ProxyMetrics()
    workers = [ProxyMetrics(), ProxyMetrics()]
    rows = [(0, LABELS_A, 0.002, 0.001, 10, 50), (1, LABELS_A, 0.3, None, 5000, 20),
            (0, LABELS_B, 2.0, 1.9, 1, 2_000_000), (1, LABELS_B, 0.05, 0.04, 100, 100)]
    for round_ in range(2):
        for worker, labels, seconds, upstream, size, sent in rows:
            observe(workers[worker], labels, seconds, upstream, size, sent)
            observe(single, labels, seconds, upstream, size, sent)
        for worker in workers:
            merge(control, drain(worker))
            assert drain(worker) is None  # drained: it starts again from empty
    assert exposition(control.registry) == exposition(single.registry)
    assert control.requests.values == {LABELS_A: 4.0, LABELS_B: 4.0}


def test_a_drained_worker_counts_on():
    worker, control = ProxyMetrics(), ProxyMetrics()
    observe(worker, LABELS_A)
    merge(control, drain(worker))
    observe(worker, LABELS_A)
    observe(worker, LABELS_A)
    merge(control, drain(worker))
    assert control.requests.values == {LABELS_A: 3.0}
    assert control.request_duration.children[LABELS_A[1:]][0][2] == 3  # the 0.025 s bucket


@pytest.mark.parametrize("reports, retire, want", [
    ([], [], {}),
    ([(0, {"10.0.0.1": (5, 1)})], [], {"10.0.0.1": (5, 1)}),
    ([(0, {"10.0.0.1": (5, 1)}), (1, {"10.0.0.1": (3, 2), "10.0.0.2": (1, 0)})], [],
     {"10.0.0.1": (8, 3), "10.0.0.2": (1, 0)}),
    # a later report of the same worker replaces its earlier one (counts are cumulative)
    ([(0, {"10.0.0.1": (5, 1)}), (0, {"10.0.0.1": (9, 0)})], [], {"10.0.0.1": (9, 0)}),
    # a worker that exited keeps its started requests, none in flight; its successor starts from 0
    ([(0, {"10.0.0.1": (5, 1)}), (1, {"10.0.0.1": (2, 2)})], [0], {"10.0.0.1": (7, 2)}),
    ([(0, {"10.0.0.1": (5, 1)})], [0, 0], {"10.0.0.1": (5, 0)}),
])
def test_traffic_totals(reports, retire, want):
    totals = TrafficTotals()
    for worker, counts in reports:
        totals.report(worker, counts)
    for worker in retire:
        totals.retire(worker)
    assert totals.snapshot() == want


def test_traffic_of_a_restarted_worker_adds_to_what_its_predecessor_started():
    totals = TrafficTotals()
    totals.report(0, {"10.0.0.1": (5, 1)})
    totals.retire(0)
    totals.report(0, {"10.0.0.1": (2, 1)})
    assert totals.snapshot() == {"10.0.0.1": (7, 1)}


# SilenceWatch: (what happens, at which time) -> the workers named at each tick. Timeout 5 s, a
# tick every second; both workers heard at 0 unless the script says otherwise.
@pytest.mark.parametrize("script, want", [
    # both report every tick: nobody is named
    ([("heard", 0, 1), ("heard", 1, 1), ("tick", 1), ("heard", 0, 2), ("heard", 1, 2), ("tick", 2)], [[], []]),
    # worker 1 goes quiet: named once its silence exceeds 5 s (at 6, not at 5), and once only
    ([*[step for t in range(1, 9) for step in (("heard", 0, t), ("tick", t))]],
     [[], [], [], [], [], [1], [], []]),
    # both quiet: named together, in order
    ([("tick", t) for t in range(1, 7)], [[], [], [], [], [], [0, 1]]),
    # named, then heard again (a new worker of that index): it is watched afresh
    ([*[("tick", t) for t in range(1, 7)], ("heard", 0, 6.5), ("heard", 1, 6.5), *[("tick", t) for t in range(7, 13)]],
     [[], [], [], [], [], [0, 1], [], [], [], [], [], [0, 1]]),
    # the control process itself stalled 20 s (its ticks late): not counted against the workers
    ([("tick", 1), ("tick", 22), ("tick", 23), ("tick", 26)], [[], [], [], []]),
    # ... though silence before and after the stall still adds up
    ([("tick", 1), ("tick", 2), ("tick", 3), ("tick", 24), ("tick", 25), ("tick", 26), ("tick", 27)],
     [[], [], [], [], [], [0, 1], []]),
    # a forgotten worker (it exited) is never named
    ([("forget", 1), *[("tick", t) for t in range(1, 8)]], [[], [], [], [], [], [0], []]),
])
def test_silence_watch(script, want):
    watch = SilenceWatch(timeout=5.0, interval=1.0, now=0.0)
    watch.heard(0, 0.0)
    watch.heard(1, 0.0)
    named = []
    for step in script:
        if step[0] == "heard":
            watch.heard(step[1], step[2])
        elif step[0] == "forget":
            watch.forget(step[1])
        else:
            named.append(watch.tick(step[1]))
    assert named == want
