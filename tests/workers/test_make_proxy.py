"""make_proxy: --workers 1 is this process's own ProxyServer; more is a WorkerPool, or 1 with a
message where SO_REUSEPORT does not spread connections. No process is started here."""

from __future__ import annotations

import random

import pytest

from ingressd.app import RunOptions
from ingressd.proxy.server import ProxyServer
from ingressd.routing.snapshot import ManifestObjects, SnapshotBuilder
from ingressd.workers import pool
from ingressd.workers.pool import WorkerPool, make_proxy


def snapshot():
    return SnapshotBuilder().build(ManifestObjects([]))[0]


@pytest.mark.parametrize("workers, unavailable, want_class, want_messages", [
    (1, None, ProxyServer, []),
    (1, "SO_REUSEPORT is not available on this platform (win32)", ProxyServer, []),
    (2, None, WorkerPool, []),
    (4, "SO_REUSEPORT does not spread connections across processes on this platform (darwin)", ProxyServer,
     ["ingressd: --workers 4: SO_REUSEPORT does not spread connections across processes on this platform "
      "(darwin); serving with 1 worker in this process"]),
])
def test_make_proxy(monkeypatch, workers, unavailable, want_class, want_messages):
    monkeypatch.setattr(pool, "reuseport_unavailable", lambda: unavailable)
    messages: list[str] = []
    proxy = make_proxy(RunOptions(paths=[], workers=workers, seed=5), messages.append, snapshot(),
                       rand=random.Random(5))
    assert type(proxy) is want_class
    assert messages == want_messages
    if want_class is WorkerPool:
        assert proxy.count == workers and proxy.seed == 5 and proxy.live() == []
