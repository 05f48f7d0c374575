#!/usr/bin/env python3
"""What persisting the store (ingressd/store_db.py) costs per store write.

Writes a realistic pod (the status the kubelet publishes) N times through `Store.update_status`
and `Store.apply`, with persistence off, on (WAL, synchronous=NORMAL: what `ingressd run` uses)
and on with synchronous=FULL (an fsync per commit), each change committed alone and 50 per commit
(a controller pass: `StoreDB.batch`), in a temporary state dir (or --dir, to measure
another disk). Prints µs per write and a JSON line.

    python benchmarks/store_persist.py [--writes 5000] [--rounds 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ingressd.cluster.store import Store  # noqa: E402
from ingressd.store_db import StoreDB  # noqa: E402


def pod(i: int) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"web-7d9f8c6b5-{i:05d}", "namespace": "default",
                     "labels": {"app": "web", "pod-template-hash": "7d9f8c6b5"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8c6b5",
                                          "uid": "0b6f4a52-6a57-4c1c-9d59-3f0c5d3b3a11", "controller": True,
                                          "blockOwnerDeletion": True}]},
        "spec": {"nodeName": "ingressd", "containers": [{
            "name": "echo", "image": "ingressd/echo:1", "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "ECHO_LATENCY_MS", "value": "5"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
    }


def status(i: int, ready: bool) -> dict:
    state = "True" if ready else "False"
    return {
        "phase": "Running",
        "conditions": [{"type": t, "status": state if t in ("Ready", "ContainersReady") else "True",
                        "lastProbeTime": None, "lastTransitionTime": "2026-12-04T20:00:00Z"}
                       for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")],
        "hostIP": "127.0.0.1", "podIP": f"127.1.0.{i % 250 + 1}", "startTime": "2026-12-04T20:00:00Z",
        "containerStatuses": [{"name": "echo", "state": {"running": {"startedAt": "2026-12-04T20:00:00Z"}},
                               "lastState": {}, "ready": ready, "restartCount": 0, "image": "ingressd/echo:1",
                               "imageID": "", "started": True}],
        "qosClass": "Burstable",
    }


def measure(writes: int, directory: Path | None, synchronous: str | None) -> dict:
    store = Store()
    db = None
    if synchronous is not None:
        db = StoreDB(directory, synchronous=synchronous)
        db.attach(store)
    pods = 50
    for i in range(pods):
        store.apply(pod(i))
    start = time.perf_counter()
    for n in range(writes):
        i = n % pods
        store.update_status("Pod", "default", f"web-7d9f8c6b5-{i:05d}", status(i, ready=bool(n // pods % 2)))
    status_us = (time.perf_counter() - start) / writes * 1e6
    start = time.perf_counter()
    for n in range(writes):
        obj = pod(n % pods)
        obj["metadata"]["labels"]["round"] = str(n)
        store.apply(obj)
    apply_us = (time.perf_counter() - start) / writes * 1e6
    # As a controller pass writes: 50 changes, committed once (StoreDB.batch, as the control loop does).
    start = time.perf_counter()
    for n in range(0, writes, pods):
        with db.batch() if db is not None else contextlib.nullcontext():
            for i in range(pods):
                store.update_status("Pod", "default", f"web-7d9f8c6b5-{i:05d}", status(i, ready=bool(n // pods % 2)))
    batched_us = (time.perf_counter() - start) / (writes - writes % pods or pods) * 1e6
    if db is not None:
        db.close()
    return {"persistence": synchronous or "off", "update_status_us": round(status_us, 1), "apply_us": round(apply_us, 1),
            "batched_update_status_us": round(batched_us, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are printed (default 3)")
    parser.add_argument("--dir", help="a directory on the disk to measure (default: a temporary one)")
    args = parser.parse_args()
    rounds: dict[str, list[dict]] = {}
    for _ in range(args.rounds):
        for synchronous in (None, "NORMAL", "FULL"):
            with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
                writes = args.writes if synchronous != "FULL" else max(args.writes // 10, 100)
                result = measure(writes, Path(tmp) / "state", synchronous)
                rounds.setdefault(result["persistence"], []).append(result)
    results = [{"persistence": name,
                "update_status_us": statistics.median(r["update_status_us"] for r in runs),
                "apply_us": statistics.median(r["apply_us"] for r in runs),
                "batched_update_status_us": statistics.median(r["batched_update_status_us"] for r in runs)}
               for name, runs in rounds.items()]
    print(f"{'persistence':<12} {'update_status µs':>17} {'apply µs':>10} {'50 per batch µs':>16}"
          f"   (medians of {args.rounds} rounds)")
    for r in results:
        print(f"{r['persistence']:<12} {r['update_status_us']:>17} {r['apply_us']:>10} {r['batched_update_status_us']:>16}")
    print(json.dumps({"writes": args.writes, "rounds": args.rounds, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
