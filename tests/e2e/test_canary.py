"""Canary acceptance through the real CLI: bench on a 10 % split, explain on a header-forced canary."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

from tests.e2e.conftest import REPO, cli_env, run_cli, wait_status


def bench(proc, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ingressd", "bench", "--url", f"http://127.0.0.1:{proc.http_port}/",
         "--host", "demo.localtest.me", "--requests", "10000", "--concurrency", "32",
         "--admin", f"http://127.0.0.1:{proc.admin_port}", "--json", "-", *extra],
        capture_output=True, text=True, timeout=300, env=cli_env())


def test_bench_reports_the_ten_percent_split_and_flags_a_wrong_expectation(ingressd):
    proc = ingressd("-f", str(REPO / "config"), "--expose-upstream", "--seed", "1")
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "demo.localtest.me", 200, 20)
    # the canary pod must be ready too before measuring the split: force it until v2 answers
    deadline = time.monotonic() + 20
    while True:
        request = urllib.request.Request(f"http://127.0.0.1:{proc.http_port}/",
                                         headers={"Host": "demo.localtest.me", "X-Canary": "always"})
        with urllib.request.urlopen(request, timeout=5) as response:
            if json.loads(response.read())["version"] == "v2":
                break
        assert time.monotonic() < deadline, "the canary pod never became ready"
        time.sleep(0.1)

    result = bench(proc)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = {row["name"]: row for row in report["backends"]}
    canary = rows["default-web-canary-80"]
    low, high = canary["ci99_9"]
    assert low <= 0.10 <= high
    assert report["test"]["sample_ratio_mismatch"] is False
    assert sum(row["count"] for row in rows.values()) == 10000

    wrong = bench(proc, "--expect", "canary=0.2")
    assert wrong.returncode == 3, wrong.stderr
    assert json.loads(wrong.stdout)["test"]["sample_ratio_mismatch"] is True


def test_explain_names_the_header_step():
    result = run_cli("explain", "-f", str(REPO / "config"), "--host", "demo.localtest.me", "--path", "/",
                     "--header", "X-Canary=always")
    assert result.returncode == 0, result.stderr
    decision = [line for line in result.stdout.splitlines() if line.startswith("decision:")]
    assert decision == ['decision: header step: header "X-Canary: always" forces the canary -> canary']
    assert "Ingress default/demo-canary" in result.stdout


def test_explain_exits_1_when_nothing_matches():
    result = run_cli("explain", "-f", str(REPO / "config"), "--host", "nowhere.test", "--path", "/")
    assert result.returncode == 1
    assert "no rule matches" in result.stdout


def test_affinity_cookie_keeps_200_requests_on_one_pod(ingressd, tmp_path):
    from tests.e2e.conftest import echo_app_yaml

    manifests = tmp_path / "m"
    manifests.mkdir()
    text = echo_app_yaml("sticky", "sticky.test", annotations={"affinity": "cookie"}).replace(
        "replicas: 1", "replicas: 3")
    (manifests / "sticky.yaml").write_text(text)
    proc = ingressd("-f", str(manifests))
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "sticky.test", 200, 20)

    def get(cookie: str | None = None):
        headers = {"Host": "sticky.test"}
        if cookie:
            headers["Cookie"] = cookie
        request = urllib.request.Request(f"http://127.0.0.1:{proc.http_port}/", headers=headers)
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())["pod"], response.headers.get("Set-Cookie")

    # wait until all three pods serve, so stickiness is not trivially true
    deadline = time.monotonic() + 20
    while len({get()[0] for _ in range(30)}) < 3:
        assert time.monotonic() < deadline, "three pods never served"
    pod, set_cookie = get()
    cookie = set_cookie.split(";", 1)[0]
    assert cookie.startswith("INGRESSCOOKIE=")
    assert {get(cookie)[0] for _ in range(200)} == {pod}
