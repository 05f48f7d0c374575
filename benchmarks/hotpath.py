"""Per-request Python cost of the data plane, without sockets.

Drives one client connection and one pooled upstream connection with fake transports through N
keep-alive request/response cycles, so the number is the proxy's own work (parsing callbacks,
routing, header rewriting, metrics, access log) and nothing of the kernel's. Prints µs/request
and JSON; `--profile` prints the top functions.

    python benchmarks/hotpath.py [-n 200000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingressd.accesslog import AccessLog  # noqa: E402
from ingressd.proxy.server import ClientConnection, ProxyServer  # noqa: E402
from ingressd.routing.snapshot import Snapshot  # noqa: E402
from ingressd.proxy.upstream import UpstreamConnection  # noqa: E402
from ingressd.routing.endpoints import build_endpoint_index  # noqa: E402
from ingressd.routing.table import build_route_table  # noqa: E402

REQUEST = (b"GET /index.html?x=1 HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: wrk\r\n"
           b"Accept: */*\r\nAccept-Encoding: gzip\r\n\r\n")
RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Wed, 25 Nov 2026 21:00:00 GMT\r\n"
            b"Content-Type: text/plain\r\nContent-Length: 100\r\nConnection: keep-alive\r\n\r\n" + b"x" * 100)


class FakeTransport:
    def __init__(self, peer) -> None:
        self.peer = peer
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += 1

    def get_extra_info(self, name, default=None):
        return self.peer if name in ("peername", "sockname") else default

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def objects():
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "bench", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"},
               "spec": {"rules": [{"host": "bench.local", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "bench", "port": {"number": 80}}}}]}}]}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bench", "namespace": "default"},
               "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 18080}]}}
    eps = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": "bench-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "bench"}},
           "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
           "ports": [{"name": "http", "port": 18080}]}
    return build_route_table([ingress]), build_endpoint_index([service], [eps], [])


async def run(n: int, profile: bool) -> dict:
    table, index = objects()
    server = ProxyServer(Snapshot(table, index), access_log=AccessLog(io.StringIO()))
    client = ClientConnection(server, b"http")
    client.connection_made(FakeTransport(("127.0.0.1", 40000)))
    upstream = UpstreamConnection(server.pool, "127.0.0.1:18080")
    upstream.connection_made(FakeTransport(("127.0.0.1", 18080)))
    server.pool.idle["127.0.0.1:18080"] = [upstream]
    log = server.access_log

    def cycle(count: int) -> None:
        for i in range(count):
            client.data_received(REQUEST)
            upstream.data_received(RESPONSE)
            if i % 256 == 0:
                log._buffer.clear()
                upstream.requests = 0  # stay under upstream-keepalive-requests

    cycle(1000)
    prof = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if prof:
        prof.enable()
    cycle(n)
    if prof:
        prof.disable()
    elapsed = time.perf_counter() - start
    if server.pool.idle.get("127.0.0.1:18080") != [upstream]:
        raise SystemExit("the upstream connection was not reused: the benchmark is not measuring the hot path")
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    await server.close()
    return {"requests": n, "us_per_request": round(elapsed / n * 1e6, 2), "profiled": profile}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200_000, help="requests (default 200000)")
    parser.add_argument("--profile", action="store_true", help="print the top functions (slower)")
    args = parser.parse_args()
    result = asyncio.run(run(args.n, args.profile))
    print(f"{result['us_per_request']} µs of Python per proxied request (no I/O)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
