"""What `ingressd bench` shows: a per-backend table for people, a JSON document for CI, and a
one-line progress bar for a terminal."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ingressd import words
from ingressd.bench.expect import Expectation
from ingressd.bench.loadgen import UNNAMED, BackendStats, LoadResult, Progress
from ingressd.bench.stats import SRM_ALPHA, GoodnessOfFit, wilson_interval

PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99_9", 99.9))
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "errors")
_BAR_WIDTH = 30


@dataclass(frozen=True)
class BenchReport:
    result: LoadResult
    expectation: Expectation | None
    test: GoodnessOfFit | None
    notes: tuple[str, ...] = ()  # why there is no test, admin trouble, ...

    @property
    def mismatch(self) -> bool:
        return self.test is not None and self.test.mismatch


def progress_line(p: Progress) -> str:
    """'[#########.....]  4123/10000  41%  2.0 s  2061 req/s' (by time when bounded by duration)."""
    rate = p.done / p.elapsed if p.elapsed > 0 else 0.0
    fractions = []
    if p.target:
        fractions.append(p.done / p.target)
    if p.duration:
        fractions.append(p.elapsed / p.duration)
    fraction = min(1.0, max(fractions)) if fractions else 0.0
    filled = int(fraction * _BAR_WIDTH)
    count = f"{p.done}/{p.target}" if p.target else f"{p.done}"
    return f"[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {count} {fraction:4.0%} {p.elapsed:5.1f} s {rate:7.0f} req/s"


def _latency_ms(stats: BackendStats) -> dict[str, float] | None:
    h = stats.latency
    total = h.get_total_count()
    if total == 0:
        return None
    at = h.get_percentile_to_value_dict([pct for _, pct in PERCENTILES])  # one pass over the buckets
    values = {key: at[pct] / 1000 for key, pct in PERCENTILES}
    values["max"] = h.get_max_value() / 1000
    values["mean"] = stats.latency_sum / total * 1000
    return values


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _ordered(report: BenchReport) -> list[BackendStats]:
    """Named backends by count, then expected ones that served nothing, then unknown, ingressd's own
    answers, errors.

    An expected backend without responses gets a row only when the test ran: then its 0 is a
    measurement; without a test (responses named otherwise, e.g. by the echo app's version without
    --expose-upstream) it would be a phantom row, and a note says why there is no test."""
    backends = report.result.backends
    named = sorted((s for n, s in backends.items() if n not in UNNAMED), key=lambda s: (-s.count, s.name))
    tested = report.expectation.shares if report.expectation and report.test is not None else {}
    expected_only = [BackendStats(n) for n in tested if n not in backends]
    tail = [backends[n] for n in UNNAMED if n in backends]
    return named + sorted(expected_only, key=lambda s: s.name) + tail


def to_json(report: BenchReport) -> dict:
    result, spec = report.result, report.result.spec
    attributed = sum(result.attributed().values())
    expected = report.expectation.shares if report.expectation else {}
    backends = []
    for stats in _ordered(report):
        named = stats.name not in UNNAMED
        entry: dict = {"name": stats.name, "count": stats.count, "share": None, "ci95": None, "ci99_9": None}
        if named and attributed:
            entry["share"] = stats.count / attributed
            entry["ci95"] = list(wilson_interval(stats.count, attributed, 0.95))
            entry["ci99_9"] = list(wilson_interval(stats.count, attributed, 0.999))
        entry["expected_share"] = expected.get(stats.name)
        entry["latency_ms"] = _latency_ms(stats)
        entry["status"] = {cls: stats.statuses.get(cls, 0) for cls in STATUS_CLASSES}
        backends.append(entry)
    test = None
    if report.test is not None:
        t = report.test
        test = {
            "chi_square": _finite(t.statistic),
            "df": t.df,
            "p_value": t.p_value,
            "alpha": SRM_ALPHA,
            "n": t.n,
            "sample_ratio_mismatch": t.mismatch,
            "expected_counts": t.expected_counts,
            "small_expected": list(t.small_expected),
        }
    exp = report.expectation
    return {
        "config": {
            "url": spec.url,
            "host": spec.host,
            "headers": [list(pair) for pair in spec.headers],
            "cookies": [list(pair) for pair in spec.cookies],
            "mode": spec.mode,
            "concurrency": spec.concurrency if spec.mode == "closed" else None,
            "rate": spec.rate,
            "arrival": spec.arrival if spec.mode == "open" else None,
            "requests": spec.requests,
            "duration_s": spec.duration,
            "timeout_s": spec.timeout,
            "seed": spec.seed,
        },
        "summary": {
            "sent": result.sent,
            "responses": result.responses,
            "errors": result.errors,
            "attributed": attributed,
            "elapsed_s": result.elapsed,
            "requests_per_s": result.done / result.elapsed if result.elapsed > 0 else None,
            "max_send_lag_ms": result.max_send_lag * 1000 if spec.mode == "open" else None,
            "latency_ms": _latency_ms(result.overall),
            "error_kinds": dict(result.error_kinds),
        },
        "backends": backends,
        "expected": None if exp is None else {
            "kind": (exp.route or {}).get("kind", "Ingress") if exp.route else None,  # what the shares came from
            "source": exp.source,
            "shares": exp.shares,
            "route": exp.route,
            "step": exp.decision.step if exp.decision else None,
            "reason": exp.decision.reason if exp.decision else None,
        },
        "test": test,
        "notes": list(report.notes),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_table(doc: dict) -> str:
    """The table people read, from the JSON document (so both always say the same)."""
    cfg, summary = doc["config"], doc["summary"]
    load = (f"closed loop, {words.count(cfg['concurrency'], 'connection')}" if cfg["mode"] == "closed"
            else f"open loop at {cfg['rate']:g} req/s ({cfg['arrival']})")
    rps = summary["requests_per_s"]
    lines = [
        (f"{cfg['url']} Host {cfg['host']}: {words.count(summary['sent'], 'request')} in {summary['elapsed_s']:.2f} s"
         f" ({rps or 0:.0f} req/s), {load}"),
    ]
    if cfg["mode"] == "open" and summary["max_send_lag_ms"] is not None and summary["max_send_lag_ms"] > 10:
        lines.append(f"note: the client fell up to {summary['max_send_lag_ms']:.0f} ms behind schedule; "
                     "latency still counts from the scheduled time")
    header = ["backend", "count", "share", "95% interval", "expected", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms",
              *STATUS_CLASSES]
    rows = [header]
    for b in doc["backends"]:
        lat = b["latency_ms"] or {}
        ci = b["ci95"]
        rows.append([
            b["name"], str(b["count"]), _pct(b["share"]),
            "-" if ci is None else f"{ci[0] * 100:.2f}-{ci[1] * 100:.2f}%",
            _pct(b["expected_share"]),
            *(_ms(lat.get(key)) for key, _ in PERCENTILES),
            *(str(b["status"][cls]) for cls in STATUS_CLASSES),
        ])
    all_lat = summary["latency_ms"] or {}
    rows.append(["all", str(summary["sent"]), "", "", "", *(_ms(all_lat.get(key)) for key, _ in PERCENTILES),
                 *("" for _ in STATUS_CLASSES)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(widths[i + 1]) for i, cell in enumerate(row[1:])]
        lines.append("  ".join(cells).rstrip())
    for kind, count in sorted(summary["error_kinds"].items(), key=lambda kv: -kv[1]):
        lines.append(f"errors: {count} x {kind}")
    exp = doc["expected"]
    if exp is not None:
        origin = f"expected shares from {exp['source']}"
        r = exp["route"]
        if r and r.get("kind") == "HTTPRoute":
            origin += f": HTTPRoute {r.get('route')} rule {r.get('rule')} on {r.get('hostname') or '*'}"
        elif r:
            origin += (f": canary {r.get('canaryIngress')} on {r.get('host') or '*'}{r.get('path')}"
                       f" ({r.get('pathType')})")
        if exp["reason"]:
            origin += f"; {exp['reason']}"
        lines.append(origin)
    test = doc["test"]
    if test is not None:
        stat = "inf" if test["chi_square"] is None else f"{test['chi_square']:.2f}"
        verdict = (f"SAMPLE-RATIO MISMATCH (p < {SRM_ALPHA:g})" if test["sample_ratio_mismatch"]
                   else "no sample-ratio mismatch")
        lines.append(f"chi-square {stat}, df {test['df']}, p = {test['p_value']:.3g}: {verdict}")
        if test["small_expected"]:
            lines.append(f"note: expected fewer than 5 responses for {', '.join(test['small_expected'])}; "
                         "the p-value is approximate, send more requests")
    lines.extend(f"note: {note}" for note in doc["notes"])
    return "\n".join(lines)
