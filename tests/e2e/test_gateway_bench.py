"""`ingressd bench --expect` against an HTTPRoute rule's weighted backendRefs (issue 13): the
demo's examples/gateway.yaml splits gateway.localtest.me 90/10 between web and web-canary."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

from tests.e2e.conftest import REPO, cli_env, wait_status


def bench(proc, *expect: str) -> subprocess.CompletedProcess:
    args = [arg for pair in expect for arg in ("--expect", pair)]
    return subprocess.run(
        [sys.executable, "-m", "ingressd", "bench", "--url", f"http://127.0.0.1:{proc.http_port}/",
         "--host", "gateway.localtest.me", "--requests", "10000", "--concurrency", "32",
         "--admin", f"http://127.0.0.1:{proc.admin_port}", "--json", "-", *args],
        check=False, capture_output=True, text=True, timeout=300, env=cli_env())


def test_bench_expect_on_httproute_weighted_backends(ingressd):
    proc = ingressd("-f", str(REPO / "config"), "-f", str(REPO / "examples" / "gateway.yaml"),
                    "--expose-upstream", "--seed", "1")
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "gateway.localtest.me", 200, 20)
    # the canary pod must be ready before measuring: the route's X-Canary header match forces it
    deadline = time.monotonic() + 20
    while True:
        request = urllib.request.Request(f"http://127.0.0.1:{proc.http_port}/",
                                         headers={"Host": "gateway.localtest.me", "X-Canary": "always"})
        with urllib.request.urlopen(request, timeout=5) as response:
            if json.loads(response.read())["version"] == "v2":
                break
        assert time.monotonic() < deadline, "the canary pod never became ready"
        time.sleep(0.1)

    result = bench(proc, "default-web-80=90%", "default-web-canary-80=10%")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = {row["name"]: row for row in report["backends"]}
    assert set(rows) == {"default-web-80", "default-web-canary-80"}
    low, high = rows["default-web-canary-80"]["ci99_9"]
    assert low <= 0.10 <= high
    assert report["test"]["sample_ratio_mismatch"] is False
    assert sum(row["count"] for row in rows.values()) == 10000

    # a wrong expectation is flagged (exit 3). Every backend is named: the admin API's canary list
    # (GET /ingressd/v1/canaries) has Ingress canaries only, so it cannot fill in the rest for an HTTPRoute.
    wrong = bench(proc, "default-web-80=80%", "default-web-canary-80=20%")
    assert wrong.returncode == 3, wrong.stderr
    assert json.loads(wrong.stdout)["test"]["sample_ratio_mismatch"] is True
