#!/usr/bin/env python3
"""Canary split scenarios through a real `ingressd run`, checked with `ingressd bench`'s statistics.

Writes its own manifests to a temporary directory: Deployment `web` (echo v1, 2 replicas) and
Deployment `web-canary` (echo v2, 1 replica) with their Services, and for each scenario host a main
Ingress plus a canary Ingress:

  w1.localtest.me       canary-weight 1
  w10.localtest.me      canary-weight 10
  w50.localtest.me      canary-weight 50
  override.localtest.me canary-by-header X-Canary, canary-by-cookie canary, weight 10
  value.localtest.me    canary-by-header X-Canary, canary-by-header-value v2, weight 10
  pattern.localtest.me  canary-by-header X-Canary, canary-by-header-pattern ^beta-, weight 10

starts `python -m ingressd run --expose-upstream --seed N` on free loopback ports, and for every
scenario (a host plus headers/cookies) sends load with the bench package, reads the expected canary
share from the admin API (`/ingressd/v1/canaries`), checks that it equals what the manifests
configure, and tests the observed split (chi-square, sample-ratio mismatch at p < 0.001).

Prints an observed-vs-configured table (and JSON with --json). Exit status: 0 all scenarios fit,
3 a sample-ratio mismatch, 1 anything else wrong (ingressd did not start, the admin API disagrees
with the manifests, requests failed). Every process it starts is stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingressd.bench.loadgen import LoadSpec
from ingressd.bench.report import BenchReport, to_json
from ingressd.bench.runner import BenchError, bench
from ingressd.bench.stats import wilson_interval
from harness import Terminated, free_port, http_get, install_signal_handlers  # noqa: E402

MAIN_UPSTREAM = "default-web-80"
CANARY_UPSTREAM = "default-web-canary-80"

# host -> canary annotations (without the nginx.ingress.kubernetes.io/ prefix)
CANARIES: dict[str, dict[str, str]] = {
    "w1.localtest.me": {"canary-weight": "1"},
    "w10.localtest.me": {"canary-weight": "10"},
    "w50.localtest.me": {"canary-weight": "50"},
    "override.localtest.me": {"canary-weight": "10", "canary-by-header": "X-Canary", "canary-by-cookie": "canary"},
    "value.localtest.me": {"canary-weight": "10", "canary-by-header": "X-Canary", "canary-by-header-value": "v2"},
    "pattern.localtest.me": {"canary-weight": "10", "canary-by-header": "X-Canary",
                             "canary-by-header-pattern": "^beta-"},
}


@dataclass(frozen=True)
class Scenario:
    name: str
    host: str
    configured: float  # the canary share the manifests ask for
    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[tuple[str, str], ...] = ()

    @property
    def split(self) -> bool:
        return 0.0 < self.configured < 1.0


SCENARIOS = (
    Scenario("weight-1", "w1.localtest.me", 0.01),
    Scenario("weight-10", "w10.localtest.me", 0.10),
    Scenario("weight-50", "w50.localtest.me", 0.50),
    Scenario("header-always", "override.localtest.me", 1.0, headers=(("X-Canary", "always"),)),
    Scenario("header-never", "override.localtest.me", 0.0, headers=(("X-Canary", "never"),)),
    Scenario("header-never-beats-cookie", "override.localtest.me", 0.0,
             headers=(("X-Canary", "never"),), cookies=(("canary", "always"),)),
    Scenario("header-other-falls-through", "override.localtest.me", 0.10, headers=(("X-Canary", "maybe"),)),
    Scenario("cookie-always", "override.localtest.me", 1.0, cookies=(("canary", "always"),)),
    Scenario("cookie-never", "override.localtest.me", 0.0, cookies=(("canary", "never"),)),
    Scenario("header-value-match", "value.localtest.me", 1.0, headers=(("X-Canary", "v2"),)),
    Scenario("header-value-miss", "value.localtest.me", 0.10, headers=(("X-Canary", "always"),)),
    Scenario("header-pattern-match", "pattern.localtest.me", 1.0, headers=(("X-Canary", "beta-42"),)),
    Scenario("header-pattern-miss", "pattern.localtest.me", 0.10, headers=(("X-Canary", "alpha"),)),
)


# ---------------------------------------------------------------- manifests


def deployment(name: str, version: str, replicas: int) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
        spec:
          replicas: {replicas}
          selector:
            matchLabels:
              app: {name}
          template:
            metadata:
              labels:
                app: {name}
            spec:
              containers:
                - name: echo
                  image: ingressd/echo:{version}
                  ports:
                    - containerPort: 8080
                  env:
                    - name: VERSION
                      value: {version}
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
        spec:
          selector:
            app: {name}
          ports:
            - name: http
              port: 80
              targetPort: 8080
        """
    )


def ingress(name: str, host: str, service: str, annotations: dict[str, str]) -> str:
    lines = "".join(f'    nginx.ingress.kubernetes.io/{k}: "{v}"\n' for k, v in annotations.items())
    meta = f"  annotations:\n{lines}" if annotations else ""
    return (
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n"
        f"  name: {name}\n{meta}"
        + textwrap.dedent(
            f"""\
            spec:
              ingressClassName: nginx
              rules:
                - host: {host}
                  http:
                    paths:
                      - path: /
                        pathType: Prefix
                        backend:
                          service:
                            name: {service}
                            port:
                              number: 80
            """
        )
    )


def write_manifests(directory: Path) -> None:
    directory.mkdir(parents=True)
    (directory / "apps.yaml").write_text(deployment("web", "v1", 2) + "---\n" + deployment("web-canary", "v2", 1))
    docs = []
    for host, policy in CANARIES.items():
        label = host.split(".", 1)[0]
        docs.append(ingress(f"main-{label}", host, "web", {}))
        docs.append(ingress(f"canary-{label}", host, "web-canary", {"canary": "true", **policy}))
    (directory / "ingresses.yaml").write_text("---\n".join(docs))


# ---------------------------------------------------------------- ingressd








@dataclass
class Ingressd:
    popen: subprocess.Popen
    http_port: int
    admin_port: int
    stderr_path: Path
    argv: list[str] = field(default_factory=list)
    state_dir: Path | None = None

    def token(self) -> str | None:
        """The admin API's bearer token (<state-dir>/admin-token), once the instance has made it."""
        path = self.state_dir / "admin-token" if self.state_dir else None
        return path.read_text().strip() if path is not None and path.exists() else None

    def stderr_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)

    def wait_until(self, what: str, check, timeout: float) -> None:
        """Poll `check()` until it returns None (ready) or a deadline; it returns why not yet."""
        deadline = time.monotonic() + timeout
        why = "no answer"
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"ingressd exited with {self.popen.returncode}:\n{self.stderr_tail()}")
            try:
                why = check()
            except OSError as exc:
                why = str(exc)
            if why is None:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{what} not ready after {timeout:.0f}s ({why}):\n{self.stderr_tail()}")


def start_ingressd(workdir: Path, opts: argparse.Namespace) -> Ingressd:
    manifests = workdir / "manifests"
    write_manifests(manifests)
    http_port, admin_port = free_port(), free_port()
    argv = [
        opts.python, "-m", "ingressd", "run",
        "-f", str(manifests),
        "--http-port", str(http_port),
        "--https-port", str(free_port()),
        "--admin-port", str(admin_port),
        "--state-dir", str(workdir / "state"),
        "--expose-upstream",
        "--seed", str(opts.seed),
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    stderr_path = workdir / "ingressd.stderr"
    with open(stderr_path, "wb") as err, open(workdir / "access.log", "wb") as out:
        popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=REPO, env=env,
                                 start_new_session=True)
    proc = Ingressd(popen, http_port, admin_port, stderr_path, argv, workdir / "state")
    print(f"ingressd: {' '.join(argv)}", file=sys.stderr)
    return proc


def wait_ready(proc: Ingressd, timeout: float) -> None:
    """Admin healthy, every canary attached, and every host answered by a pod."""

    def healthy():
        status, body = http_get(proc.admin_port, "/healthz", "127.0.0.1")
        return None if status == 200 else f"/healthz {status} {body[:80]!r}"

    def canaries_listed():
        token = proc.token()
        status, body = http_get(proc.admin_port, "/ingressd/v1/canaries", "127.0.0.1",
                                headers={"Authorization": f"Bearer {token}"} if token else None)
        if status != 200:
            return f"/ingressd/v1/canaries answered {status}"
        hosts = {item.get("host") for item in json.loads(body).get("items", [])}
        missing = sorted(set(CANARIES) - hosts)
        return f"no canary listed for {', '.join(missing)}" if missing else None

    def pods_serving():
        for host in CANARIES:
            status, body = http_get(proc.http_port, "/", host)
            if status != 200:
                return f"{host} answered {status} {body[:80]!r}"
        return None

    proc.wait_until("ingressd /healthz", healthy, timeout)
    proc.wait_until("the canary list", canaries_listed, timeout)
    proc.wait_until("the pods", pods_serving, timeout)


# ---------------------------------------------------------------- scenarios


@dataclass
class Outcome:
    scenario: Scenario
    report: BenchReport
    problems: list[str]

    @property
    def mismatch(self) -> bool:
        return self.report.mismatch


def evaluate(scenario: Scenario, report: BenchReport) -> Outcome:
    problems = []
    exp = report.expectation
    if exp is None:
        problems.append("the admin API gives no expected share: " + "; ".join(report.notes))
    else:
        admin_share = exp.shares.get(CANARY_UPSTREAM)
        if admin_share is None or abs(admin_share - scenario.configured) > 1e-9:
            problems.append(f"the admin API expects {admin_share} for the canary, the manifests {scenario.configured}")
    if report.test is None:
        problems.append("no goodness-of-fit test: " + "; ".join(report.notes))
    if report.result.errors:
        problems.append(f"{report.result.errors} requests failed: {dict(report.result.error_kinds)}")
    if report.mismatch:
        problems.append("sample-ratio mismatch")
    return Outcome(scenario, report, problems)


async def run_scenarios(proc: Ingressd, scenarios: list[Scenario], opts: argparse.Namespace) -> list[Outcome]:
    outcomes = []
    for sc in scenarios:
        requests = opts.requests if sc.split else opts.forced_requests
        print(f"{sc.name}: {requests} requests to {sc.host}", file=sys.stderr)
        spec = LoadSpec(
            url=f"http://127.0.0.1:{proc.http_port}/", host=sc.host, headers=sc.headers, cookies=sc.cookies,
            requests=requests, concurrency=opts.concurrency, timeout=opts.timeout,
        )
        try:
            report = await bench(spec, f"http://127.0.0.1:{proc.admin_port}", admin_required=True, token=proc.token())
        except BenchError as exc:
            raise RuntimeError(f"{sc.name}: {exc}") from None
        outcomes.append(evaluate(sc, report))
    return outcomes


def print_table(outcomes: list[Outcome]) -> None:
    header = ["scenario", "requests", "configured", "admin", "observed", "99.9% interval", "p", "verdict"]
    rows = [header]
    for o in outcomes:
        result = o.report.result
        attributed = result.attributed()
        n = sum(attributed.values())
        canary = attributed.get(CANARY_UPSTREAM, 0)
        exp = o.report.expectation
        admin = exp.shares.get(CANARY_UPSTREAM) if exp else None
        if n:
            lo, hi = wilson_interval(canary, n, 0.999)
            observed, interval = f"{canary / n:.2%}", f"{lo:.2%}-{hi:.2%}"
        else:
            observed = interval = "-"
        p = f"{o.report.test.p_value:.3g}" if o.report.test else "-"
        rows.append([
            o.scenario.name, str(result.sent), f"{o.scenario.configured:.0%}",
            "-" if admin is None else f"{admin:.0%}", observed, interval, p,
            "ok" if not o.problems else "; ".join(o.problems),
        ])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    for r in rows:
        print("  ".join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:-1], widths[1:])), r[-1]]))


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=10_000, help="requests per weighted scenario (default 10000)")
    p.add_argument("--forced-requests", type=int, default=1_000,
                   help="requests per header/cookie-forced scenario (default 1000)")
    p.add_argument("--concurrency", type=int, default=16, help="bench connections (default 16)")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout in seconds")
    p.add_argument("--only", metavar="NAMES", help=f"comma-separated subset of: {','.join(s.name for s in SCENARIOS)}")
    p.add_argument("--seed", type=int, default=1, help="`ingressd run --seed` (default 1)")
    p.add_argument("--python", default=sys.executable, help="interpreter that runs `-m ingressd`")
    p.add_argument("--startup-timeout", type=float, default=60.0, help="seconds to wait for ingressd and its pods")
    p.add_argument("--json", metavar="FILE", help="write every scenario's bench JSON and verdict here")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (manifests, logs)")
    opts = p.parse_args(argv)
    names = {s.name for s in SCENARIOS}
    wanted = [n.strip() for n in opts.only.split(",") if n.strip()] if opts.only else sorted(names)
    if unknown := set(wanted) - names:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    opts.scenarios = [s for s in SCENARIOS if s.name in wanted]
    if opts.requests < 1 or opts.forced_requests < 1 or opts.concurrency < 1 or opts.timeout <= 0:
        p.error("need --requests, --forced-requests, --concurrency >= 1 and --timeout > 0")
    return opts




def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    install_signal_handlers()
    workdir = Path(tempfile.mkdtemp(prefix="ingressd-canary-"))
    proc = None
    try:
        proc = start_ingressd(workdir, opts)
        wait_ready(proc, opts.startup_timeout)
        outcomes = asyncio.run(run_scenarios(proc, opts.scenarios, opts))
        print_table(outcomes)
        if opts.json:
            doc = {
                "ingressd": proc.argv,
                "scenarios": [
                    {"name": o.scenario.name, "host": o.scenario.host, "configured_canary_share": o.scenario.configured,
                     "problems": o.problems, "bench": to_json(o.report)}
                    for o in outcomes
                ],
            }
            Path(opts.json).write_text(json.dumps(doc, indent=2) + "\n")
            print(f"JSON written to {opts.json}", file=sys.stderr)
        if any(o.mismatch for o in outcomes):
            return 3
        return 1 if any(o.problems for o in outcomes) else 0
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Terminated):
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if proc is not None:
            proc.stop()
        if opts.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
