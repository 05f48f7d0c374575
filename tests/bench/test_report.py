"""The table and JSON document from a hand-made result (no sockets)."""

from __future__ import annotations

import json

import pytest

from ingressd.bench.expect import expectation
from ingressd.bench.loadgen import ERROR, UNKNOWN, LoadResult, LoadSpec
from ingressd.bench.report import BenchReport, format_table, to_json
from ingressd.bench.stats import chi_square_gof
from tests.bench.conftest import CANARY, MAIN, canary_item


def made_result() -> LoadResult:
    result = LoadResult(LoadSpec(url="http://127.0.0.1:8080/", host="demo.localtest.me", rate=100.0, requests=1003))
    for i in range(1, 1001):
        result.record(CANARY if i % 10 == 0 else MAIN, 503 if i == 7 else 200, i / 1000)  # 1 ms .. 1 s
    result.record(UNKNOWN, 404, 0.001)
    result.record_error(ConnectionResetError("reset by peer"))
    result.record_error(ConnectionResetError("reset by peer"))
    result.sent, result.elapsed, result.max_send_lag = 1003, 10.0, 0.5
    return result


def made_report() -> BenchReport:
    result = made_result()
    exp = expectation(canary_item(), {}, {}, {})
    return BenchReport(result, exp, chi_square_gof(result.attributed(), exp.shares), ("a note",))


def test_json_numbers():
    doc = to_json(made_report())
    json.dumps(doc, allow_nan=False)  # strict JSON: no NaN or Infinity
    names = [b["name"] for b in doc["backends"]]
    assert names == [MAIN, CANARY, UNKNOWN, ERROR]
    main, _, unknown, error = doc["backends"]
    assert main["count"] == 900 and main["share"] == pytest.approx(0.9) and main["status"]["5xx"] == 1
    assert unknown["share"] is None and unknown["status"]["4xx"] == 1
    assert error["status"]["errors"] == 2 and error["latency_ms"] is None
    summary = doc["summary"]
    assert (summary["sent"], summary["responses"], summary["errors"], summary["attributed"]) == (1003, 1001, 2, 1000)
    assert summary["error_kinds"] == {"ConnectionResetError: reset by peer": 2}
    assert summary["max_send_lag_ms"] == pytest.approx(500.0)
    lat = summary["latency_ms"]
    # 1..1000 ms uniformly, plus one 1 ms: HDR at 3 significant digits is within 0.1 %
    assert lat["p50"] == pytest.approx(500, rel=2e-3)
    assert lat["p90"] == pytest.approx(900, rel=2e-3)
    assert lat["p99"] == pytest.approx(990, rel=2e-3)
    assert lat["p99_9"] == pytest.approx(999, rel=2e-3)
    assert lat["max"] == pytest.approx(1000, rel=1e-3)
    assert lat["mean"] == pytest.approx(500.5 * 1000 / 1001 + 1 / 1001, rel=1e-9)
    assert doc["test"]["p_value"] == 1.0
    assert doc["config"]["mode"] == "open" and doc["config"]["concurrency"] is None


def test_infinite_statistic_is_null_in_json():
    result = made_result()
    exp = expectation(canary_item(), {"X-Canary": "never"}, {}, {})
    doc = to_json(BenchReport(result, exp, chi_square_gof(result.attributed(), exp.shares)))
    assert doc["test"]["chi_square"] is None and doc["test"]["sample_ratio_mismatch"] is True
    json.dumps(doc, allow_nan=False)
    assert "chi-square inf" in format_table(doc)


def test_table():
    text = format_table(to_json(made_report()))
    lines = text.splitlines()
    assert lines[0].startswith("http://127.0.0.1:8080/ Host demo.localtest.me: 1003 requests in 10.00 s")
    assert "fell up to 500 ms behind schedule" in lines[1]
    header = lines[2].split()
    assert header[:3] == ["backend", "count", "share"]
    main_row = next(line for line in lines if line.startswith(MAIN))
    assert "90.00%  87.98-91.71%" in main_row  # share, then the Wilson 95 % interval
    assert any(line.startswith("(error)") for line in lines)
    assert "errors: 2 x ConnectionResetError: reset by peer" in text
    assert "chi-square 0.00, df 1, p = 1: no sample-ratio mismatch" in text
    assert text.endswith("note: a note")
