#!/usr/bin/env python3
"""Hostile and slow clients against `ingressd run`, with well-behaved GET load beside them.

Phases (each bounded in time, loopback only):
  baseline       GET load alone (keep-alive clients): requests/s
  uploads        --uploads chunked POSTs of --upload-kb KiB at once (default 500 x 300): all answered?
  oversize       20 chunked bodies of 3 MiB against the default proxy-body-size 1m: all 413?
  slow bodies    --slow POSTs trickling 3 bytes 2 s apart and then stalling, GET load beside: GET
                 req/s, upstream connections held by ingressd, their 408s (client-body-timeout 3 s
                 via --configmap)
  endless heads  --endless clients streaming header bytes as fast as they can, GET load beside:
                 GET req/s, how much each could send before being cut off, their answers

Prints a table and JSON; exits 1 when an upload went unanswered, an oversize body got anything but
413, a slow body held an upstream connection, or an endless head was read past 1 MiB.

    python benchmarks/hostile_clients.py [--uploads 500] [--upload-kb 300] [--slow 300] [--endless 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import HOST, Terminated, install_signal_handlers, start_ingressd, stop_process, wait_serving  # noqa: E402

APP_HOST = "hostile.localtest.me"
MANIFESTS = f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: controller, namespace: ingress-nginx}}
data: {{client-body-timeout: "3"}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: hostile}}
spec:
  rules:
  - host: {APP_HOST}
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: hostile, port: {{number: 80}}}}}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: hostile}}
spec:
  selector: {{app: hostile}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: hostile}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: hostile}}}}
  template:
    metadata: {{labels: {{app: hostile}}}}
    spec:
      containers:
      - {{name: echo, image: "ingressd/echo:1.0", ports: [{{containerPort: 8080}}]}}
"""
GET = f"GET / HTTP/1.1\r\nHost: {APP_HOST}\r\n\r\n".encode()


async def read_response(reader: asyncio.StreamReader) -> int:
    """One response with a Content-Length body; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def get_load(port: int, clients: int, seconds: float) -> float:
    """Keep-alive GETs from `clients` connections for `seconds`; requests per second answered 2xx."""
    done = 0
    ends = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.monotonic() < ends:
                writer.write(GET)
                if await read_response(reader) < 300:
                    done += 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)), return_exceptions=True)
    return done / (time.monotonic() - started)


async def upload(port: int, size: int, deadline: float) -> tuple[int, float]:
    """One chunked POST of `size` bytes in 16 KiB chunks; (status or 0, seconds)."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        return 0, 0.0
    try:
        writer.write(f"POST / HTTP/1.1\r\nHost: {APP_HOST}\r\nTransfer-Encoding: chunked\r\n"
                     "Connection: close\r\n\r\n".encode())
        piece = b"u" * 16384
        sent = 0
        while sent < size:
            n = min(len(piece), size - sent)
            writer.write(b"%x\r\n%b\r\n" % (n, piece[:n]))
            sent += n
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        status = await asyncio.wait_for(read_response(reader), max(deadline - time.monotonic(), 0.1))
        return status, time.monotonic() - started
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
        return 0, time.monotonic() - started
    finally:
        writer.close()


async def slow_body(port: int, seconds: float) -> int:
    """A POST promising 100 bytes that trickles 3 (one every 2 s) and then stalls: nginx answers
    408 once client-body-timeout passes without a read. The status it ends with (0: none)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(f"POST / HTTP/1.1\r\nHost: {APP_HOST}\r\nContent-Length: 100\r\n\r\n".encode())
        for _ in range(3):
            await asyncio.sleep(2)
            writer.write(b"s")
        return await asyncio.wait_for(read_response(reader), seconds)
    except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError):
        return 0
    finally:
        writer.close()


async def endless_head(port: int, seconds: float) -> tuple[int, int]:
    """Stream one header forever; (bytes sent before the proxy stopped it, status or 0)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    sent = 0
    try:
        writer.write(f"GET / HTTP/1.1\r\nHost: {APP_HOST}\r\nX-Endless: ".encode())
        piece = b"e" * 16384
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            writer.write(piece)
            sent += len(piece)
            try:
                await asyncio.wait_for(writer.drain(), 1)
            except TimeoutError:
                continue
            if reader.at_eof() or reader._buffer:  # the proxy answered: stop sending
                break
        head = await asyncio.wait_for(reader.read(200), 2)
        return sent, int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    except (OSError, TimeoutError, ValueError, IndexError):
        return sent, 0
    finally:
        writer.close()


def upstream_connections(pid: int) -> int:
    """ingressd's TCP connections to pods (port 8080), established."""
    return sum(1 for c in psutil.Process(pid).net_connections(kind="tcp")
               if c.raddr and c.raddr.port == 8080 and c.status == psutil.CONN_ESTABLISHED)


async def run(opts, port: int, pid: int) -> dict:
    result: dict = {}
    result["baseline_get_rps"] = round(await get_load(port, opts.get_clients, opts.seconds), 1)

    deadline = time.monotonic() + 90
    uploads = await asyncio.gather(*(upload(port, opts.upload_kb * 1024, deadline) for _ in range(opts.uploads)))
    times = sorted(t for s, t in uploads if s)
    result["uploads"] = {"sent": opts.uploads, "statuses": dict(Counter(s for s, _ in uploads)),
                         "answered": sum(1 for s, _ in uploads if s),
                         "p50_s": round(times[len(times) // 2], 2) if times else None,
                         "max_s": round(times[-1], 2) if times else None}

    oversize = await asyncio.gather(*(upload(port, 3 * 1024 * 1024, time.monotonic() + 30) for _ in range(20)))
    result["oversize_3MiB"] = dict(Counter(s for s, _ in oversize))

    before = upstream_connections(pid)
    slow = [asyncio.create_task(slow_body(port, 10)) for _ in range(opts.slow)]
    await asyncio.sleep(1)
    held = upstream_connections(pid) - before
    rps = await get_load(port, opts.get_clients, opts.seconds)
    statuses = await asyncio.gather(*slow)
    result["slow_bodies"] = {"clients": opts.slow, "get_rps_beside": round(rps, 1),
                             "upstream_connections_held": max(held, 0), "statuses": dict(Counter(statuses))}

    endless = [asyncio.create_task(endless_head(port, opts.seconds + 1)) for _ in range(opts.endless)]
    rps = await get_load(port, opts.get_clients, opts.seconds)
    outcomes = await asyncio.gather(*endless)
    result["endless_heads"] = {"clients": opts.endless, "get_rps_beside": round(rps, 1),
                               "max_bytes_sent": max(s for s, _ in outcomes),
                               "statuses": dict(Counter(st for _, st in outcomes))}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=500)
    parser.add_argument("--upload-kb", type=int, default=300)
    parser.add_argument("--slow", type=int, default=300)
    parser.add_argument("--endless", type=int, default=50)
    parser.add_argument("--get-clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each GET load phase")
    parser.add_argument("--json", metavar="FILE", help="write the result here too")
    opts = parser.parse_args()
    install_signal_handlers()
    workdir = Path(tempfile.mkdtemp(prefix="ingressd-hostile-"))
    app = workdir / "app.yaml"
    app.write_text(MANIFESTS)
    proc, http_port, _ = start_ingressd(workdir, app, "--configmap", "ingress-nginx/controller")
    try:
        if not wait_serving(proc, http_port, APP_HOST, workdir):
            return 1
        result = asyncio.run(run(opts, http_port, proc.pid))
    except (KeyboardInterrupt, Terminated):
        return 130
    finally:
        stop_process(proc)
    text = json.dumps(result, indent=2)
    print(text)
    if opts.json:
        Path(opts.json).write_text(text)
    ok = (result["uploads"]["answered"] == opts.uploads
          and set(result["oversize_3MiB"]) == {413}
          and result["slow_bodies"]["upstream_connections_held"] == 0
          and set(result["slow_bodies"]["statuses"]) == {408}
          and result["endless_heads"]["max_bytes_sent"] < 1024 * 1024)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
