"""CPU per request of `ingressd run --workers N` against one process, pinned and interleaved.

    python benchmarks/workers_cpu.py [--target N[@DIR] ...] [--rounds 6] [--duration 8] [--proxy-cpu 0 --load-cpu 1]

Every ingressd process (the control process and its workers) is pinned to --proxy-cpu, wrk and the
nginx backend to --load-cpu (sched_setaffinity on every thread), so two workers time-share one core
exactly as one process uses it and neither competes with wrk: what differs is ingressd's own work.
The targets (default `--target 1 --target 2`: `--workers 1` and `--workers 2`; `N@DIR` runs the
ingressd package of another checkout DIR, e.g. a `git worktree` of the commit before a change) run
side by side (idle while not measured) and are measured in turn, round after round.
For each run: requests/s and CPU µs per request of the whole process tree (utime+stime from /proc),
split into the control process and the workers, and context switches per request. Prints one line a
run, then the median and range per target. Uses benchmarks/throughput.py's backend and manifests.
On a shared machine the spread matters more than any one number: compare the interleaved medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import shutil
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import throughput as tp  # noqa: E402


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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", action="append", default=[], metavar="N[@DIR]",
                   help="`ingressd run --workers N`, from checkout DIR if given (repeatable; default 1 and 2)")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--proxy-cpu", type=int, default=0)
    p.add_argument("--load-cpu", type=int, default=1)
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
        for i, spec in enumerate(specs):
            n, _, tree = spec.partition("@")
            port = tp.free_port()
            tp.REPO = Path(tree).resolve() if tree else repo  # start_ingressd runs `-m ingressd` from there
            try:
                proc = tp.start_ingressd(workdir / f"t{i}", port, backend_port, opts, workers=int(n))
            finally:
                tp.REPO = repo
            targets[spec] = (port, proc)
        pin(backend.pid, opts.load_cpu)
        os.sched_setaffinity(0, {opts.load_cpu})  # wrk inherits it
        for n, (port, proc) in targets.items():
            pin(proc.pid, opts.proxy_cpu)
            if opts.warmup > 0:
                tp.run_wrk(port, opts.warmup, opts)
        rows: dict[str, list[dict]] = {spec: [] for spec in specs}
        for round_ in range(1, opts.rounds + 1):
            for n, (port, proc) in targets.items():
                if proc.popen.poll() is not None:
                    raise RuntimeError(f"{n} exited:\n{proc.stderr_tail()}")
                pin(proc.pid, opts.proxy_cpu)  # a restarted worker too
                pids = tp.process_tree(proc.pid)
                cpu0 = [tp.cpu_seconds([pid]) for pid in pids]
                sw0 = switches(pids)
                result = tp.run_wrk(port, opts.duration, opts)
                cpu = [tp.cpu_seconds([pid]) - c for pid, c in zip(pids, cpu0)]
                requests = max(result["requests"], 1)
                row = {"rps": result["requests_per_s"], "us": sum(cpu) * 1e6 / requests,
                       "control_us": cpu[0] * 1e6 / requests, "switches": (switches(pids) - sw0) / requests,
                       "errors": result["non_2xx_3xx"] + sum(result["socket_errors"].values())}
                rows[n].append(row)
                print(f"round {round_} {n}: {row['rps']:8.0f} req/s  {row['us']:5.1f} us/req "
                      f"(control {row['control_us']:4.1f})  {row['switches']:.3f} switches/req  "
                      f"errors {row['errors']}", flush=True)
        print()
        for n, rs in rows.items():
            us = sorted(r["us"] for r in rs)
            print(f"{n}: median {statistics.median(us):5.1f} us/req (range {us[0]:.1f}-{us[-1]:.1f}), "
                  f"control {statistics.median(r['control_us'] for r in rs):.1f}, "
                  f"{statistics.median(r['rps'] for r in rs):.0f} req/s, "
                  f"{statistics.median(r['switches'] for r in rs):.3f} switches/req")
        first = specs[0]
        for other in specs[1:]:
            ratios = sorted(y["us"] / x["us"] for x, y in zip(rows[first], rows[other]))
            print(f"per round, {other} / {first} CPU per request: median x{statistics.median(ratios):.3f} "
                  f"(range x{ratios[0]:.3f}-x{ratios[-1]:.3f})")
        return 0
    finally:
        for proc in reversed(tp.STARTED):
            proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
