"""A 1 GiB upload streams through `ingressd run` without being held in memory."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from tests.e2e.conftest import HOST, echo_app_yaml, wait_status

GIB = 1 << 30
CHUNK = 1 << 20


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_one_gib_upload_streams(ingressd, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "upload.yaml").write_text(echo_app_yaml("sink", "upload.test", annotations={"proxy-body-size": "0"}))
    proc = ingressd("-f", str(tmp_path / "m"))
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "upload.test", 200, 20)
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
