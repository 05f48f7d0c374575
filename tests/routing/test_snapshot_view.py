"""The routing snapshot built on a worker thread from a frozen view of the store (ingressd.offloop,
issue 14) is the one built from the store itself, and building it changes none of the stored
objects the view shares."""

from __future__ import annotations

import copy
import random

import pytest

from ingressd.cluster.store import Store
from ingressd.explain import predicted_endpoint_slices
from ingressd.offloop import SNAPSHOT_KINDS, build, rows_of
from ingressd.routing.decide import decide
from ingressd.routing.snapshot import SnapshotBuilder
from tests.routing.decide_rows import ROWS, WORLD, _ingress, expected
from tests.routing.test_decide import outcome, request_of


@pytest.fixture(scope="module")
def store() -> Store:
    store = Store(clock=lambda: 0.0)
    for obj in [*WORLD, *predicted_endpoint_slices(WORLD)]:
        store.apply(obj)
    return store


@pytest.fixture(scope="module")
def snapshots(store):
    stored = {kind: copy.deepcopy(store.list_stored(kind)) for kind in SNAPSHOT_KINDS}
    from_view = build(SnapshotBuilder(), store.freeze(SNAPSHOT_KINDS)).state
    assert {kind: store.list_stored(kind) for kind in SNAPSHOT_KINDS} == stored  # nothing changed in place
    return SnapshotBuilder().build(store)[0], from_view


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_the_view_routes_every_row_as_the_store_does(row, snapshots):
    from_store, from_view = snapshots
    got = outcome(decide(from_view, request_of(row), random.Random(0)))
    assert got == outcome(decide(from_store, request_of(row), random.Random(0))) == expected(row)


def test_the_route_rows_are_the_same(store, snapshots):
    from_store, from_view = snapshots
    view = store.freeze(SNAPSHOT_KINDS)
    assert rows_of(from_view, view) == rows_of(from_store, store)


def test_route_change_lines_only_when_routes_may_have_changed():
    store = Store(clock=lambda: 0.0)
    store.apply(_ingress("a", "a.test"))
    builder = SnapshotBuilder()
    first = build(builder, store.freeze(SNAPSHOT_KINDS), None, ())
    assert first.rows is not None and any(line.startswith("+") and "a.test" in line for line in first.changes)
    same = build(builder, store.freeze(SNAPSHOT_KINDS), first.state, first.rows)
    assert same.state is first.state and same.rows is None and same.changes == ()
    store.apply(_ingress("b", "b.test"))
    second = build(builder, store.freeze(SNAPSHOT_KINDS), first.state, first.rows)
    assert [line for line in second.changes if "b.test" in line] and not [l for l in second.changes if "a.test" in l]
    hidden = build(builder, store.freeze(SNAPSHOT_KINDS), second.state, None)  # routes not shown yet
    assert hidden.rows is None and hidden.changes == ()
