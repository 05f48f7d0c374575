"""Instances side by side: each ingressd takes its own pod address block, so two with the same
manifests both serve from their own pods, and a pod that cannot bind is shown, not hidden."""

from __future__ import annotations

import json
import re
import socket
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from tests.e2e.conftest import Ingressd, echo_app_yaml, http_get, run_cli, wait_status

HOST_NAME = "side.test"


def start_in(directory: Path, manifest: Path, *args: str, state_dir: str | None = ".ingressd") -> Ingressd:
    directory.mkdir(exist_ok=True)
    return Ingressd(["-f", str(manifest), *args], directory, state_dir=state_dir)


def pod_network(proc: Ingressd) -> IPv4Network:
    match = re.search(r"ingressd: pod addresses (\S+) ", proc.stderr())
    assert match, proc.stderr()
    return IPv4Network(match.group(1))


def served_by(proc: Ingressd) -> str:
    """The podIP of the pod that answered through this instance's proxy."""
    status, _, body = http_get(proc.http_port, "/", host=HOST_NAME)
    assert status == 200, body
    return json.loads(body)["podIP"]


def test_two_instances_with_the_same_manifests_serve_side_by_side(tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(echo_app_yaml("side", HOST_NAME))
    procs = []
    try:
        # The default state dir `.ingressd` in two directories: two blocks, two sets of pods. (A
        # third with the very same state dir is refused: its store is in use, tests/e2e/test_restart.py.)
        procs = [start_in(tmp_path / "a", manifest), start_in(tmp_path / "b", manifest)]
        for proc in procs:
            proc.wait_healthy()
        for proc in procs:
            wait_status(proc.http_port, "/", HOST_NAME, 200, timeout=20)
        networks = [pod_network(proc) for proc in procs]
        assert len(set(networks)) == 2
        assert not networks[0].overlaps(networks[1])
        assert not any("taken by other instances" in proc.stderr() for proc in procs)
        for proc, network in zip(procs, networks):
            assert IPv4Address(served_by(proc)) in network
            assert http_get(proc.admin_port, "/healthz")[2] == b"ok"
        again = start_in(tmp_path / "a" / "again", manifest, state_dir="../.ingressd")
        assert again.proc.wait(30) == 2
        assert "is in use by another ingressd running with the same --state-dir" in again.stderr()
    finally:
        for proc in procs:
            proc.stop()
    assert [proc.proc.returncode for proc in procs] == [0, 0]


def test_a_pod_cidr_in_use_is_refused_and_a_pod_that_cannot_bind_is_shown(tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(echo_app_yaml("side", HOST_NAME))
    cidr = "127.1.244.0/24"  # among the tests' fixed blocks, away from derived ones
    first = start_in(tmp_path / "a", manifest, "--pod-cidr", cidr)
    try:
        first.wait_healthy()
        second = start_in(tmp_path / "b", manifest, "--pod-cidr", cidr)
        assert second.proc.wait(30) == 2
        assert f"pod CIDR {cidr} is in use by another ingressd instance" in second.stderr()
    finally:
        first.stop()

    # Something else listens on the first pod address: the pod crash-loops, and says so.
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.1.244.1", 8080))
        squatter.listen()
        proc = start_in(tmp_path / "c", manifest, "--pod-cidr", cidr)
        try:
            proc.wait_healthy()
            deadline = time.monotonic() + 20
            while b"cannot bind" not in (body := http_get(proc.admin_port, "/healthz")[2]):
                assert time.monotonic() < deadline, body
                time.sleep(0.1)
            status, _, body = http_get(proc.admin_port, "/healthz")
            assert status == 200
            lines = body.decode().splitlines()
            assert lines[0] == "ok"
            assert re.fullmatch(r"pod default/side-\S+ container echo cannot bind: cannot listen on "
                                r"127\.1\.244\.1:8080: .*", lines[1]), lines
            server = f"http://127.0.0.1:{proc.admin_port}"
            events = run_cli("get", "events", "--server", server, timeout=30).stdout
            assert "Failed" in events and "127.1.244.1:8080" in events, events
            pod_name = re.search(r"pod default/(\S+) ", lines[1]).group(1)
            described = run_cli("describe", "pod", pod_name, "--server", server, timeout=30).stdout
            assert "127.1.244.1:8080" in described, described
        finally:
            proc.stop()


def test_a_pod_cidr_outside_loopback_is_refused_with_the_reason(tmp_path):
    result = run_cli("run", "--pod-cidr", "10.1.0.0/24", "--state-dir", str(tmp_path / "s"), timeout=30)
    assert result.returncode == 2
    assert "--pod-cidr: 10.1.0.0/24 is not inside 127.0.0.0/8" in result.stderr
