"""ingressd.offloop: reload work in slices that give the event loop back, and full garbage
collections deferred while long-lived objects are made (issue 14)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time

from ingressd.offloop import collections_deferred, run_in_slices


async def test_run_in_slices_gives_the_loop_back_and_batches_each_slice():
    done, batches, ticks = [], [], []

    def steps():
        for i in range(30):
            time.sleep(0.002)  # 2 ms of work per step: 60 ms in all
            done.append(i)
            yield

    @contextlib.contextmanager
    def batch():
        batches.append(len(done))
        yield

    async def ticker():
        while len(done) < 30:
            ticks.append(len(done))
            await asyncio.sleep(0)

    await asyncio.gather(run_in_slices(steps(), batch, slice_seconds=0.01), ticker())
    assert done == list(range(30))
    assert len(batches) >= 3  # a batch (one store.db commit) per slice
    assert len(set(ticks)) >= 3  # the loop ran between slices


async def test_run_in_slices_with_nothing_to_do():
    await run_in_slices(iter(()), contextlib.nullcontext)


def test_collections_deferred_nests_and_restores_the_threshold():
    before = gc.get_threshold()
    with collections_deferred():
        assert gc.get_threshold()[2] > 1_000_000
        with collections_deferred():
            pass
        assert gc.get_threshold()[2] > 1_000_000  # the inner one does not restore
    assert gc.get_threshold() == before


def test_only_work_that_made_many_lasting_objects_freezes_the_heap():
    gc.unfreeze()
    try:
        with collections_deferred():
            small = [[i] for i in range(100)]
        assert gc.get_freeze_count() == 0 and small
        with collections_deferred():
            kept = [[i] for i in range(300_000)]  # a full collection would have been due: frozen instead
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_count()[2] <= gc.get_threshold()[2]
    finally:
        gc.unfreeze()


def test_release_empties_a_list_a_chunk_at_a_time():
    from ingressd.offloop import release

    items = list(range(1250))
    sizes = [len(items) for _ in release(items, chunk=500)]
    assert sizes == [750, 250, 0] and items == []


def test_snapshot_versions_move_with_what_the_snapshot_reads_only():
    from ingressd.cluster.store import Store
    from ingressd.offloop import snapshot_versions

    store = Store(clock=lambda: 0.0)
    before = snapshot_versions(store)
    store.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
                 "spec": {}})
    assert snapshot_versions(store) == before
    store.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}})
    assert snapshot_versions(store) != before
