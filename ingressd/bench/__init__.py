"""`ingressd bench`: send real requests through ingressd and check the canary split with numbers.

The command line lives here (`add_bench_parser`, `run_bench`); the work is in loadgen (requests),
expect (expected shares), stats (intervals, chi-square) and report (table, JSON). aiohttp and
hdrh are imported only when a bench runs, so `ingressd run` does not pay for them.

Exit status: 0 done, no sample-ratio mismatch (or nothing to test against); 2 bad usage, the admin
API or the target unreachable (no response at all); 3 sample-ratio mismatch (p < 0.001).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

DEFAULT_ADMIN = "http://127.0.0.1:10254"
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_MISMATCH = 3


def _pair(flag: str):
    def parse(text: str) -> tuple[str, str]:
        key, eq, value = text.partition("=")
        if not eq or not key.strip():
            raise argparse.ArgumentTypeError(f"{flag} takes NAME=VALUE, got {text!r}")
        return key.strip(), value

    return parse


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
        return value

    return parse


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return int(text)


def _expect(text: str) -> tuple[str, float]:
    from ingressd.bench.expect import parse_share

    name, eq, value = text.partition("=")
    if not eq or not name.strip():
        raise argparse.ArgumentTypeError(f"--expect takes NAME=SHARE, got {text!r}")
    try:
        return name.strip(), parse_share(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_bench_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `bench` subcommand to an argparse subparsers object; returns its parser."""
    bench = subparsers.add_parser(
        "bench",
        help="send load through ingressd; per-backend shares, intervals, latency and a split test",
        description="Send real HTTP(S) requests, attribute each response to the backend that served it "
                    "(X-Ingressd-Upstream from `ingressd run --expose-upstream`, else the echo app's "
                    "version), and test the split against the canary weights (or the HTTPRoute backendRef "
                    "weights) the admin API reports for the request.",
        epilog="Exit status: 0 done, no sample-ratio mismatch; 2 usage error, or no response at all; "
               "3 sample-ratio mismatch (chi-square p < 0.001).",
    )
    bench.add_argument("--url", required=True, help="where to send requests, e.g. http://127.0.0.1:8080/v1/users")
    bench.add_argument("--host", required=True, help="Host header (and TLS server name for https)")
    bench.add_argument("--header", action="append", default=[], type=_pair("--header"), metavar="K=V",
                       help="a request header; repeatable")
    bench.add_argument("--cookie", action="append", default=[], type=_pair("--cookie"), metavar="K=V",
                       help="a request cookie; repeatable")
    bound = bench.add_mutually_exclusive_group(required=True)
    bound.add_argument("--requests", type=_positive(int), metavar="N", help="send N requests")
    bound.add_argument("--duration", type=_positive(float), metavar="S", help="send for S seconds")
    loop = bench.add_mutually_exclusive_group()
    loop.add_argument("--concurrency", type=_positive(int), metavar="C",
                      help="closed loop: C connections, each sends when the last answered (default 16)")
    loop.add_argument("--rate", type=_positive(float), metavar="R",
                      help="open loop: R requests per second whatever the latency; latency counts from "
                           "when each request was due")
    bench.add_argument("--arrival", choices=("constant", "poisson"), default="constant",
                       help="open loop spacing: constant (default) or Poisson arrivals")
    bench.add_argument("--seed", type=int, metavar="N", help="seed of the Poisson arrivals (reproducible schedules)")
    bench.add_argument("--json", metavar="FILE", help="write the result as JSON to FILE (- = stdout)")
    bench.add_argument("--expect", action="append", default=[], type=_expect, metavar="NAME=SHARE",
                       help="expected share (0.1 or 10%%) of an upstream, or of main/canary; repeatable; "
                            "overrides the admin API")
    bench.add_argument("--admin", metavar="URL",
                       help=f"ingressd's admin port, for the configured canary weights and HTTPRoute backendRef "
                            f"weights (default {DEFAULT_ADMIN})")
    bench.add_argument("--listener-port", type=_port, metavar="N",
                       help="the Gateway listener port --url reaches, as `ingressd explain --port` (default 80 "
                            "for http, 443 for https: --http-port/--https-port)")
    from ingressd.access import add_credential_flags

    add_credential_flags(bench)
    bench.add_argument("--timeout", type=_positive(float), default=10.0, metavar="S",
                       help="per-request timeout in seconds (default 10)")
    tls = bench.add_mutually_exclusive_group()
    tls.add_argument("--cacert", metavar="FILE",
                     help="https: verify the server certificate for --host against this CA bundle")
    tls.add_argument("--insecure", action="store_true",
                     help="https: do not verify the certificate (the default, for ingressd's self-signed one)")
    return bench


def unreachable_message(url: str, error_kinds) -> str:
    """What to say when nothing answered at all: the URL is unreachable, and why (the commonest error)."""
    why = f" ({error_kinds.most_common(1)[0][0]})" if error_kinds else ""
    return (f"{url} is unreachable: no request got a response{why}; is `ingressd run` serving there "
            "(check the port and scheme)?")


def run_bench(args: argparse.Namespace) -> int:
    """`ingressd bench` from parsed arguments; returns the exit status."""
    try:
        return asyncio.run(bench_command(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


async def bench_command(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    from ingressd.bench.loadgen import LoadSpec
    from ingressd.bench.report import format_table, progress_line, to_json
    from ingressd.bench.runner import BenchError, bench

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr

    def fail(message: str) -> int:
        print(f"ingressd bench: {message}", file=stderr)
        return EXIT_USAGE

    if args.arrival == "poisson" and args.rate is None:
        return fail("--arrival poisson needs --rate")
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return fail(f"--url must be an http:// or https:// URL, got {args.url!r}")
    ssl_context: ssl.SSLContext | bool = False
    if args.cacert:
        try:
            ssl_context = ssl.create_default_context(cafile=args.cacert)
        except (OSError, ssl.SSLError) as exc:
            return fail(f"--cacert {args.cacert}: {exc}")
    try:
        spec = LoadSpec(
            url=args.url, host=args.host, headers=tuple(args.header), cookies=tuple(args.cookie),
            requests=args.requests, duration=args.duration, concurrency=args.concurrency or 16,
            rate=args.rate, arrival=args.arrival, seed=args.seed, timeout=args.timeout, ssl=ssl_context,
        )
    except ValueError as exc:
        return fail(str(exc))
    overrides = dict(args.expect)
    if len(overrides) != len(args.expect):
        return fail("--expect names a backend twice")

    on_progress = None
    if stderr.isatty():
        def on_progress(p) -> None:
            stderr.write("\r" + progress_line(p))
            stderr.flush()

    from ingressd.access import credentials, unauthorized_message

    admin = args.admin or DEFAULT_ADMIN
    search = await asyncio.to_thread(credentials, admin, args)
    try:
        report = await bench(spec, args.admin, overrides, admin_required=args.admin is not None,
                             on_progress=on_progress, token=search.token,
                             unauthorized=unauthorized_message(admin, search).removeprefix("error: "),
                             listener_port=args.listener_port)
    except BenchError as exc:
        return fail(str(exc))
    if on_progress is not None:
        stderr.write("\n")

    table_out = stderr if args.json == "-" else stdout
    doc = to_json(report)
    print(format_table(doc), file=table_out)
    if args.json:
        text = json.dumps(doc, indent=2) + "\n"
        if args.json == "-":
            stdout.write(text)
        else:
            try:
                await asyncio.to_thread(Path(args.json).write_text, text, encoding="utf-8")
            except OSError as exc:
                return fail(f"cannot write {args.json}: {exc}")
    if report.result.responses == 0:
        return fail(unreachable_message(spec.url, report.result.error_kinds))
    return EXIT_MISMATCH if report.mismatch else EXIT_OK
