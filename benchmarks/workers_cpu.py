"""CPU per request of `ingressd run --workers N` against one process, pinned and interleaved.

    python benchmarks/workers_cpu.py [--target N[@DIR] ...] [--rounds 6] [--duration 8] [--proxy-cpu 0 --load-cpu 1]
                                     [--unpinned] [--delay-ms MS]

Every ingressd process (the control process and its workers) is pinned to --proxy-cpu, wrk and the
nginx backend to --load-cpu (sched_setaffinity on every thread), so two workers time-share one core
exactly as one process uses it and neither competes with wrk: what differs is ingressd's own work.
The targets (default `--target 1 --target 2`: `--workers 1` and `--workers 2`; `N@DIR` runs the
ingressd package of another checkout DIR, e.g. a `git worktree` of the commit before a change;
`1+1` is the control experiment for time-sharing: two independent `--workers 1` instances on the
same core, each loaded by a wrk of its own with half the connections and threads; `nginxN` is
throughput.py's nginx with N workers, the reference for what a second worker costs elsewhere; a
`:C` suffix loads a target with C connections) run side by side (idle while not measured) and are
measured in turn, round after round.
For each run: requests/s and CPU µs per request of the whole process tree (utime+stime from /proc),
split into the control process and the workers, and context switches per request. Prints one line a
run, then the median and range per target. Uses benchmarks/throughput.py's backend and manifests.
On a shared machine the spread matters more than any one number: compare the interleaved medians.
`--unpinned --delay-ms 5` measures the workers as deployed (each may run on its own core) at the
same offered load below saturation, where time-sharing a core does not dominate the cost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import throughput as tp


def pin(pid: int, cpu: int) -> None:
    for pid_ in tp.process_tree(pid):
        try:
            for task in os.listdir(f"/proc/{pid_}/task"):
                os.sched_setaffinity(int(task), {cpu})
        except (FileNotFoundError, ProcessLookupError):
            pass


def switches(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                for line in Path(f"/proc/{pid}/task/{task}/status").read_text().splitlines():
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def control_text(rows: list[dict]) -> str:
    """The control process's share (median), for targets with workers."""
    values = [r["control_us"] for r in rows if r["control_us"] is not None]
    return f"(control process {statistics.median(values):4.1f})" if values else "(one process)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", action="append", default=[], metavar="N[@DIR][:C]",
                   help="`ingressd run --workers N`, from checkout DIR if given, or 1+1 (two single processes, "
                        "half the load each), or nginxN (nginx with N workers, configured as throughput.py's); "
                        ":C loads it with C connections instead of -c; repeatable; default 1 and 2")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--proxy-cpu", type=int, default=0)
    p.add_argument("--load-cpu", type=int, default=1)
    p.add_argument("--unpinned", action="store_true",
                   help="pin nothing: the workers, wrk and the backend share every core as the scheduler likes")
    p.add_argument("--delay-ms", type=float, default=0.0,
                   help="each wrk connection waits this long after a response (an offered load below saturation, "
                        "the same for every target) instead of sending at once")
    p.add_argument("-t", "--threads", type=int, default=2)
    p.add_argument("-c", "--connections", type=int, default=64)
    p.add_argument("--ingressd-arg", action="append", default=[], metavar="ARG")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--startup-timeout", type=float, default=30.0)
    opts = p.parse_args(argv)
    specs = opts.target or ["1", "2"]
    tp.ensure_tools()
    tp.install_signal_handlers()
    workdir = Path(tempfile.mkdtemp(prefix="ingressd-wcpu-"))
    try:
        backend_port = tp.free_port()
        backend = tp.start_backend(workdir / "backend", backend_port, 1)
        targets = {}
        repo = tp.REPO
        half = argparse.Namespace(**{**vars(opts), "threads": max(1, opts.threads // 2),
                                     "connections": opts.connections // 2})
        for i, spec in enumerate(specs):
            target, _, connections = spec.partition(":")
            n, _, tree = target.partition("@")
            load = opts if not connections else argparse.Namespace(**{**vars(opts), "connections": int(connections)})
            if n.startswith("nginx"):
                port = tp.free_port()
                targets[spec] = [(port, tp.start_nginx_proxy(workdir / f"t{i}", port, backend_port,
                                                             workers=int(n[5:] or 1)), load)]
                continue
            tp.REPO = Path(tree).resolve() if tree else repo  # start_ingressd runs `-m ingressd` from there
            try:
                if n == "1+1":
                    targets[spec] = [(tp.free_port(), None, half) for _ in range(2)]
                else:
                    targets[spec] = [(tp.free_port(), None, load)]
                targets[spec] = [(port, tp.start_ingressd(workdir / f"t{i}-{j}", port, backend_port, opts,
                                                          workers=1 if n == "1+1" else int(n)), load)
                                 for j, (port, _, load) in enumerate(targets[spec])]
            finally:
                tp.REPO = repo
        if not opts.unpinned:
            pin(backend.pid, opts.load_cpu)
            os.sched_setaffinity(0, {opts.load_cpu})  # wrk inherits it
        for instances in targets.values():
            for port, proc, _load in instances:
                if not opts.unpinned:
                    pin(proc.pid, opts.proxy_cpu)
                if opts.warmup > 0:
                    tp.run_wrk(port, opts.warmup, opts)
        rows: dict[str, list[dict]] = {spec: [] for spec in specs}
        for round_ in range(1, opts.rounds + 1):
            for n, instances in targets.items():
                pids, control = [], []
                for _port, proc, _load in instances:
                    if proc.popen.poll() is not None:
                        raise RuntimeError(f"{n} exited:\n{proc.stderr_tail()}")
                    if not opts.unpinned:
                        pin(proc.pid, opts.proxy_cpu)  # a restarted worker too
                    tree = tp.process_tree(proc.pid)
                    pids += tree
                    control.append(tree[0])
                cpu0 = {pid: tp.cpu_seconds([pid]) for pid in pids}
                sw0 = switches(pids)
                with ThreadPoolExecutor(len(instances)) as pool:
                    results = list(pool.map(lambda i: tp.run_wrk(i[0], opts.duration, i[2]), instances))
                cpu = {pid: tp.cpu_seconds([pid]) - c for pid, c in cpu0.items()}
                requests = max(sum(r["requests"] for r in results), 1)
                row = {"rps": sum(r["requests_per_s"] for r in results), "us": sum(cpu.values()) * 1e6 / requests,
                       "control_us": None if len(pids) == len(control) else  # no workers: no control process
                       sum(cpu[pid] for pid in control) * 1e6 / requests,
                       "switches": (switches(pids) - sw0) / requests,
                       "errors": sum(r["non_2xx_3xx"] + sum(r["socket_errors"].values()) for r in results)}
                rows[n].append(row)
                print(f"round {round_} {n}: {row['rps']:8.0f} req/s  {row['us']:5.1f} us/req "
                      f"{control_text([row])}  {row['switches']:.3f} switches/req  "
                      f"errors {row['errors']}", flush=True)
        print()
        for n, rs in rows.items():
            us = sorted(r["us"] for r in rs)
            print(f"{n}: median {statistics.median(us):5.1f} us/req (range {us[0]:.1f}-{us[-1]:.1f}), "
                  f"{control_text(rs)}, "
                  f"{statistics.median(r['rps'] for r in rs):.0f} req/s, "
                  f"{statistics.median(r['switches'] for r in rs):.3f} switches/req")
        for family in ("ingressd", "nginx"):  # each target against the first of its kind
            members = [spec for spec in specs if spec.startswith("nginx") == (family == "nginx")]
            for other in members[1:]:
                ratios = sorted(y["us"] / x["us"] for x, y in zip(rows[members[0]], rows[other]))
                print(f"per round, {other} / {members[0]} CPU per request: median x{statistics.median(ratios):.3f} "
                      f"(range x{ratios[0]:.3f}-x{ratios[-1]:.3f})")
        return 0
    finally:
        for proc in reversed(tp.STARTED):
            proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
