"""Reload work kept off the proxy's event loop (issue 14: a reload of 10 000 rules must not stall it).

- The routing snapshot is built on a worker thread from `Store.freeze()`: an immutable view of the
  kinds the builder reads (the store's objects are never changed in place, so the view shares
  them). The thread also computes the `ingressd routes` rows the change lines are printed from.
  The loop only freezes (copies a few dicts of references) and swaps (one assignment).
- Manifest objects are applied to the store in time slices (`run_in_slices`), the loop serving
  requests between slices.
- The cyclic garbage collector's full collections scan every object the process holds: with ten
  thousand rules loaded that is a pause of several hundred ms, in whichever thread triggers it,
  and loading or building makes many long-lived objects, which triggers them. While a reload
  loads and applies, and while a snapshot is built, full collections are deferred
  (`collections_deferred`; young ones go on); after, what survived (the store, the manifests,
  the snapshot: long-lived, freed by reference counting when replaced) is moved out of the
  collector's sight (gc.freeze), so later collections scan only what was made since.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ingressd.routing.endpoints import build_endpoint_index
from ingressd.routing.routes_view import RouteRow, gateway_route_rows, route_changes, route_rows
from ingressd.routing.snapshot import GATEWAY_INPUTS, Snapshot, SnapshotBuilder

# Every kind SnapshotBuilder.build reads (a kind missing here fails loudly: StoreView raises KeyError).
SNAPSHOT_KINDS = tuple(dict.fromkeys(("Ingress", "IngressClass", "ConfigMap", "Secret", "Service", "EndpointSlice",
                                      "Endpoints", *GATEWAY_INPUTS)))
SLICE_SECONDS = 0.01  # the longest the loop is kept from serving by one slice of reload work


@dataclass(frozen=True)
class Built:
    state: Snapshot
    warnings: list[str]
    rows: tuple[RouteRow, ...] | None = None  # the routes with endpoint counts, when they may have changed
    changes: tuple[str, ...] = ()  # the lines saying how (routes_view.route_changes)


def snapshot_versions(store) -> tuple[int, ...]:
    """The versions of every kind the snapshot reads: while they stay the same, so does it."""
    return tuple(store.kind_version(kind) for kind in SNAPSHOT_KINDS)


def build(builder: SnapshotBuilder, view, live: Snapshot | None = None,
          shown: tuple[RouteRow, ...] | None = None) -> Built:
    """On a worker thread: the snapshot for `view` (a StoreView); when routes are being shown
    (`shown`: the rows printed last) and the table, TLS or Gateway part differs from `live`'s, its
    route rows and the change lines against `shown`."""
    state, warnings = builder.build(view)
    if shown is None or live is not None and state.table is live.table and state.tls is live.tls \
            and state.gateway is live.gateway:
        return Built(state, warnings)
    rows = rows_of(state, view)
    return Built(state, warnings, rows, tuple(route_changes(shown, rows)))


def rows_of(state: Snapshot, source) -> tuple[RouteRow, ...]:
    """`ingressd routes` rows of `state`, with ready/total endpoint counts (totals from `source`)."""
    every = build_endpoint_index(source.list("Service"), source.list("EndpointSlice"), source.list("Endpoints"),
                                 not_ready=True)
    return route_rows(state.table, state.endpoints, state.tls, every) + \
        gateway_route_rows(state.gateway, state.endpoints, every)


async def build_off_loop(builder: SnapshotBuilder, store, live: Snapshot | None,
                         shown: tuple[RouteRow, ...] | None) -> Built:
    view = store.freeze(SNAPSHOT_KINDS)
    with collections_deferred():
        return await asyncio.to_thread(build, builder, view, live, shown)


def freeze_heap(full: bool = False) -> None:
    """Hide every object from later collections (gc.freeze), after collecting the youngest
    generation (all of them with `full`: the pause this avoids, so at start only). Cyclic garbage
    older than that and not yet collected stays until exit: a small leak per freeze, which is why
    freezes happen only after work that made many long-lived objects (collections_deferred)."""
    gc.collect() if full else gc.collect(0)
    gc.freeze()


_deferred = 0
_threshold: tuple[int, int, int] = gc.get_threshold()


@contextlib.contextmanager
def collections_deferred():
    """No full collection inside (nested: the outermost restores); then, if one would have been
    due by then (the work made many objects that lived), freeze_heap() instead of it."""
    global _deferred, _threshold
    if _deferred == 0:
        _threshold = gc.get_threshold()
        gc.set_threshold(_threshold[0], _threshold[1], 1 << 30)
    _deferred += 1
    try:
        yield
    finally:
        _deferred -= 1
        if _deferred == 0:
            if gc.get_count()[2] > _threshold[2]:
                freeze_heap()  # first: with the threshold back, a full collection would be due at once
            gc.set_threshold(*_threshold)


def release(items: list, chunk: int = 500) -> Iterator[None]:
    """Empty `items` a chunk at a time, from the end (a generator for run_in_slices): the
    manifests of a large reload are millions of objects (each has its field -> line map), and
    freeing them all at once when the reload returns is a pause of its own."""
    while items:
        del items[-chunk:]
        yield


async def run_in_slices(steps: Iterator, batch: Callable[[], object], slice_seconds: float = SLICE_SECONDS) -> None:
    """Run the synchronous `steps` (a generator doing a little work per item) on the loop, giving
    the loop back every `slice_seconds`; each slice inside `batch()` (one store.db commit)."""
    while True:
        deadline = time.perf_counter() + slice_seconds
        with batch():
            for _ in steps:
                if time.perf_counter() >= deadline:
                    break
            else:
                return
        await asyncio.sleep(0)
