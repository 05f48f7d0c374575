"""Binding the listeners: clashing ports, every privileged port reported at once, the admin address,
--reload-interval. Pure message building plus the app's bind step with bind() failing on purpose
(this machine may run as root, where ports below 1024 bind)."""

from __future__ import annotations

import errno
import io

import pytest
from aiohttp import web

from ingressd.app import Ingressd, RunOptions, StartupError
from ingressd.listeners import Listener, bind_errors_message, listeners, port_clash_message
from ingressd.cli import build_parser
from ingressd.proxy.server import ProxyServer

DENIED = OSError(errno.EACCES, "Permission denied")
IN_USE = OSError(errno.EADDRINUSE, "Address already in use")


def _wanted(**kw) -> list[Listener]:
    return listeners(RunOptions(paths=[], **kw))


def test_both_privileged_ports_are_reported_at_once_with_hints_that_do_not_clash():
    http, https, admin = _wanted()
    message = bind_errors_message([(http, DENIED), (https, DENIED)], [http, https, admin])
    assert "HTTP port 127.0.0.1:80 and the HTTPS port 127.0.0.1:443: permission denied" in message
    assert "--http-port 8080 --https-port 8443" in message
    assert "ip_unprivileged_port_start=80" in message
    assert len(message.splitlines()) == 1


def test_hints_avoid_the_ports_given_for_the_other_listeners():
    http, https, admin = _wanted(https_port=8080, admin_port=8081)
    message = bind_errors_message([(http, DENIED)], [http, https, admin])
    assert "--http-port 8082" in message
    assert "an unprivileged port, e.g. --http-port 8082," in message


def test_a_privileged_admin_port_gets_its_own_hint():
    http, https, admin = _wanted(admin_port=100)
    message = bind_errors_message([(http, DENIED), (https, DENIED), (admin, DENIED)], [http, https, admin])
    assert "--http-port 8080 --https-port 8443 --admin-port 10254" in message
    assert "the admin port 127.0.0.1:100" in message


def test_other_failures_are_listed_beside_the_privileged_ports():
    http, https, admin = _wanted(admin_port=9999)
    message = bind_errors_message([(http, DENIED), (admin, IN_USE)], [http, https, admin])
    first, second = message.splitlines()
    assert "permission denied" in first and "--http-port 8080" in first
    assert "127.0.0.1:9999: address already in use" in second and "--admin-port N" in second


@pytest.mark.parametrize(("options", "words"), [
    ({"http_port": 8080, "https_port": 8080}, ("--http-port 8080 and --https-port 8080 clash", "HTTP and HTTPS")),
    ({"http_port": 9000, "admin_port": 9000}, ("--http-port 9000 and --admin-port 9000 clash",)),
    ({"https_port": 9000, "admin_port": 9000, "bind": "0.0.0.0"}, ("--https-port 9000 and --admin-port 9000 clash",)),
])
def test_the_same_port_twice_is_a_clash_not_another_process(options, words):
    message = port_clash_message(_wanted(**options))
    assert message is not None
    for word in words:
        assert word in message
    assert "another process" not in message


@pytest.mark.parametrize("options", [
    {"http_port": 8080, "https_port": 8443, "admin_port": 10254},
    {"http_port": 0, "https_port": 0, "admin_port": 0},  # ephemeral ports never clash
    {"http_port": 9000, "admin_port": 9000, "bind": "192.0.2.1"},  # different addresses
])
def test_no_clash(options):
    assert port_clash_message(_wanted(**options)) is None


@pytest.fixture
def app(tmp_path):
    def make(**kw) -> Ingressd:
        app = Ingressd(RunOptions(paths=[], state_dir=str(tmp_path / "state"), certs_dir=str(tmp_path / "certs"), **kw),
                       out=io.StringIO(), err=io.StringIO())
        app.proxy = ProxyServer(app.build_state())
        return app
    return make


async def _bind(app: Ingressd) -> StartupError | None:
    try:
        await app._bind_all()
    except StartupError as exc:
        return exc
    finally:
        await app.stop()
    return None


async def test_every_privileged_port_fails_in_one_message(app, monkeypatch):
    """As a non-root user: bind() of a port below 1024 fails with EACCES (simulated here)."""
    real_listen, real_start = ProxyServer.listen, web.TCPSite.start

    async def listen(self, host, port, **kw):
        if 0 < port < 1024:
            raise OSError(errno.EACCES, "Permission denied")
        return await real_listen(self, host, port, **kw)

    async def start(self):
        if 0 < self._port < 1024:
            raise OSError(errno.EACCES, "Permission denied")
        return await real_start(self)

    monkeypatch.setattr(ProxyServer, "listen", listen)
    monkeypatch.setattr(web.TCPSite, "start", start)
    error = await _bind(app(http_port=80, https_port=443, admin_port=0))
    assert error is not None and error.status == 2
    assert "HTTP port 127.0.0.1:80 and the HTTPS port 127.0.0.1:443: permission denied" in error.message
    assert "--http-port 8080 --https-port 8443" in error.message


async def test_the_same_port_twice_fails_before_binding_anything(app):
    error = await _bind(app(http_port=0, https_port=0, admin_port=0, bind="127.0.0.1"))
    assert error is None
    error = await _bind(app(http_port=18080, https_port=18080, admin_port=0))
    assert error is not None and error.status == 2 and "clash" in error.message


async def test_admin_binds_loopback_by_default_whatever_bind_says(app):
    ingressd = app(bind="0.0.0.0", http_port=0, https_port=0, admin_port=0)
    try:
        await ingressd._bind_all()
        (site,) = ingressd.admin_runner.sites
        sockets = site._server.sockets
        assert [s.getsockname()[0] for s in sockets] == ["127.0.0.1"]
        assert "WARNING" not in ingressd.err.getvalue()
    finally:
        await ingressd.stop()


async def test_a_non_loopback_admin_bind_warns_that_the_token_travels_in_the_clear(app):
    ingressd = app(http_port=0, https_port=0, admin_port=0, admin_bind="0.0.0.0")
    try:
        await ingressd._bind_all()
        warning = ingressd.err.getvalue()
        assert "WARNING" in warning and "plain HTTP" in warning and "0.0.0.0" in warning
    finally:
        await ingressd.stop()


@pytest.mark.parametrize("value", ["0", "-1", "0.0", "nan", "inf", "soon"])
def test_reload_interval_must_be_positive(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["run", "--reload-interval", value])
    assert exit_.value.code == 2
    assert "--reload-interval" in capsys.readouterr().err


def test_reload_interval_and_admin_bind_parse():
    args = build_parser().parse_args(["run", "--reload-interval", "0.2", "--bind", "0.0.0.0"])
    assert (args.reload_interval, args.bind, args.admin_bind) == (0.2, "0.0.0.0", "127.0.0.1")
