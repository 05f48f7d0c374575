"""Pipelining edge cases through real sockets: requests answered in order, connections resumed
after a pause, nothing held forever."""

from __future__ import annotations

from tests.proxy.test_hardening import SMUGGLED, exchange, raw_backend, routes  # noqa: F401  (raw_backend: a fixture)


async def test_bytes_after_an_upgrade_request_answered_locally_are_parsed(raw_backend, start_proxy):
    """The upgrade request gets a local 404 (no route): what follows it is HTTP at once, not held
    for an upstream answer that will never come."""
    backend = await raw_backend()
    proxy = await start_proxy(routes(backend.port))
    upgrade = b"GET /nowhere HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n"
    got = await exchange(proxy.port, upgrade + SMUGGLED, 2, timeout=3)
    assert [status for status, _ in got.done] == [404, 404]
    assert backend.received == b""

