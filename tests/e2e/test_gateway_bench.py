"""`ingressd bench` against an HTTPRoute rule's weighted backendRefs (issue 13): the demo's
examples/gateway.yaml splits gateway.localtest.me 90/10 between web and web-canary. Without
--expect bench derives that split from the running instance (GET /ingressd/v1/explain: the
proxy's own decision for the benchmarked request); a partial --expect gets the rest derived."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

from tests.e2e.conftest import REPO, cli_env, free_port, wait_status


def bench(proc, *expect: str, requests: int = 10000, path: str = "/", extra=(), url: str | None = None,
          host: str = "gateway.localtest.me") -> subprocess.CompletedProcess:
    args = [arg for pair in expect for arg in ("--expect", pair)]
    return subprocess.run(
        [sys.executable, "-m", "ingressd", "bench", "--url", url or f"http://127.0.0.1:{proc.http_port}{path}",
         "--host", host, "--requests", str(requests), "--concurrency", "32", *extra,
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

    # no --expect: the admin API's explanation of GET gateway.localtest.me/ names the rule and its weights
    derived = bench(proc)
    assert derived.returncode == 0, derived.stderr
    report = json.loads(derived.stdout)
    assert report["expected"]["kind"] == "HTTPRoute" and report["expected"]["source"] == "admin"
    assert report["expected"]["shares"] == {"default-web-80": 0.9, "default-web-canary-80": 0.1}
    assert report["expected"]["route"]["route"] == "default/web" and report["expected"]["route"]["rule"] == 2
    assert report["expected"]["step"] == "weight"
    rows = {row["name"]: row for row in report["backends"]}
    assert set(rows) == {"default-web-80", "default-web-canary-80"}
    assert rows["default-web-canary-80"]["expected_share"] == 0.1
    low, high = rows["default-web-canary-80"]["ci99_9"]
    assert low <= 0.10 <= high
    assert report["test"]["sample_ratio_mismatch"] is False
    assert sum(row["count"] for row in rows.values()) == 10000
    assert "expected shares from admin: HTTPRoute default/web rule 2 on gateway.localtest.me" in derived.stderr

    # every backend named, as before
    result = bench(proc, "default-web-80=90%", "default-web-canary-80=10%", requests=4000)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["test"]["sample_ratio_mismatch"] is False

    # partial: the canary alias (the rule's second backendRef) or one upstream; the rest is derived
    for partial in ("canary=10%", "default-web-canary-80=10%"):
        result = bench(proc, partial, requests=4000)
        assert result.returncode == 0, result.stderr
        expected = json.loads(result.stdout)["expected"]
        assert expected["source"] == "admin and --expect"
        assert expected["shares"] == {"default-web-canary-80": 0.1, "default-web-80": 0.9}

    # a wrong expectation is flagged (exit 3), partial or complete, as for an Ingress canary
    for wrong in (("default-web-canary-80=30%",), ("default-web-80=80%", "default-web-canary-80=20%")):
        result = bench(proc, *wrong, requests=4000)
        assert result.returncode == 3, result.stderr
        assert json.loads(result.stdout)["test"]["sample_ratio_mismatch"] is True

    # the header match routes to the single-backendRef rule: all web-canary; the redirect has no backend
    forced = bench(proc, requests=500, extra=("--header", "X-Canary=always"))
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["expected"]["shares"] == {"default-web-canary-80": 1.0}
    redirect = bench(proc, requests=50, path="/old")
    assert redirect.returncode == 0, redirect.stderr
    doc = json.loads(redirect.stdout)
    assert doc["expected"] is None and doc["test"] is None
    assert any("RequestRedirect answers 301 to http://gateway.localtest.me/, no backend" in n for n in doc["notes"])
    # aliases need a rule with two backendRefs: a usage error before any request is sent
    alias = bench(proc, "canary=50%", requests=50, path="/old")
    assert alias.returncode == 2 and "has no backend that serves" in alias.stderr, alias.stderr


ALT_LISTENER = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: alt}
spec:
  gatewayClassName: ingressd
  listeners: [{name: alt, protocol: HTTP, port: PORT, hostname: alt.localtest.me}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: alt}
spec:
  parentRefs: [{name: alt}]
  hostnames: [alt.localtest.me]
  rules:
    - backendRefs: [{name: web, port: 80, weight: 1}, {name: web-canary, port: 80, weight: 1}]
"""


def test_bench_derives_the_split_over_https_and_on_another_listener_port(ingressd, tmp_path):
    port = free_port()
    alt = tmp_path / "alt.yaml"
    alt.write_text(ALT_LISTENER.replace("PORT", str(port)))
    proc = ingressd("-f", str(REPO / "config"), "-f", str(REPO / "examples" / "gateway.yaml"), "-f", str(alt),
                    "--expose-upstream", "--seed", "1")
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "gateway.localtest.me", 200, 20)
    wait_status(port, "/", "alt.localtest.me", 200, 20)

    # https (the listener on --https-port, port 443 to the Gateway): the same rule, the same 90/10
    https = bench(proc, requests=2000, url=f"https://127.0.0.1:{proc.https_port}/")
    assert https.returncode == 0, https.stderr
    expected = json.loads(https.stdout)["expected"]
    assert expected["kind"] == "HTTPRoute" and expected["shares"] == {"default-web-80": 0.9,
                                                                       "default-web-canary-80": 0.1}

    # a listener on its own port: --listener-port names it, as `ingressd explain --port` does
    url = f"http://127.0.0.1:{port}/"
    split = bench(proc, requests=2000, url=url, host="alt.localtest.me", extra=("--listener-port", str(port)))
    assert split.returncode == 0, split.stderr
    doc = json.loads(split.stdout)
    assert doc["expected"]["shares"] == {"default-web-80": 0.5, "default-web-canary-80": 0.5}
    assert doc["expected"]["route"]["route"] == "default/alt"
    # without it the request is explained as one on --http-port, where no route attaches to that host
    guess = bench(proc, requests=20, url=url, host="alt.localtest.me")
    assert guess.returncode == 0 and json.loads(guess.stdout)["expected"] is None
