"""The composition root's routing snapshot: which store events rebuild which part (no sockets)."""

from __future__ import annotations

import asyncio
import io

import pytest

from ingressd.app import Ingressd, RunOptions
from ingressd.proxy.server import ProxyServer

HEADLESS = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "default"},
            "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432, "targetPort": 5432}]}}
SLICE = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "db-abc", "namespace": "default", "labels": {"kubernetes.io/service-name": "db"}},
         "addressType": "IPv4", "ports": [{"name": "pg", "port": 5432}],
         "endpoints": [{"addresses": ["127.1.0.5"], "hostname": "db-0", "conditions": {"ready": True},
                        "targetRef": {"kind": "Pod", "name": "db-0"}}]}
TLS_INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "default"},
               "spec": {"tls": [{"hosts": ["web.test"], "secretName": "missing-tls"}],
                        "rules": [{"host": "web.test", "http": {"paths": [
                            {"path": "/", "pathType": "Prefix",
                             "backend": {"service": {"name": "db", "port": {"number": 5432}}}}]}}]}}


def config_map(name: str, value: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": {"key": value}}


@pytest.fixture
def app(tmp_path):
    """An Ingressd whose store feeds a ProxyServer that never listens: refresh_routing swaps its state."""
    app = Ingressd(RunOptions(paths=[], state_dir=str(tmp_path / "state"), certs_dir=str(tmp_path / "certs")),
                   out=io.StringIO(), err=io.StringIO())
    app.store.subscribe(app._on_store_event)
    app.proxy = ProxyServer(app.build_state())
    return app


def resolves(app: Ingressd, host: str = "db-0.db.default.svc.cluster.local") -> bool:
    return app.proxy.state.pods.resolve(host) is not None


def test_an_unrelated_object_keeps_per_pod_names(app):
    app.store.apply(HEADLESS)
    app.store.apply(SLICE)
    app.refresh_routing()
    assert resolves(app)
    app.store.apply(config_map("unrelated", "1"))
    app.refresh_routing()
    assert resolves(app)
    app.store.apply(config_map("unrelated", "2"))
    app.refresh_routing()
    assert resolves(app)


def test_an_unrelated_object_does_not_rebuild_the_snapshot(app):
    app.store.apply(HEADLESS)
    app.store.apply(SLICE)
    app.store.apply(TLS_INGRESS)
    app.refresh_routing()
    before = app.proxy.state
    app.store.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
                     "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "d"}},
                              "template": {"metadata": {"labels": {"app": "d"}},
                                           "spec": {"containers": [{"name": "c", "image": "ingressd/echo:1.0"}]}}}})
    app.refresh_routing()
    after = app.proxy.state
    assert (after.table, after.endpoints, after.tls, after.pods) == (before.table, before.endpoints, before.tls,
                                                                    before.pods)
    assert all(a is b for a, b in zip((after.table, after.endpoints, after.tls, after.pods),
                                      (before.table, before.endpoints, before.tls, before.pods)))


def parts(state) -> tuple:
    return state.table, state.endpoints, state.tls, state.pods


def test_only_the_controller_configmap_rebuilds_routes_and_settings(tmp_path):
    app = Ingressd(RunOptions(paths=[], state_dir=str(tmp_path / "state"), certs_dir=str(tmp_path / "certs"),
                              configmap="ingress-nginx/controller"), out=io.StringIO(), err=io.StringIO())
    app.store.subscribe(app._on_store_event)
    app.store.apply(TLS_INGRESS)
    app.proxy = ProxyServer(app.build_state())
    before = app.proxy.state
    app.store.apply(config_map("unrelated", "1"))
    app.refresh_routing()
    assert app.proxy.state is before  # nothing it reads changed: not even a new snapshot
    controller = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "controller", "namespace": "ingress-nginx"},
                  "data": {"proxy-body-size": "2m", "hsts": "false", "client-header-timeout": "7"}}
    app.store.apply(controller)
    app.refresh_routing()
    after = app.proxy.state
    assert after.table is not before.table  # location defaults: proxy-body-size
    assert after.table.locations[0].config.proxy_body_size == 2 * 1024 * 1024
    assert after.tls is before.tls and after.endpoints is before.endpoints  # they read no ConfigMap
    assert (after.hsts, app.proxy.hsts) == (None, None)
    assert app.proxy.limits.client_header_timeout == 7
    app.store.apply({**controller, "data": {**controller["data"], "unknown-key": "x"}})
    app.refresh_routing()
    assert app.proxy.state.table is after.table  # same settings: the routes are not rebuilt


def test_endpoint_changes_rebuild_per_pod_names(app):
    app.store.apply(HEADLESS)
    app.refresh_routing()
    assert not resolves(app)
    app.store.apply(SLICE)
    app.refresh_routing()
    assert resolves(app)
    app.store.delete("EndpointSlice", "default", "db-abc")
    app.refresh_routing()
    assert not resolves(app)


def test_a_missing_secret_is_reported_once_across_unrelated_events(app):
    app.store.apply(TLS_INGRESS)
    app.refresh_routing()
    for i in range(4):
        app.store.apply(config_map("unrelated", str(i)))
        app.refresh_routing()
    app.store.apply(HEADLESS)
    app.refresh_routing()
    lines = [line for line in app.err.getvalue().splitlines() if "missing-tls" in line]
    assert len(lines) == 1, app.err.getvalue()


def test_a_warning_that_goes_and_comes_back_is_reported_again(app):
    app.store.apply(TLS_INGRESS)
    app.refresh_routing()
    app.store.delete("Ingress", "default", "web")
    app.refresh_routing()
    app.store.apply(TLS_INGRESS)
    app.refresh_routing()
    lines = [line for line in app.err.getvalue().splitlines() if "missing-tls" in line]
    assert len(lines) == 2, app.err.getvalue()


def test_the_controller_configmap_warning_is_reported_once(tmp_path):
    app = Ingressd(RunOptions(paths=[], state_dir=str(tmp_path / "state"), certs_dir=str(tmp_path / "certs"),
                              configmap="ingress-nginx/ingress-nginx-controller"),
                   out=io.StringIO(), err=io.StringIO())
    app.store.subscribe(app._on_store_event)
    app.proxy = ProxyServer(app.build_state())
    for i in range(3):
        app.store.apply(config_map("unrelated", str(i)))
        app.refresh_routing()
    lines = [line for line in app.err.getvalue().splitlines() if "no such ConfigMap" in line]
    assert len(lines) == 1, app.err.getvalue()


def fake_awatch(fail_when):
    calls = []

    async def awatch(*roots, force_polling=None, **_kwargs):
        calls.append(force_polling)
        if fail_when(force_polling):
            raise OSError(28, "inotify watch limit reached")
        while True:  # a change now and then
            yield {(2, roots[0])}
            await asyncio.sleep(0.01)

    return awatch, calls


@pytest.mark.parametrize("fail_when, want_calls, warnings", [
    (lambda polling: False, [None], 0),
    (lambda polling: not polling, [None, True], 1),  # no inotify: watchfiles polls instead
    (lambda polling: True, [None, True], 2),  # nothing works: a plain timer
])
async def test_file_events_fall_back_to_polling(tmp_path, monkeypatch, fail_when, want_calls, warnings):
    awatch, calls = fake_awatch(fail_when)
    monkeypatch.setattr("ingressd.app.watchfiles.awatch", awatch)
    app = Ingressd(RunOptions(paths=[str(tmp_path)], state_dir=str(tmp_path / "state"), reload_interval=0.01),
                   out=io.StringIO(), err=io.StringIO())
    woken = asyncio.Event()
    task = asyncio.create_task(app._file_events(woken))
    try:
        for _ in range(2):  # woken by the watch that works (or the timer), also after a failed one
            await asyncio.wait_for(woken.wait(), 5)
            woken.clear()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert calls == want_calls
    assert app.err.getvalue().count("cannot watch the manifests") == warnings, app.err.getvalue()


def test_route_changes_are_printed_on_rebuilds_but_not_for_endpoint_changes(app):
    app.print_route_changes()  # start: nothing yet
    assert app.err.getvalue() == ""
    app.store.apply(HEADLESS)
    app.store.apply(TLS_INGRESS)
    app.refresh_routing()
    added = "+ web.test/ Prefix → default/db:5432 (0/0 ready), TLS\n"
    assert app.err.getvalue().endswith(added)
    app.err.truncate(0), app.err.seek(0)
    app.store.apply(SLICE)  # endpoints only: counts change, routes do not
    app.refresh_routing()
    assert app.err.getvalue() == ""
    edited = {**TLS_INGRESS, "spec": {**TLS_INGRESS["spec"], "rules": [{"host": "web.test", "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "db", "port": {"name": "pg"}}}}]}}]}}
    app.store.apply(edited)
    app.refresh_routing()
    assert app.err.getvalue() == ("~ web.test/ Prefix → default/db:pg (1/1 ready), TLS "
                                  "(backend was default/db:5432)\n")
    app.err.truncate(0), app.err.seek(0)
    app.store.delete("Ingress", "default", "web")
    app.refresh_routing()
    assert app.err.getvalue() == "− web.test/ Prefix → default/db:pg, TLS\n"
