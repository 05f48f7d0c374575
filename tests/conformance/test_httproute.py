"""Gateway API conformance (kubernetes-sigs/gateway-api v1.2.1 `conformance/tests/httproute-*.go`),
translated to tables (tests/conformance/tables.py) and run through real sockets against one
`ingressd run` holding upstream's base setup (conftest.py).

test_requests: every row of an upstream test's `testCases`, eventually consistent as upstream's
MakeRequestAndExpectEventuallyConsistentResponse. test_status: the conditions upstream asserts
(GatewayAndHTTPRoutesMustBeAccepted, HTTPRouteMustHaveResolvedRefsConditionsTrue,
HTTPRouteMustHaveCondition), read through the admin API.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from tests.conformance.harness import (
    CONSECUTIVE,
    CONSISTENCY_TIMEOUT,
    INFRA,
    Case,
    Exp,
    Req,
    parent_conditions,
    wait_until,
)
from tests.conformance.tables import BY_NAME, TABLES, Table

REQUEST_TABLES = [t for t in TABLES if t.cases]
STATUS_TABLES = [t for t in TABLES if t.status]
ATTACHED_TABLES = [t for t in TABLES if t.attached]
MIRROR_TABLES = [t for t in TABLES if t.mirrored]
SETTLED_TIMEOUT = 3.0


def _id(table: Table) -> str:
    return table.test


@pytest.mark.parametrize("table", REQUEST_TABLES, ids=_id, indirect=True)
def test_requests(gw, table: Table):
    # The first row that reaches a backend first: it shows the routes are in the proxy, so a 404
    # row cannot pass on a snapshot from before the apply.
    ordered = sorted(table.cases, key=lambda c: c.exp.backend is None)
    failures = []
    for i, case in enumerate(ordered):
        try:  # once the first row held, the routes are live: the others get a short while only
            gw.expect(case, timeout=CONSISTENCY_TIMEOUT if i == 0 else SETTLED_TIMEOUT)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, f"{table.test} ({table.file}): {len(failures)} of {len(table.cases)} rows:\n" + "\n".join(failures)


@pytest.mark.parametrize("table", STATUS_TABLES, ids=_id, indirect=True)
def test_status(gw, table: Table):
    for ns, name, gateway_name, want in table.status:
        last: dict = {}

        def conditions_match(ns=ns, name=name, gateway_name=gateway_name, want=want, last=last) -> bool:
            route = gw.get({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                            "metadata": {"namespace": ns, "name": name}}) or {}
            got = parent_conditions(route, gateway_name) or {}
            last.update(route=route.get("status"), got=got)
            return all(got.get(t) == w for t, w in want.items())

        try:
            wait_until(conditions_match, "")
        except AssertionError:
            pytest.fail(f"{table.test} ({table.file}): HTTPRoute {ns}/{name} on Gateway {gateway_name}: "
                        f"want {want}, got {last.get('got')} (status: {last.get('route')})")


@pytest.mark.parametrize("table", ATTACHED_TABLES, ids=_id, indirect=True)
def test_attached_routes(gw, table: Table):
    """GatewayMustHaveZeroRoutes and the like: the listener's status.attachedRoutes."""
    for gateway_name, listener_name, want in table.attached:
        path = f"/apis/gateway.networking.k8s.io/v1/namespaces/{INFRA}/gateways/{gateway_name}"
        last: list = [None]

        def attached(path=path, listener_name=listener_name, want=want, last=last) -> bool:
            listeners = (gw.api_get(path)[1].get("status") or {}).get("listeners") or ()
            last[0] = [(item.get("name"), item.get("attachedRoutes")) for item in listeners]
            return (listener_name, want) in last[0]

        try:
            wait_until(attached, "")
        except AssertionError:
            pytest.fail(f"{table.test} ({table.file}): Gateway {gateway_name} listener {listener_name}: "
                        f"want attachedRoutes {want}, got {last[0]}")


@pytest.mark.parametrize("table", MIRROR_TABLES, ids=_id, indirect=True)
def test_mirrored(gw, table: Table):
    """ExpectMirroredRequest: each mirror backend's log shows the request (a marker query parameter
    tells this request from earlier ones)."""
    for path, targets in table.mirrored:
        marker = f"{path}?mirror-check={uuid.uuid4().hex}"
        gw.expect(Case(Req(marker), Exp(backend="infra-backend-v1")))
        for target in targets:
            last: list = [None]

            def logged(target=target, marker=marker, last=last) -> bool:
                last[0] = gw.pod_logs(INFRA, target)
                return any(f"request made to {marker} " in text for text in last[0].values())

            try:
                wait_until(logged, "")
            except AssertionError:
                pytest.fail(f"{table.test} ({table.file}): {marker} never reached {target}: logs {last[0]}")


@pytest.mark.parametrize("table", [BY_NAME["HTTPRouteBackendProtocolWebSocket"]], ids=_id, indirect=True)
def test_websocket(gw, table: Table):
    """HTTPRouteBackendProtocolWebSocket (httproute-backend-protocol-websocket.go): through the
    Service port with appProtocol kubernetes.io/ws, a text and a binary frame come back unchanged."""
    import aiohttp

    async def round_trip() -> tuple[str, bytes]:
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"http://127.0.0.1:{gw.http_port}/ws", origin="ws://gateway/test_websocket",
                timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
            await ws.send_str("Websocket Support!")
            text = await ws.receive_str(timeout=5)
            await ws.send_bytes(bytes([1, 2, 3, 4, 5, 6, 7]))
            return text, await ws.receive_bytes(timeout=5)

    last: list = [None]

    def converged() -> bool:
        try:
            last[0] = asyncio.run(round_trip())
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            last[0] = repr(exc)
        return last[0] == ("Websocket Support!", bytes([1, 2, 3, 4, 5, 6, 7]))

    for _ in range(CONSECUTIVE):
        try:
            wait_until(converged, "")
        except AssertionError:
            pytest.fail(f"{table.test} ({table.file}): {last[0]}")


@pytest.mark.parametrize("table", [BY_NAME["HTTPRouteWeight"]], ids=_id, indirect=True)
def test_weight_distribution(gw, table: Table):
    """HTTPRouteWeight (httproute-weight.go): 500 requests split 70/30/0 within 5 points; only two
    backends get traffic."""
    wait_until(lambda: gw.send(Req("/")).status == 200, "the weighted route never served")
    seen: Counter[str] = Counter()
    for _ in range(500):
        answer = gw.send(Req("/"))
        assert answer.status == 200 and answer.echo is not None, answer
        seen[answer.echo["pod"].rsplit("-", 2)[0]] += 1
    assert set(seen) == {"infra-backend-v1", "infra-backend-v2"}, seen
    assert abs(seen["infra-backend-v1"] / 500 - 0.7) <= 0.05, seen
    assert abs(seen["infra-backend-v2"] / 500 - 0.3) <= 0.05, seen
