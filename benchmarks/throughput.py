#!/usr/bin/env python3
"""Keep-alive HTTP throughput of ingressd against nginx as the same reverse proxy.

Three targets, all on 127.0.0.1, all in front of one backend (an nginx server
returning a fixed ~100-byte body):

  direct    wrk -> backend                      (the ceiling)
  ingressd  wrk -> ingressd -> backend          (`python -m ingressd run`, access log to a file)
  nginx     wrk -> nginx -> backend             (1 worker, upstream keepalive, access log to a file)
  ingressd-wN  wrk -> ingressd --workers N -> backend  (only when named in --only, e.g. ingressd-w2;
            CPU is the whole process tree: the control process and its N workers)

Runs are interleaved (direct, ingressd, nginx, direct, ...) for --rounds rounds so
drift on a shared machine hits every target alike. Per run it records requests/s,
latency percentiles (wrk --latency), CPU microseconds per request of the proxy's
process tree (utime+stime from /proc, nginx master+worker summed) and its RSS
after the run. Prints a table and the ingressd/nginx ratios, and JSON.

Needs Linux, wrk and nginx (installed with apt-get when missing and run as root).
Every process it starts is stopped on exit, including on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Terminated, free_port, http_get, install_signal_handlers  # noqa: E402
TARGETS = ("direct", "ingressd", "nginx")
WORKERS_TARGET = re.compile(r"ingressd-w([1-9]\d*)")  # `ingressd run --workers N`, e.g. ingressd-w2
HOST = "bench.local"
# 100 bytes; no quote or $ so it can sit in nginx's `return 200 '...'` as is.
BODY = "ingressd benchmark backend: fixed body of one hundred bytes so the proxies, not I/O, dominate time.\n"
BODY_NGINX = BODY.replace("\n", "\\n")  # nginx unescapes \n inside quoted strings
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOG_FORMAT = (
    # ingress-nginx's default `upstreaminfo` format; its Lua-set variables become literals.
    "'$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    '"$http_referer" "$http_user_agent" $request_length $request_time [default-bench-80] [] '
    "$upstream_addr $upstream_response_length $upstream_response_time $upstream_status $request_id'"
)


# ---------------------------------------------------------------- processes




@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, wait, then SIGKILL the process group (each child runs in its own session)."""
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(signal.SIGTERM)
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)  # leftovers, e.g. nginx workers
        except (ProcessLookupError, PermissionError):
            pass
        if self.popen.poll() is None:
            self.popen.wait(timeout=5)

    def stderr_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


STARTED: list[Process] = []  # stopped by main() in reverse order, whatever happens


def start(name: str, argv: list[str], workdir: Path, stdout: Path | None = None, **kwargs) -> Process:
    stderr_path = workdir / f"{name}.stderr"
    with open(stderr_path, "wb") as err, open(stdout or os.devnull, "wb") as out:
        popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True, **kwargs
        )
    proc = Process(name, popen, stderr_path)
    STARTED.append(proc)
    return proc


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants, from /proc (nginx master + workers, ingressd + children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, ()))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """utime+stime of the processes (fields 14 and 15 of /proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if m := re.search(r"^VmRSS:\s+(\d+) kB", status, re.M):
            total += int(m.group(1))
    return total






def wait_until_serving(proc: Process, port: int, path: str, timeout: float, host: str = HOST) -> None:
    """Poll until GET answers 200; fail early if the process exits."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.stderr_tail()}")
        try:
            status, _ = http_get(port, path, host=host, timeout=1.0)
            if status == 200:
                return
            last = f"HTTP {status}"
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not serving {path} on 127.0.0.1:{port} after {timeout:.0f}s ({last}):\n{proc.stderr_tail()}")


# ---------------------------------------------------------------- nginx and ingressd


def nginx_config(workdir: Path, server: str, workers: int, extra_http: str = "") -> str:
    """A self-contained nginx.conf: foreground, own pid/error log/temp dirs under workdir."""
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (workdir / d).mkdir(parents=True, exist_ok=True)
    lines = [
        "user root;" if os.geteuid() == 0 else "",  # as root, nginx would otherwise switch workers to nobody
        "daemon off;",
        f"worker_processes {workers};",
        f"pid {workdir}/nginx.pid;",
        f"error_log {workdir}/error.log warn;",
        "events { worker_connections 4096; }",
        "http {",
        *(f"    {d}_temp_path {workdir}/{d};" for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
        "    # Keep client connections open for the whole run, as ingressd does.",
        "    keepalive_requests 1000000;",
        "    keepalive_timeout 75s;",
        textwrap.indent(extra_http + server, "    ").rstrip(),
        "}",
    ]
    return "\n".join(lines) + "\n"


def start_nginx(name: str, workdir: Path, conf: str, port: int, check_path: str = "/") -> Process:
    workdir.mkdir(parents=True, exist_ok=True)
    conf_path = workdir / "nginx.conf"
    conf_path.write_text(conf)
    proc = start(name, ["nginx", "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf_path)], workdir)
    wait_until_serving(proc, port, check_path, timeout=10)
    return proc


def start_backend(workdir: Path, port: int, workers: int) -> Process:
    server = textwrap.dedent(
        f"""\
        access_log off;
        server {{
            listen 127.0.0.1:{port};
            location / {{
                default_type text/plain;
                return 200 '{BODY_NGINX}';
            }}
        }}
        """
    )
    return start_nginx("backend", workdir, nginx_config(workdir, server, workers), port)


def start_nginx_proxy(workdir: Path, port: int, backend_port: int, workers: int = 1) -> Process:
    """nginx configured like ingress-nginx for one upstream: keepalive pool, same headers, access log
    (with `workers` worker processes on a reuseport listener, as ingress-nginx's reuse-port default)."""
    extra = f"log_format upstreaminfo {LOG_FORMAT};\n"
    server = textwrap.dedent(
        f"""\
        access_log {workdir}/access.log upstreaminfo;
        upstream default-bench-80 {{
            server 127.0.0.1:{backend_port};
            keepalive 128;
            keepalive_requests 1000000;
        }}
        server {{
            listen 127.0.0.1:{port}{" reuseport" if workers > 1 else ""};
            server_name {HOST};
            location / {{
                proxy_pass http://default-bench-80;
                proxy_http_version 1.1;
                proxy_set_header Connection "";
                proxy_set_header Host $host;
                proxy_set_header X-Request-ID $request_id;
                proxy_set_header X-Real-IP $remote_addr;
                proxy_set_header X-Forwarded-For $remote_addr;
                proxy_set_header X-Forwarded-Host $host;
                proxy_set_header X-Forwarded-Port $server_port;
                proxy_set_header X-Forwarded-Proto $scheme;
                proxy_set_header X-Scheme $scheme;
                proxy_set_header Proxy "";
                proxy_connect_timeout 5s;
                proxy_read_timeout 60s;
                proxy_send_timeout 60s;
                proxy_buffering on;
            }}
        }}
        """
    )
    return start_nginx("nginx", workdir, nginx_config(workdir, server, workers, extra), port)


def bench_manifests(backend_port: int) -> str:
    """A selectorless Service + EndpointSlice pointing at the backend, and an Ingress for bench.local."""
    return textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: Service
        metadata:
          name: bench
          namespace: default
        spec:
          ports:
            - name: http
              port: 80
              targetPort: {backend_port}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: bench-1
          namespace: default
          labels:
            kubernetes.io/service-name: bench
        addressType: IPv4
        ports:
          - name: http
            port: {backend_port}
            protocol: TCP
        endpoints:
          - addresses: ["127.0.0.1"]
            conditions:
              ready: true
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: bench
          namespace: default
        spec:
          ingressClassName: nginx
          rules:
            - host: {HOST}
              http:
                paths:
                  - path: /
                    pathType: Prefix
                    backend:
                      service:
                        name: bench
                        port:
                          number: 80
        """
    )


def start_ingressd(workdir: Path, port: int, backend_port: int, opts: argparse.Namespace,
                   workers: int = 1) -> Process:
    manifests = workdir / "manifests"
    manifests.mkdir(parents=True)
    (manifests / "bench.yaml").write_text(bench_manifests(backend_port))
    admin_port = free_port()
    argv = [
        opts.python, "-m", "ingressd", "run",
        "-f", str(manifests),
        "--http-port", str(port),
        "--https-port", str(free_port()),
        "--admin-port", str(admin_port),
        "--state-dir", str(workdir / "state"),
        *opts.ingressd_arg,
        *(["--workers", str(workers)] if workers != 1 else []),
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = start("ingressd", argv, workdir, stdout=workdir / "access.log", cwd=REPO, env=env)
    print(f"  ingressd: {' '.join(argv)}", file=sys.stderr)
    wait_until_serving(proc, admin_port, "/healthz", timeout=opts.startup_timeout, host="127.0.0.1")
    wait_until_serving(proc, port, "/", timeout=opts.startup_timeout)
    return proc


# ---------------------------------------------------------------- wrk

_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"unparseable wrk time {text!r}")
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


def parse_wrk(output: str) -> dict:
    """Requests, req/s, latency percentiles (ms) and error counts from `wrk --latency` output."""
    result: dict = {"latency_ms": {}, "non_2xx_3xx": 0, "socket_errors": dict.fromkeys(("connect", "read", "write", "timeout"), 0)}
    for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.M):
        result["latency_ms"][f"p{pct}"] = _ms(value)
    if m := re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.M):
        result["latency_ms"]["avg"] = _ms(m.group(1))
        result["latency_ms"]["max"] = _ms(m.group(3))
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(\w+)", output, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if not m or not rps or "p99" not in result["latency_ms"]:
        raise ValueError(f"unexpected wrk output:\n{output}")
    result["requests"] = int(m.group(1))
    result["duration_s"] = _ms(m.group(2) + m.group(3)) / 1e3
    result["requests_per_s"] = float(rps.group(1))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        result["non_2xx_3xx"] = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        result["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    return result


def wrk_script(delay_ms: float, unique: bool) -> str:
    """wrk's Lua: `delay_ms` after each response (an offered load, not saturation); `unique`: every
    request a target of its own (/?t=<thread>&n=<count>), so no per-URL cache can answer for it."""
    lua = ""
    if delay_ms:
        lua += f"function delay()\n  return {delay_ms:g}\nend\n"
    if unique:
        lua += textwrap.dedent("""\
            local threads = 0
            function setup(thread)
              threads = threads + 1
              thread:set("id", threads)
            end
            function init(args)
              id = wrk.thread:get("id")
              n = 0
            end
            function request()
              n = n + 1
              return wrk.format(nil, "/?t=" .. id .. "&n=" .. n)
            end
            """)
    return lua


def run_wrk(port: int, duration: float, opts: argparse.Namespace) -> dict:
    argv = [
        "wrk", f"-t{opts.threads}", f"-c{opts.connections}", f"-d{duration:g}s", "--latency",
        "-H", f"Host: {HOST}", f"http://127.0.0.1:{port}/",
    ]  # fmt: skip
    delay_ms = getattr(opts, "delay_ms", 0)
    unique = getattr(opts, "unique_targets", False)
    if delay_ms or unique:
        script = Path(tempfile.gettempdir(), f"ingressd-wrk-delay-{delay_ms:g}{'-unique' if unique else ''}.lua")
        script.write_text(wrk_script(delay_ms, unique))
        argv += ["-s", str(script)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30, check=True)
    return parse_wrk(out.stdout)


def measure(target: str, port: int, proxy: Process, backend: Process, opts: argparse.Namespace, round_: int) -> dict:
    proxy_pids, backend_pids = process_tree(proxy.pid), process_tree(backend.pid)
    cpu0, backend_cpu0 = cpu_seconds(proxy_pids), cpu_seconds(backend_pids)
    result = run_wrk(port, opts.duration, opts)
    cpu = cpu_seconds(proxy_pids) - cpu0
    backend_cpu = cpu_seconds(backend_pids) - backend_cpu0
    requests = max(result["requests"], 1)
    return {
        "target": target,
        "round": round_,
        **result,
        "cpu_us_per_request": cpu * 1e6 / requests,
        "cpu_utilisation": cpu / result["duration_s"],
        "backend_cpu_us_per_request": backend_cpu * 1e6 / requests,
        "rss_kib": rss_kib(process_tree(proxy.pid)),
    }


# ---------------------------------------------------------------- report


def summarise(runs: list[dict], targets: list[str]) -> dict:
    summary: dict = {}
    for t in targets:
        rs = [r for r in runs if r["target"] == t]
        if not rs:
            continue
        summary[t] = {
            "runs": len(rs),
            "requests_per_s": statistics.median(r["requests_per_s"] for r in rs),
            "p50_ms": statistics.median(r["latency_ms"]["p50"] for r in rs),
            "p99_ms": statistics.median(r["latency_ms"]["p99"] for r in rs),
            "cpu_us_per_request": statistics.median(r["cpu_us_per_request"] for r in rs),
            "rss_kib": max(r["rss_kib"] for r in rs),
            "errors": sum(r["non_2xx_3xx"] + sum(r["socket_errors"].values()) for r in rs),
        }
    if "ingressd" in summary and "nginx" in summary:
        i, n = summary["ingressd"], summary["nginx"]
        summary["ingressd_vs_nginx"] = {
            "requests_per_s": i["requests_per_s"] / n["requests_per_s"],
            "p99": i["p99_ms"] / n["p99_ms"],
            "cpu_per_request": i["cpu_us_per_request"] / n["cpu_us_per_request"],
        }
    for t in targets:
        if WORKERS_TARGET.fullmatch(t) and t in summary and "ingressd" in summary:
            w, one = summary[t], summary["ingressd"]
            summary[f"{t}_vs_ingressd"] = {
                "requests_per_s": w["requests_per_s"] / one["requests_per_s"],
                "p99": w["p99_ms"] / one["p99_ms"],
                "cpu_per_request": w["cpu_us_per_request"] / one["cpu_us_per_request"],
            }
    return summary


def print_table(runs: list[dict], summary: dict, opts: argparse.Namespace) -> None:
    head = f"{'target':<11} {'round':>5} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'cpu us/req':>10} {'RSS MiB':>8} {'errors':>7}"
    print(f"wrk -t{opts.threads} -c{opts.connections} -d{opts.duration:g}s, {opts.rounds} interleaved rounds, "
          f"{os.cpu_count()} CPUs, body {len(BODY)} B, keep-alive")
    print(head)
    for r in runs:
        errors = r["non_2xx_3xx"] + sum(r["socket_errors"].values())
        print(f"{r['target']:<11} {r['round']:>5} {r['requests_per_s']:>10.0f} {r['latency_ms']['p50']:>8.2f} "
              f"{r['latency_ms']['p99']:>8.2f} {r['cpu_us_per_request']:>10.1f} {r['rss_kib'] / 1024:>8.1f} {errors:>7}")
    print("median over rounds (RSS: max)")
    print(head)
    for t, s in summary.items():
        if t in opts.targets:
            print(f"{t:<11} {'':>5} {s['requests_per_s']:>10.0f} {s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} "
                  f"{s['cpu_us_per_request']:>10.1f} {s['rss_kib'] / 1024:>8.1f} {s['errors']:>7}")
    if ratio := summary.get("ingressd_vs_nginx"):
        print(f"ingressd/nginx: req/s x{ratio['requests_per_s']:.2f}, p99 x{ratio['p99']:.2f}, "
              f"CPU per request x{ratio['cpu_per_request']:.2f}")
    for t in opts.targets:
        if ratio := summary.get(f"{t}_vs_ingressd"):
            print(f"{t}/ingressd: req/s x{ratio['requests_per_s']:.2f}, p99 x{ratio['p99']:.2f}, "
                  f"CPU per request x{ratio['cpu_per_request']:.2f}")


# ---------------------------------------------------------------- main


def ensure_tools() -> None:
    missing = [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        sys.exit(f"missing {', '.join(missing)}: install them (Debian: apt-get install -y wrk nginx)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", *missing]
    print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL, timeout=600).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, timeout=600, check=True)
        subprocess.run(install, env=env, stdout=subprocess.DEVNULL, timeout=600, check=True)


def tool_versions() -> dict:
    def first_line(argv: list[str]) -> str:
        out = subprocess.run(argv, capture_output=True, text=True)
        return (out.stdout + out.stderr).strip().splitlines()[0] if (out.stdout + out.stderr).strip() else ""

    return {
        "nginx": first_line(["nginx", "-v"]),
        "wrk": first_line(["wrk", "-v"]),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Keep-alive throughput of ingressd vs nginx (and the backend directly), with wrk.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds over the targets")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load per target before round 1 (0: none)")
    p.add_argument("-t", "--threads", type=int, default=2, help="wrk threads")
    p.add_argument("-c", "--connections", type=int, default=64, help="wrk connections (kept alive)")
    p.add_argument("--only", default=",".join(TARGETS),
                   help=f"comma-separated subset of {','.join(TARGETS)}, plus ingressd-wN (`--workers N`, e.g. "
                        "ingressd-w2)")
    p.add_argument("--unique-targets", action="store_true",
                   help="give every request a target of its own (/?t=THREAD&n=COUNT) instead of /")
    p.add_argument("--backend-workers", type=int, default=1, help="nginx worker processes of the backend")
    p.add_argument("--python", default=sys.executable, help="interpreter that runs `-m ingressd`")
    p.add_argument("--ingressd-arg", action="append", default=[], metavar="ARG", help="extra argument for `ingressd run` (repeatable)")
    p.add_argument("--startup-timeout", type=float, default=30.0, help="seconds to wait for ingressd /healthz")
    p.add_argument("--json", metavar="FILE", help="write the JSON result here instead of printing it after the table")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs)")
    opts = p.parse_args(argv)
    targets = [t.strip() for t in opts.only.split(",") if t.strip()]
    if not targets or any(t not in TARGETS and not WORKERS_TARGET.fullmatch(t) for t in targets):
        p.error(f"--only takes a comma-separated subset of {','.join(TARGETS)} and ingressd-wN")
    order = [*TARGETS[:2], *sorted({t for t in targets if WORKERS_TARGET.fullmatch(t)}), *TARGETS[2:]]
    opts.targets = [t for t in order if t in targets]
    if opts.rounds < 1 or opts.duration <= 0 or opts.threads < 1 or opts.connections < opts.threads:
        p.error("need --rounds >= 1, --duration > 0 and --connections >= --threads >= 1")
    return opts




def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if not sys.platform.startswith("linux"):
        sys.exit("needs Linux (/proc for CPU and RSS)")
    ensure_tools()
    install_signal_handlers()  # SIGINT too, even if started with it ignored (`&`)

    workdir = Path(tempfile.mkdtemp(prefix="ingressd-bench-"))
    try:
        print(f"working directory {workdir}", file=sys.stderr)
        backend_port = free_port()
        backend = start_backend(workdir / "backend", backend_port, opts.backend_workers)
        status, body = http_get(backend_port, host=HOST)
        if status != 200 or body.decode() != BODY:
            raise RuntimeError(f"backend answered {status} {body[:80]!r}")

        endpoints: dict[str, tuple[int, Process]] = {}
        if "direct" in opts.targets:
            endpoints["direct"] = (backend_port, backend)
        if "ingressd" in opts.targets:
            port = free_port()
            proc = start_ingressd(workdir / "ingressd", port, backend_port, opts)
            endpoints["ingressd"] = (port, proc)
        for target in opts.targets:
            if m := WORKERS_TARGET.fullmatch(target):
                port = free_port()
                proc = start_ingressd(workdir / target, port, backend_port, opts, workers=int(m.group(1)))
                proc.name = target
                endpoints[target] = (port, proc)
        if "nginx" in opts.targets:
            port = free_port()
            proc = start_nginx_proxy(workdir / "nginx", port, backend_port)
            endpoints["nginx"] = (port, proc)

        for target, (port, _) in endpoints.items():
            status, body = http_get(port, host=HOST)
            if status != 200 or body.decode(errors="replace") != BODY:
                raise RuntimeError(f"{target} answered {status} {body[:200]!r} instead of the backend body")
            if opts.warmup > 0:
                print(f"warming up {target} ({opts.warmup:g}s)", file=sys.stderr)
                run_wrk(port, opts.warmup, opts)

        runs = []
        for round_ in range(1, opts.rounds + 1):
            for target, (port, proc) in endpoints.items():
                print(f"round {round_}/{opts.rounds}: {target} ({opts.duration:g}s)", file=sys.stderr)
                if proc.popen.poll() is not None:
                    raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.stderr_tail()}")
                runs.append(measure(target, port, proc, backend, opts, round_))

        summary = summarise(runs, opts.targets)
        print_table(runs, summary, opts)
        result = {
            "config": {
                "rounds": opts.rounds, "duration_s": opts.duration, "warmup_s": opts.warmup,
                "threads": opts.threads, "connections": opts.connections, "targets": opts.targets,
                "body_bytes": len(BODY), "backend_workers": opts.backend_workers, "nginx_workers": 1,
            },
            "machine": tool_versions(),
            "runs": runs,
            "summary": summary,
        }  # fmt: skip
        if opts.json:
            Path(opts.json).write_text(json.dumps(result, indent=2) + "\n")
            print(f"JSON written to {opts.json}", file=sys.stderr)
        else:
            print(json.dumps(result, indent=2))
        return 0
    except (RuntimeError, subprocess.SubprocessError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Terminated):
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        for proc in reversed(STARTED):
            proc.stop()
        if opts.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
