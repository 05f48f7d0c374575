"""`ingressd bench` end to end against the stand-in proxy and admin port: exit status, table, JSON."""

from __future__ import annotations

import argparse
import io
import json

import pytest

import ingressd.bench
import ingressd.bench.runner
from ingressd.bench import add_bench_parser, bench_command, run_bench
from ingressd.bench.loadgen import Progress
from ingressd.bench.report import progress_line
from tests.bench.conftest import CANARY, HOST, MAIN


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ingressd")
    add_bench_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", *argv])


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


async def bench(*argv: str, stderr: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), stderr or io.StringIO()
    status = await bench_command(parse(*argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def common(fake, *extra: str) -> list[str]:
    return ["--url", fake.url, "--host", "demo.localtest.me", "--admin", fake.admin, *extra]


async def test_weight_split_matches_and_json_has_every_number(fake, tmp_path):
    path = tmp_path / "bench.json"
    status, out, _ = await bench(*common(fake, "--requests", "2000", "--json", str(path)))
    assert status == 0, out
    assert "no sample-ratio mismatch" in out
    assert "canary-weight 10 of 100" in out
    doc = json.loads(path.read_text())
    assert set(doc) == {"config", "summary", "backends", "expected", "test", "notes"}
    by_name = {b["name"]: b for b in doc["backends"]}
    canary = by_name[CANARY]
    assert canary["count"] == 200 and canary["share"] == pytest.approx(0.1)
    assert canary["ci95"][0] < 0.1 < canary["ci95"][1]
    assert canary["ci99_9"][0] < canary["ci95"][0] and canary["ci99_9"][1] > canary["ci95"][1]
    assert canary["expected_share"] == pytest.approx(0.1)
    assert set(canary["latency_ms"]) == {"p50", "p90", "p99", "p99_9", "max", "mean"}
    assert canary["status"] == {"2xx": 200, "3xx": 0, "4xx": 0, "5xx": 0, "errors": 0}
    assert by_name[MAIN]["count"] == 1800
    assert doc["test"]["sample_ratio_mismatch"] is False and doc["test"]["df"] == 1
    assert doc["expected"]["step"] == "weight" and doc["expected"]["route"]["canaryIngress"] == "default/web-canary"
    assert doc["summary"]["sent"] == doc["summary"]["responses"] == doc["summary"]["attributed"] == 2000
    assert doc["config"]["mode"] == "closed" and doc["config"]["concurrency"] == 16


async def test_a_wrong_expectation_is_a_sample_ratio_mismatch(fake):
    status, out, _ = await bench(*common(fake, "--requests", "1000", "--expect", "canary=0.2"))
    assert status == ingressd.bench.EXIT_MISMATCH == 3
    assert "SAMPLE-RATIO MISMATCH" in out


async def test_a_proxy_splitting_wrongly_is_caught(fake):
    fake.canary_every = 2  # 50 % canary where the admin API says 10 %
    status, out, _ = await bench(*common(fake, "--requests", "400", "--rate", "4000"))
    assert status == 3, out


async def test_header_forcing_the_canary_expects_all_canary(fake):
    status, out, _ = await bench(*common(fake, "--requests", "50", "--header", "X-Canary=always", "--json", "-"))
    doc = json.loads(out)
    assert status == 0
    assert doc["expected"]["shares"] == {MAIN: 0.0, CANARY: 1.0}
    assert doc["expected"]["step"] == "header"
    assert [(b["name"], b["count"]) for b in doc["backends"]] == [(CANARY, 50), (MAIN, 0)]
    assert doc["test"]["df"] == 0 and doc["test"]["p_value"] == 1.0


async def test_cookie_forcing_main_flags_canary_traffic(fake):
    status, out, _ = await bench(*common(fake, "--requests", "20", "--cookie", "canary=never"))
    assert fake.headers_seen[0]["Cookie"] == "canary=never"
    assert status == 3  # the stand-in ignores cookies and still sends 10 % to the canary
    assert "chi-square inf" in out


async def test_json_to_stdout_moves_the_table_to_stderr(fake):
    status, out, err = await bench(*common(fake, "--requests", "10", "--json", "-"))
    assert status == 0
    assert json.loads(out)["summary"]["sent"] == 10
    assert "chi-square" in err


async def test_explicit_admin_that_is_down_is_a_usage_error(fake, closed_port):
    status, _, err = await bench("--url", fake.url, "--host", "h", "--admin", f"http://{HOST}:{closed_port}",
                                   "--requests", "1")
    assert status == 2 and "cannot read" in err and not fake.headers_seen


async def test_default_admin_down_runs_without_a_test(fake, closed_port, monkeypatch):
    monkeypatch.setattr(ingressd.bench.runner, "DEFAULT_ADMIN", f"http://{HOST}:{closed_port}")
    status, out, _ = await bench("--url", fake.url, "--host", "demo.localtest.me", "--requests", "5")
    assert status == 0
    assert "no expected shares" in out and "chi-square" not in out
    status, _, err = await bench("--url", fake.url, "--host", "demo.localtest.me", "--requests", "5",
                                 "--expect", "canary=0.1")
    assert status == 2 and "needs the admin API" not in err and "cannot read" in err
    status, out, _ = await bench("--url", fake.url, "--host", "demo.localtest.me", "--requests", "10",
                                 "--expect", f"{MAIN}=0.9", "--expect", f"{CANARY}=0.1")
    assert status == 0 and "expected shares from --expect" in out and "no sample-ratio mismatch" in out


async def test_no_canary_for_the_host_means_nothing_to_test(fake):
    status, out, _ = await bench("--url", fake.url, "--host", "other.example", "--admin", fake.admin,
                                 "--requests", "5")
    assert status == 0 and "lists no canary for other.example/app" in out


async def test_echo_attribution_cannot_be_tested_against_upstream_names(fake):
    fake.attribution = "echo"
    status, out, _ = await bench(*common(fake, "--requests", "10"))
    assert status == 0
    assert "responses name v1, v2" in out and "--expose-upstream" in out
    status, out, _ = await bench(*common(fake, "--requests", "10", "--expect", "v1=0.9", "--expect", "v2=0.1"))
    # v1/v2 are not the admin's upstreams, so those get the remainder (0) and traffic to them is fine
    assert status == 0, out


async def test_ingressds_own_error_pages_are_the_proxys_row_not_unknown(fake):
    fake.attribution = "proxy-503"  # 1 in 10 answered by ingressd itself (503 page), the rest unnamed
    status, out, table = await bench(*common(fake, "--requests", "20", "--json", "-"))
    assert status == 0
    rows = {b["name"]: b for b in json.loads(out)["backends"]}
    assert "(ingressd)" in table
    assert rows["(ingressd)"]["count"] == 2 and rows["(ingressd)"]["status"]["5xx"] == 2
    assert rows["(unknown)"]["count"] == 18 and rows["(unknown)"]["status"]["5xx"] == 0


async def test_no_response_at_all_exits_2(fake, closed_port):
    status, out, err = await bench("--url", f"http://{HOST}:{closed_port}/", "--host", "demo.localtest.me",
                                   "--admin", fake.admin, "--requests", "3")
    assert status == 2
    assert f"http://{HOST}:{closed_port}/ is unreachable: no request got a response (ClientConnectorError" in err
    assert "ClientConnectorError" in out
    assert "--expose-upstream" not in out + err  # the hint about naming backends would mislead here
    assert f"no response at all from http://{HOST}:{closed_port}/: no test" in out


async def test_progress_bar_on_a_terminal(fake):
    err = Tty()
    status, _, text = await bench(*common(fake, "--requests", "20"), stderr=err)
    assert status == 0
    assert "\r[" in text and "20/20" in text and text.endswith("\n")


def test_progress_line():
    assert progress_line(Progress(50, 100, 2.0, None)) == "[" + "#" * 15 + "." * 15 + "] 50/100  50%   2.0 s      25 req/s"
    assert "100%" in progress_line(Progress(7, None, 3.0, 2.0))


@pytest.mark.parametrize(
    "argv",
    [
        ["--url", "http://x/", "--host", "h"],
        ["--url", "http://x/", "--host", "h", "--requests", "1", "--duration", "1"],
        ["--url", "http://x/", "--host", "h", "--requests", "1", "--concurrency", "2", "--rate", "5"],
        ["--url", "http://x/", "--host", "h", "--requests", "0"],
        ["--url", "http://x/", "--host", "h", "--requests", "1", "--expect", "canary"],
        ["--url", "http://x/", "--host", "h", "--requests", "1", "--expect", "canary=2"],
        ["--url", "http://x/", "--host", "h", "--requests", "1", "--header", "novalue"],
        ["--url", "http://x/", "--host", "h", "--requests", "1", "--cacert", "ca.pem", "--insecure"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse(*argv)
    assert exc.value.code == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--arrival", "poisson"], "needs --rate"),
        (["--cacert", "/nonexistent/ca.pem"], "--cacert"),
        (["--expect", "main=0.5", "--expect", "main=0.5"], "twice"),
    ],
)
def test_run_bench_usage_errors(extra, message, closed_port, capsys):
    args = parse("--url", f"http://{HOST}:{closed_port}/", "--host", "h", "--requests", "1",
                 "--admin", f"http://{HOST}:{closed_port}", *extra)
    assert run_bench(args) == 2
    assert message in capsys.readouterr().err


def test_run_bench_rejects_a_non_http_url(capsys):
    assert run_bench(parse("--url", "ftp://x/", "--host", "h", "--requests", "1")) == 2
    assert "http://" in capsys.readouterr().err
