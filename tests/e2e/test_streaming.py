"""A 1 GiB upload streams through `ingressd run` without being held in memory."""

from __future__ import annotations

import http.client
import json
import textwrap
import time
from pathlib import Path

from tests.e2e.conftest import HOST, http_get

MANIFESTS = textwrap.dedent("""\
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: upload
      annotations:
        nginx.ingress.kubernetes.io/proxy-body-size: "0"
    spec:
      rules:
      - host: upload.test
        http:
          paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: sink
                port:
                  number: 80
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: sink
    spec:
      selector:
        app: sink
      ports:
      - name: http
        port: 80
        targetPort: 8080
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: sink
    spec:
      replicas: 1
      selector:
        matchLabels:
          app: sink
      template:
        metadata:
          labels:
            app: sink
        spec:
          containers:
          - name: echo
            image: ingressd/echo:1.0
            ports:
            - containerPort: 8080
    """)

GIB = 1 << 30
CHUNK = 1 << 20


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_one_gib_upload_streams(ingressd, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "upload.yaml").write_text(MANIFESTS)
    proc = ingressd("-f", str(tmp_path / "m"))
    proc.wait_healthy()
    deadline = time.monotonic() + 20
    while http_get(proc.http_port, "/", host="upload.test")[0] != 200:
        assert time.monotonic() < deadline, "the sink pod never became ready"
        time.sleep(0.1)
    before = peak_rss_mib(proc.proc.pid)

    conn = http.client.HTTPConnection(HOST, proc.http_port, timeout=120)
    conn.putrequest("PUT", "/upload", skip_host=True)
    conn.putheader("Host", "upload.test")
    conn.putheader("Content-Length", str(GIB))
    conn.endheaders()
    chunk = b"\0" * CHUNK
    for _ in range(GIB // CHUNK):
        conn.send(chunk)
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()

    assert resp.status == 200
    assert body["bodyBytes"] == GIB
    grown = peak_rss_mib(proc.proc.pid) - before
    assert grown < 64, f"peak RSS grew by {grown:.0f} MiB during a 1 GiB upload"
