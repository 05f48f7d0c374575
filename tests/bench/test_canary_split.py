"""benchmarks/canary_split.py without starting ingressd: its manifests and its verdicts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from ingressd.bench.expect import expectation
from ingressd.bench.loadgen import LoadResult, LoadSpec
from ingressd.bench.runner import judge
from ingressd.objects.manifests import load_paths

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "canary_split.py"


@pytest.fixture(scope="module")
def canary_split():
    spec = importlib.util.spec_from_file_location("canary_split", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["canary_split"] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["canary_split"]


def test_manifests_are_valid_and_give_every_scenario_host_a_main_and_a_canary(canary_split, tmp_path):
    canary_split.write_manifests(tmp_path / "m")
    loaded = load_paths([str(tmp_path / "m")])
    assert not loaded.errors, loaded.errors
    ingresses = [m.obj for m in loaded.manifests if m.obj["kind"] == "Ingress"]
    hosts = {}
    for ing in ingresses:
        annotations = ing["metadata"].get("annotations", {})
        role = "canary" if annotations.get("nginx.ingress.kubernetes.io/canary") == "true" else "main"
        hosts.setdefault(ing["spec"]["rules"][0]["host"], []).append(role)
    assert hosts == {host: ["main", "canary"] for host in canary_split.CANARIES}
    assert {s.host for s in canary_split.SCENARIOS} == set(canary_split.CANARIES)


def _item(canary_split, host: str) -> dict:
    policy = canary_split.CANARIES[host]
    return {
        "host": host, "path": "/", "pathType": "Prefix", "main": canary_split.MAIN_UPSTREAM,
        "canary": canary_split.CANARY_UPSTREAM, "canaryIngress": "default/canary",
        "weight": int(policy["canary-weight"]), "weightTotal": 100,
        "byHeader": policy.get("canary-by-header"), "byHeaderValue": policy.get("canary-by-header-value"),
        "byHeaderPattern": policy.get("canary-by-header-pattern"), "byCookie": policy.get("canary-by-cookie"),
    }


def test_every_scenario_configures_what_the_reference_decides(canary_split):
    # The bench's own reading of the reference, applied to the script's annotations, must give the
    # share each scenario claims: otherwise the script would blame ingressd for its own typo.
    for sc in canary_split.SCENARIOS:
        exp = expectation(_item(canary_split, sc.host), dict(sc.headers), dict(sc.cookies), {})
        assert exp.shares[canary_split.CANARY_UPSTREAM] == pytest.approx(sc.configured), sc.name


def _report(canary_split, sc, canary: int, main: int, overrides=None):
    result = LoadResult(LoadSpec(url="http://127.0.0.1:1/", host=sc.host, requests=canary + main))
    for i in range(canary + main):
        result.record(canary_split.CANARY_UPSTREAM if i < canary else canary_split.MAIN_UPSTREAM, 200, 0.001)
    result.sent = canary + main
    exp = expectation(_item(canary_split, sc.host), dict(sc.headers), dict(sc.cookies), overrides or {})
    return judge(result, exp, [])


def test_evaluate(canary_split):
    weight_10 = next(s for s in canary_split.SCENARIOS if s.name == "weight-10")
    good = canary_split.evaluate(weight_10, _report(canary_split, weight_10, 1000, 9000))
    assert good.problems == [] and not good.mismatch
    skewed = canary_split.evaluate(weight_10, _report(canary_split, weight_10, 2000, 8000))
    assert skewed.mismatch and "sample-ratio mismatch" in skewed.problems
    disagreeing = canary_split.evaluate(weight_10, _report(canary_split, weight_10, 2000, 8000, {"canary": 0.2}))
    assert not disagreeing.mismatch
    assert any("admin API expects 0.2" in p for p in disagreeing.problems)
