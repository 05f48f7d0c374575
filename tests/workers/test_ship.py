"""WorkerPool.swap ships each change once, in order, large parts pickled on a thread; a worker
started in between gets only what its start-up snapshot lacks. No process is started: the workers
are outboxes, the frames are applied as the worker applies them."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import random

from ingressd.routing.snapshot import ManifestObjects, SnapshotBuilder
from ingressd.workers import pool
from ingressd.workers.channel import HEADER, loads_yielding
from ingressd.workers.pool import WorkerPool, WorkerProcess


def ingress(host: str) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": host, "namespace": "default"},
            "spec": {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                "service": {"name": "web", "port": {"number": 80}}}}]}}]}}


def slice_(ip: str) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4", "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": 8080}]}


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


class Versioned(ManifestObjects):
    """A fixed set whose kinds carry versions, as the store's do: the builder rebuilds what changed."""

    def __init__(self, objects: list[dict], versions: dict[str, int]) -> None:
        super().__init__(objects)
        self.versions = versions

    def kind_version(self, kind: str) -> int:
        return self.versions.get(kind, 0)


def fake_worker(index: int, shipped: int) -> WorkerProcess:
    loop = asyncio.get_running_loop()
    return WorkerProcess(index, proc=None, cmd=None, outbox=asyncio.Queue(), started=0.0,
                         ready=loop.create_future(), shipped=shipped)


def applied(start, worker: WorkerProcess):
    """The worker's snapshot after its outbox's P frames, applied in order as worker.handle does."""
    state = start
    while not worker.outbox.empty():
        data, _fds, _owned = worker.outbox.get_nowait()
        length, kind = HEADER.unpack(data[:HEADER.size])
        assert (kind, length) == (ord("P"), len(data) - HEADER.size)
        state = dataclasses.replace(state, **loads_yielding(data[HEADER.size:]))
    return state


def roundtripped(obj) -> bytes:
    """obj's pickle after one trip through pickle, as a worker's copy has made: a set rebuilt from a
    pickle may iterate in another order than the one pickled (it depends on the str hash seed), so
    a copy is compared with a copy, never with the original."""
    return pickle.dumps(pickle.loads(pickle.dumps(obj)))


async def settle(p: WorkerPool) -> None:
    async with asyncio.timeout(10):  # the test's bound: shipping takes milliseconds here
        await p._outgoing.join()


async def test_every_worker_ends_on_the_newest_snapshot_and_a_late_worker_gets_only_what_it_lacks(monkeypatch):
    threaded = []
    real = pool.dumps_yielding
    monkeypatch.setattr(pool, "dumps_yielding", lambda obj: threaded.append(sorted(obj)) or real(obj))
    builder = SnapshotBuilder()
    snapshots = [builder.build(Versioned(objs, {"EndpointSlice": slices, "Ingress": ingresses}))[0]
                 for objs, slices, ingresses in (
        ([SERVICE, slice_("127.0.0.2"), ingress("a.test")], 1, 1),
        ([SERVICE, slice_("127.0.0.3"), ingress("a.test")], 2, 1),  # endpoints only
        ([SERVICE, slice_("127.0.0.3"), ingress("b.test")], 2, 2),  # the table only
        ([SERVICE, slice_("127.0.0.4"), ingress("c.test")], 3, 3),  # both
    )]
    p = WorkerPool(snapshots[0], count=2, state_dir="", log_format="", seed=1, warn=print, rand=random.Random(1))
    early = fake_worker(0, shipped=0)
    p.workers[0] = early
    p.swap(snapshots[1])
    p.swap(snapshots[2])
    late = fake_worker(1, shipped=p._version)  # as _spawn: started now, with self._shipped (snapshots[2])
    p.workers[1] = late
    p.swap(snapshots[3])
    await settle(p)
    assert early.outbox.qsize() == 3 and late.outbox.qsize() == 1
    newest = snapshots[3]
    for worker, start in ((early, snapshots[0]), (late, snapshots[2])):
        state = applied(start, worker)
        assert pickle.dumps(state.table) == roundtripped(newest.table)
        assert pickle.dumps(state.endpoints) == roundtripped(newest.endpoints)
    # Endpoint-only changes are pickled at once; a change of configuration parts on the thread.
    assert len(threaded) == 2 and all({"table", "tls"} <= set(parts) for parts in threaded)
    assert "endpoints" not in threaded[0] and "endpoints" in threaded[1]
    await p.close()


async def test_a_swap_that_changes_nothing_ships_nothing():
    state = SnapshotBuilder().build(ManifestObjects([SERVICE]))[0]
    p = WorkerPool(state, count=1, state_dir="", log_format="", seed=None, warn=print, rand=random.Random(1))
    p.workers[0] = worker = fake_worker(0, shipped=0)
    p.swap(state)
    await asyncio.sleep(0.05)
    assert p._version == 0 and worker.outbox.empty()
    await p.close()


def test_the_yielding_pickler_writes_the_c_picklers_bytes():
    objs = [SERVICE, slice_("127.0.0.9"), *(ingress(f"h{i}.test") for i in range(50))]
    state = SnapshotBuilder().build(ManifestObjects(objs))[0]
    parts = {"table": state.table, "endpoints": state.endpoints}
    assert pool.dumps_yielding(parts) == pickle.dumps(parts, protocol=pool.PICKLE)
    assert pickle.dumps(loads_yielding(pool.dumps_yielding(parts))) == roundtripped(parts)
