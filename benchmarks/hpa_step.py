#!/usr/bin/env python3
"""A step load (low -> high -> low) through ingressd against a Deployment with an HPA.

The Deployment runs `ingressd/echo` with ECHO_CPU_MS (CPU per request, processor-sharing on one
core per pod) and `requests.cpu: 100m`; the HPA targets 50 % CPU, 1..--max-replicas, with a short
scale-down window so the whole story fits in a couple of minutes. Open-loop load (latency counts
from when each request was due) at --low, then --high, then --low requests per second.

Every second it records: offered and completed requests, errors, p50/p99 latency, the HPA's
current/desired replicas and utilization, and ready pods. Prints a table, writes a JSON timeline
(--json) and, when matplotlib is installed (`pip install -e '.[plot]'`), a PNG (--png) with replicas,
CPU utilization against the target and latency over time, each scale decision marked. Loopback only; bounded in time.

    python benchmarks/hpa_step.py [--low 1 --high 45 --phase-seconds 20,40,60] [--json F] [--png F]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (HOST, Terminated, admin_headers, install_signal_handlers, start_ingressd, stop_process,
                     wait_serving)  # noqa: E402

APP_HOST = "hpa.localtest.me"
HPA_PATH = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/cpu"
DEPLOYMENT_PATH = "/apis/apps/v1/namespaces/default/deployments/cpu"
TARGET_UTILIZATION = 50  # the HPA's averageUtilization target, %


def manifests(cpu_ms: float, max_replicas: int, down_window: int) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: cpu}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: cpu}}}}
  template:
    metadata: {{labels: {{app: cpu}}}}
    spec:
      containers:
      - name: echo
        image: ingressd/echo:1.0
        env: [{{name: ECHO_CPU_MS, value: "{cpu_ms:g}"}}]
        ports: [{{containerPort: 8080}}]
        resources: {{requests: {{cpu: 100m}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: cpu}}
spec:
  selector: {{app: cpu}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: cpu}}
spec:
  rules:
  - host: {APP_HOST}
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: cpu, port: {{number: 80}}}}}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: cpu}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: cpu}}
  minReplicas: 1
  maxReplicas: {max_replicas}
  metrics:
  - type: Resource
    resource: {{name: cpu, target: {{type: Utilization, averageUtilization: {TARGET_UTILIZATION}}}}}
  behavior:
    scaleDown: {{stabilizationWindowSeconds: {down_window}}}
"""


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


class Timeline:
    """Per-second buckets of what the load saw and what the HPA reported."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.seconds: dict[int, dict] = {}

    def bucket(self, at: float) -> dict:
        second = int(at - self.start)
        return self.seconds.setdefault(second, {"second": second, "offered": 0, "completed": 0, "errors": 0,
                                                "latencies": [], "rate": 0.0})


async def fire(session: aiohttp.ClientSession, url: str, timeline: Timeline, due: float) -> None:
    bucket = timeline.bucket(due)
    bucket["offered"] += 1
    try:
        async with session.get(url, headers={"Host": APP_HOST}) as resp:
            await resp.read()
            ok = resp.status < 500
    except (aiohttp.ClientError, asyncio.TimeoutError):
        ok = False
    bucket["completed" if ok else "errors"] += 1
    if ok:
        bucket["latencies"].append((time.monotonic() - due) * 1000)


async def load(url: str, phases: list[tuple[float, float]], timeline: Timeline) -> None:
    """Open loop: requests at a constant spacing per phase, each on its own task."""
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512), timeout=timeout) as session:
        tasks: set[asyncio.Task] = set()
        t = time.monotonic()
        for rate, seconds in phases:
            end = t + seconds
            while t < end:
                timeline.bucket(t)["rate"] = rate
                delay = t - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(fire(session, url, timeline, t))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                t += 1.0 / rate
        if tasks:
            await asyncio.wait(tasks, timeout=30)


async def sample(admin: str, timeline: Timeline, stop: asyncio.Event, headers: dict[str, str]) -> None:
    """Once a second: the HPA's status and the Deployment's ready replicas."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2), headers=headers) as session:
        while not stop.is_set():
            bucket = timeline.bucket(time.monotonic())
            try:
                async with session.get(admin + HPA_PATH) as resp:
                    status = (await resp.json()).get("status") or {}
                async with session.get(admin + DEPLOYMENT_PATH) as resp:
                    deployment = await resp.json()
                cpu = next((m["resource"]["current"].get("averageUtilization")
                            for m in status.get("currentMetrics") or [] if m.get("type") == "Resource"), None)
                bucket.update(replicas=status.get("currentReplicas"), desired=status.get("desiredReplicas"),
                              utilization=cpu, ready=(deployment.get("status") or {}).get("readyReplicas", 0))
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                pass
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass


async def run_load(port: int, admin: str, phases: list[tuple[float, float]],
                   headers: dict[str, str] | None = None) -> Timeline:
    timeline = Timeline()
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(admin, timeline, stop, headers or {}))
    await load(f"http://{HOST}:{port}/", phases, timeline)
    stop.set()
    await sampler
    return timeline


def summarize(timeline: Timeline) -> list[dict]:
    rows, last = [], {}
    for second in sorted(timeline.seconds):
        b = timeline.seconds[second]
        for key in ("replicas", "desired", "utilization", "ready"):
            b.setdefault(key, last.get(key))
        last = b
        rows.append({
            "second": second, "rate": b["rate"], "offered": b["offered"], "completed": b["completed"],
            "errors": b["errors"], "error_rate": b["errors"] / b["offered"] if b["offered"] else 0.0,
            "p50_ms": percentile(b["latencies"], 0.5), "p99_ms": percentile(b["latencies"], 0.99),
            "replicas": b.get("replicas"), "desired": b.get("desired"), "utilization": b.get("utilization"),
            "ready": b.get("ready"),
        })
    return rows


def decisions(rows: list[dict]) -> list[tuple[int, str, int, int]]:
    """(second, "scale-out" | "scale-in", from, to) wherever the HPA's desiredReplicas changed
    (a status of 0 before the controller's first pass is not a decision: minReplicas is at least 1)."""
    out, last = [], None
    for r in rows:
        desired = r.get("desired")
        if desired is None:
            continue
        if last and desired != last:
            out.append((r["second"], "scale-out" if desired > last else "scale-in", last, desired))
        last = desired
    return out


def plot(rows: list[dict], target: int, path: str) -> bool:
    """Replicas (integer axis) with the offered load, CPU utilization against the HPA's target, and
    latency; every scale-out/scale-in decision marked on all three; a legend entry for every line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[plot]'): no PNG", file=sys.stderr)
        return False
    seconds = [r["second"] for r in rows]
    fig, (top, middle, bottom) = plt.subplots(3, 1, sharex=True, figsize=(10, 8))
    top.step(seconds, [r["replicas"] or 0 for r in rows], where="post", label="HPA current replicas")
    top.step(seconds, [r["desired"] or 0 for r in rows], where="post", label="HPA desired replicas", linestyle=":")
    top.step(seconds, [r["ready"] or 0 for r in rows], where="post", label="ready pods", linestyle="--")
    top.set_ylabel("replicas")
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_ylim(bottom=0)
    rate_axis = top.twinx()
    rate_axis.plot(seconds, [r["rate"] for r in rows], color="grey", alpha=0.5, label="offered req/s")
    rate_axis.set_ylabel("req/s")
    middle.plot(seconds, [r["utilization"] for r in rows], label="CPU utilization (% of the pods' requests)")
    middle.axhline(target, color="black", linestyle="--", label=f"target {target} %")
    middle.set_ylabel("CPU %")
    bottom.plot(seconds, [r["p50_ms"] for r in rows], label="p50")
    bottom.plot(seconds, [r["p99_ms"] for r in rows], label="p99")
    bottom.set_ylabel("latency (ms)")
    bottom.set_xlabel("seconds")
    marked = set()
    for second, what, before, after in decisions(rows):
        color = "red" if what == "scale-out" else "blue"
        for axis in (top, middle, bottom):
            axis.axvline(second, color=color, linestyle=":",
                         label=f"{what} decision" if (axis, what) not in marked else None)
            marked.add((axis, what))
        top.annotate(f"{before}→{after}", (second, after), color=color, xytext=(3, 3), textcoords="offset points")
    handles, labels = top.get_legend_handles_labels()
    extra_handles, extra_labels = rate_axis.get_legend_handles_labels()
    top.legend(handles + extra_handles, labels + extra_labels, loc="upper left", fontsize="small")
    middle.legend(loc="upper left", fontsize="small")
    bottom.legend(loc="upper left", fontsize="small")
    fig.suptitle("ingressd: HPA step response")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--low", type=float, default=1.0, help="requests/s before and after the step (default 1)")
    parser.add_argument("--high", type=float, default=45.0, help="requests/s during the step (default 45)")
    parser.add_argument("--phase-seconds", default="20,40,60", help="low,high,low durations (default 20,40,60)")
    parser.add_argument("--cpu-ms", type=float, default=20.0, help="ECHO_CPU_MS of the pods (default 20)")
    parser.add_argument("--max-replicas", type=int, default=4, help="the HPA's maxReplicas (default 4)")
    parser.add_argument("--down-window", type=int, default=30,
                        help="the HPA's scale-down stabilizationWindowSeconds (default 30)")
    parser.add_argument("--sync", default="1s", help="--hpa-sync-period and --metric-resolution (default 1s)")
    parser.add_argument("--json", metavar="FILE", default="hpa_step.json", help="timeline JSON (default hpa_step.json)")
    parser.add_argument("--png", metavar="FILE", default="hpa_step.png", help="plot (default hpa_step.png)")
    opts = parser.parse_args()
    durations = [float(x) for x in opts.phase_seconds.split(",")]
    if len(durations) != 3:
        parser.error("--phase-seconds takes three durations: low,high,low")
    phases = list(zip((opts.low, opts.high, opts.low), durations))
    install_signal_handlers()
    workdir = Path(tempfile.mkdtemp(prefix="ingressd-hpa-"))
    (workdir / "app.yaml").write_text(manifests(opts.cpu_ms, opts.max_replicas, opts.down_window))
    proc, http_port, admin_port = start_ingressd(workdir, workdir / "app.yaml", "--hpa-sync-period", opts.sync,
                                                 "--metric-resolution", opts.sync)
    try:
        if not wait_serving(proc, http_port, APP_HOST, workdir):
            return 1
        timeline = asyncio.run(run_load(http_port, f"http://{HOST}:{admin_port}", phases, admin_headers(workdir)))
    except (KeyboardInterrupt, Terminated):
        return 130
    finally:
        stop_process(proc)
    rows = summarize(timeline)
    scale_out = next((r["second"] for r in rows if (r["replicas"] or 1) > 1), None)
    scale_in = next((r["second"] for r in rows if scale_out is not None and r["second"] > scale_out
                     and r["replicas"] == 1), None)
    print(f"{'s':>4} {'req/s':>6} {'done':>5} {'err':>4} {'p50ms':>7} {'p99ms':>7} {'cpu%':>5} {'repl':>4} {'ready':>5}")
    for r in rows:
        def fmt(v, spec):
            return format(v, spec) if v is not None else "-"
        print(f"{r['second']:4d} {r['rate']:6.0f} {r['completed']:5d} {r['errors']:4d} {fmt(r['p50_ms'], '7.1f')} "
              f"{fmt(r['p99_ms'], '7.1f')} {fmt(r['utilization'], '5d')} {fmt(r['replicas'], '4d')} {fmt(r['ready'], '5d')}")
    summary = {
        "phases": [{"rate": rate, "seconds": seconds} for rate, seconds in phases],
        "cpu_ms": opts.cpu_ms, "max_replicas": opts.max_replicas, "down_window": opts.down_window,
        "scale_out_second": scale_out, "back_to_one_second": scale_in,
        "decisions": [{"second": t, "decision": d, "from": a, "to": b} for t, d, a, b in decisions(rows)],
        "max_replicas_seen": max((r["replicas"] or 0 for r in rows), default=0),
        "errors": sum(r["errors"] for r in rows), "requests": sum(r["offered"] for r in rows),
        "timeline": rows,
    }
    Path(opts.json).write_text(json.dumps(summary, indent=2))
    printed = {k: v for k, v in summary.items() if k != "timeline"}
    print(json.dumps(printed, indent=2))
    if plot(rows, TARGET_UTILIZATION, opts.png):
        print(f"plot: {opts.png}")
    print(f"timeline: {opts.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
