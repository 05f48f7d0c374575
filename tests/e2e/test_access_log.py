"""`ingressd run --access-log stdout|stderr|off|FILE` in a real subprocess."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import http_get, run_cli

LINE = '"GET /probe HTTP/1.1" 404'  # an unknown host: answered by the default backend, and logged


def wait_for(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.fixture
def manifests(tmp_path) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text("""\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
  - host: web.localtest.me
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
""")  # no pods needed: the requests go to a host no rule names
    return path


def start(ingressd, manifests: Path, *args: str):
    proc = ingressd("-f", str(manifests), *args)
    proc.wait_healthy()
    for _ in range(3):
        assert http_get(proc.http_port, "/probe", host="nobody.localtest.me")[0] == 404
    return proc


def test_off_writes_no_access_log(ingressd, manifests):
    proc = start(ingressd, manifests, "--access-log", "off")
    assert proc.stop() == 0  # stopping flushes whatever a log would have queued
    assert proc.stdout() == ""
    assert "GET /probe" not in proc.stderr()


def test_stderr_gets_the_access_log(ingressd, manifests):
    proc = start(ingressd, manifests, "--access-log", "stderr", "--log-format", "json")
    wait_for(lambda: proc.stderr().count('"request":"GET /probe HTTP/1.1"') == 3)
    assert proc.stop() == 0
    assert proc.stdout() == ""


def test_a_file_is_appended_to_while_running_and_reopened_on_sigusr1(ingressd, manifests, tmp_path):
    log = tmp_path / "logs" / "access.log"
    log.parent.mkdir()
    log.write_text("from before\n")
    proc = start(ingressd, manifests, "--access-log", str(log))
    wait_for(lambda: log.read_text().count(LINE) == 3)  # the periodic flush, not only the one at exit
    assert log.read_text().startswith("from before\n")
    log.rename(log.with_suffix(".log.1"))  # logrotate, then its postrotate `kill -USR1`
    os.kill(proc.proc.pid, signal.SIGUSR1)
    wait_for(log.exists)
    assert http_get(proc.http_port, "/probe", host="nobody.localtest.me")[0] == 404
    wait_for(lambda: LINE in log.read_text())
    assert proc.stop() == 0
    assert log.read_text().count(LINE) == 1
    assert log.with_suffix(".log.1").read_text().count(LINE) == 3
    assert proc.stdout() == ""


def test_a_file_called_off_is_written_as_dot_slash_off(ingressd, manifests, tmp_path):
    proc = start(ingressd, manifests, "--access-log", "./off")  # relative to the working directory, tmp_path
    wait_for(lambda: (tmp_path / "off").exists() and (tmp_path / "off").read_text().count(LINE) == 3)
    assert proc.stop() == 0
    assert proc.stdout() == ""


def test_a_missing_directory_stops_startup_with_status_2(manifests, tmp_path):
    target = tmp_path / "nowhere" / "access.log"
    result = run_cli("run", "-f", str(manifests), "--access-log", str(target), "--state-dir", str(tmp_path / "s"),
                     "--http-port", "0", "--https-port", "0", "--admin-port", "0")
    assert result.returncode == 2, result.stderr
    assert f"ingressd: --access-log {target}: cannot create {target}: directory {target.parent} does not exist" \
        in result.stderr
    assert result.stdout == ""
