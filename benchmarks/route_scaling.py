"""Route lookup cost against the number of Ingress rules: µs per routing decision, no sockets.

Builds worlds of 10, 1 000 and 10 000 Ingress rules (hosts with Exact and nested Prefix paths,
wildcard hosts, some canary Ingresses, a Service and an EndpointSlice per host) and measures
`ingressd.routing.decide.decide()` for one request mix: hits on the first, middle and last host,
on a wildcard host, on a canary location, deep paths under a Prefix rule, a path no rule has on a
known host, an unknown host, and a spread of many distinct hosts (so per-Host caches do not hide
the lookup). Sizes are measured interleaved, round after round, and the median of the rounds is
reported; the target (issue 14) is largest/smallest <= 1.5. Prints a table and JSON.

    python benchmarks/route_scaling.py [--sizes 10,1000,10000] [--rounds 7] [--decisions 40000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingressd.routing.decide import Answer, Forward, Request, decide  # noqa: E402
from ingressd.routing.snapshot import ManifestObjects, Snapshot, SnapshotBuilder  # noqa: E402

PATHS_PER_HOST = 5  # rules per host: Exact /healthz, Prefix / (odd hosts: /login), /api, /api/v1, /static
TARGET = 1.5


def _paths(service: str, root: bool) -> list[dict]:
    def item(path: str, path_type: str) -> dict:
        return {"path": path, "pathType": path_type,
                "backend": {"service": {"name": service, "port": {"number": 80}}}}
    return [item("/healthz", "Exact"), item("/" if root else "/login", "Prefix"), item("/api", "Prefix"),
            item("/api/v1", "Prefix"), item("/static", "Prefix")]


def host_name(i: int) -> str:
    """Every 10th host is a wildcard rule host."""
    return f"*.w{i}.example.com" if i % 10 == 5 else f"h{i}.example.com"


def world(rules: int) -> tuple[list[dict], int]:
    """(objects, hosts): Ingresses of up to 10 hosts each, in creation order, so host 0 is in the
    oldest Ingress; every 20th host has a canary Ingress (weight 30) on its /api path."""
    hosts = max(1, rules // PATHS_PER_HOST)
    objects: list[dict] = []
    per_ingress = 10
    for first in range(0, hosts, per_ingress):
        ing_rules = []
        for i in range(first, min(hosts, first + per_ingress)):
            ing_rules.append({"host": host_name(i), "http": {"paths": _paths(f"svc{i}", i % 2 == 0)}})
        objects.append({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": f"ing{first}", "namespace": "default",
                         "creationTimestamp": f"2026-01-01T{first // 3600 % 24:02d}:{first // 60 % 60:02d}:"
                                              f"{first % 60:02d}Z"},
            "spec": {"rules": ing_rules}})
    for i in range(hosts):
        objects += _service(f"svc{i}", 10 + i % 200)
        if i % 20 == 0:
            objects += _service(f"svc{i}-canary", 10 + (i + 1) % 200)
            objects.append({
                "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": f"canary{i}", "namespace": "default",
                             "creationTimestamp": "2026-01-02T00:00:00Z",
                             "annotations": {"nginx.ingress.kubernetes.io/canary": "true",
                                             "nginx.ingress.kubernetes.io/canary-weight": "30"}},
                "spec": {"rules": [{"host": host_name(i), "http": {"paths": [
                    {"path": "/api", "pathType": "Prefix",
                     "backend": {"service": {"name": f"svc{i}-canary", "port": {"number": 80}}}}]}}]}})
    return objects, hosts


def _service(name: str, octet: int) -> list[dict]:
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
         "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": f"{name}-1", "namespace": "default",
                      "labels": {"kubernetes.io/service-name": name}},
         "addressType": "IPv4",
         "endpoints": [{"addresses": [f"127.0.0.{octet}"], "conditions": {"ready": True}}],
         "ports": [{"name": "http", "port": 8080}]},
    ]


def request_host(i: int) -> str:
    name = host_name(i)
    return f"app.{name[2:]}" if name.startswith("*.") else name


def request_mix(hosts: int) -> list[tuple[str, Request]]:
    """(label, request) pairs; the same shapes at every size."""
    first, middle, last = 0, hosts // 2, hosts - 1
    wildcard = min(5, last) if hosts > 5 else None
    mix = [
        ("first host /", Request(request_host(first), "/")),
        ("first host /login", Request(request_host(1), "/login/form")),
        ("first host Exact", Request(request_host(first), "/healthz")),
        ("middle host /api/v1/x", Request(request_host(middle) + ":8080", "/api/v1/users?page=2")),
        ("last host /static", Request(request_host(last).upper(), "/static/app.js")),
        ("canary host /api", Request(request_host(first), "/api/orders")),
        ("deep path", Request(request_host(middle), "/api/v1/users/123/orders/456/items/789/detail/a/b/c")),
        ("known host, no rule", Request(request_host(last if last % 2 else max(1, last - 1)), "/healthz/x")),
        ("unknown host", Request("nobody.example.org", "/")),
        ("unknown subdomain", Request("x.h0.example.com", "/api")),
    ]
    if wildcard is not None:
        mix.append(("wildcard host", Request(request_host(wildcard), "/api/v1/items")))
    # A spread of distinct hosts, as real traffic has: more than any per-Host cache keeps.
    # The same number of rows at every size, over as many different hosts as the world has (up to 1000).
    for n in range(1000):
        mix.append(("spread", Request(request_host(n * hosts // 1000), f"/api/v1/{n}")))
    for n in range(1000):  # distinct unknown Host headers (scanners, typos)
        mix.append(("spread miss", Request(f"scan{n}.example.net", "/")))
    return mix


def build(rules: int) -> tuple[Snapshot, list[tuple[str, Request]], dict]:
    objects, hosts = world(rules)
    start = time.perf_counter()
    snapshot, _ = SnapshotBuilder().build(ManifestObjects(objects))
    built = time.perf_counter() - start
    served = sum(len(r["http"]["paths"]) for o in objects if o["kind"] == "Ingress"
                 for r in o["spec"]["rules"])
    return snapshot, request_mix(hosts), {"rules": served, "hosts": hosts, "objects": len(objects),
                                          "build_ms": round(built * 1000, 1)}


def check(snapshot: Snapshot, mix: list[tuple[str, Request]]) -> None:
    """The mix does what its labels say at every size, so the sizes measure the same work."""
    rng = random.Random(1)
    for label, request in mix:
        result = decide(snapshot, request, rng)
        miss = label in ("known host, no rule", "unknown host", "unknown subdomain", "spread miss")
        if miss != (isinstance(result, Answer) and result.status == 404) or \
                (not miss and not isinstance(result, Forward)):
            raise SystemExit(f"request mix: {label} {request.host}{request.path} gave "
                             f"{getattr(result, 'status', 'a forward')}")


def measure(snapshot: Snapshot, mix: list[tuple[str, Request]], decisions: int) -> float:
    """µs per decision over `decisions` decisions cycling through the mix."""
    requests = [r for _, r in mix]
    # The fixed-position rows weigh as much as the spread: repeat them to half the cycle.
    fixed = [r for label, r in mix if not label.startswith("spread")]
    requests += fixed * max(1, (len(requests) - len(fixed)) // len(fixed))
    random.Random(7).shuffle(requests)
    rng = random.Random(1)
    rounds = max(1, decisions // len(requests))
    start = time.perf_counter()
    for _ in range(rounds):
        for request in requests:
            decide(snapshot, request, rng)
    return (time.perf_counter() - start) / (rounds * len(requests)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,1000,10000", help="Ingress rule counts (default 10,1000,10000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--decisions", type=int, default=40_000, help="decisions per size per round")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    worlds = {}
    for size in sizes:
        snapshot, mix, info = build(size)
        check(snapshot, mix)
        measure(snapshot, mix, args.decisions // 4)  # warm caches and the allocator
        worlds[size] = (snapshot, mix, info)
    samples: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(args.rounds):
        for size in sizes:
            snapshot, mix, _ = worlds[size]
            samples[size].append(measure(snapshot, mix, args.decisions))
    rows = []
    for size in sizes:
        info = worlds[size][2]
        rows.append({**info, "size": size, "us_per_decision": round(statistics.median(samples[size]), 3),
                     "us_min": round(min(samples[size]), 3)})
    ratio = rows[-1]["us_per_decision"] / rows[0]["us_per_decision"]
    print(f"{'rules':>7} {'hosts':>6} {'objects':>8} {'build ms':>9} {'µs/decision':>12} {'min':>7}")
    for row in rows:
        print(f"{row['rules']:>7} {row['hosts']:>6} {row['objects']:>8} {row['build_ms']:>9} "
              f"{row['us_per_decision']:>12} {row['us_min']:>7}")
    verdict = "flat" if ratio <= TARGET else "NOT flat"
    print(f"largest/smallest: {ratio:.2f}x (target <= {TARGET}x): {verdict}")
    print(json.dumps({"sizes": rows, "ratio": round(ratio, 3), "target": TARGET, "flat": ratio <= TARGET,
                      "rounds": args.rounds, "decisions": args.decisions}))


if __name__ == "__main__":
    main()
