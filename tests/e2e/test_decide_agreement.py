"""The proxy and `ingressd explain` agree: every row of the decide table (tests/routing/decide_rows.py)
goes through real sockets to a running ingressd and through `ingressd explain --admin` against it,
and both give the row's outcome."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

from ingressd.routing.explain_view import outcome_of
from tests.e2e.conftest import HOST, run_cli
from tests.routing.decide_rows import ROWS, WORLD, Row, expected


def send(port: int, row: Row) -> tuple:
    """The row's request on a fresh connection; its outcome as ("forward", upstream) or
    ("answer", status, Location)."""
    headers = {"Host": row.host, "Connection": "close", **row.headers}
    body = b""
    if row.body is not None:
        body = b"x" * row.body
        headers["Content-Length"] = str(row.body)
    head = f"{row.method} {row.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    got = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if "x-ingressd-upstream" in got:
        return "forward", got["x-ingressd-upstream"]
    return "answer", status, got.get("location")


def explain_cli(admin_port: int, row: Row) -> tuple:
    args = ["explain", "--admin", f"http://{HOST}:{admin_port}", "--host", row.host, "--path", row.path,
            "--method", row.method, "-o", "json"]
    for name, value in row.headers.items():
        if name == "Cookie":
            args += [arg for pair in value.split("; ") for arg in ("--cookie", pair)]
        else:
            args += ["--header", f"{name}={value}"]
    if row.body is not None:
        args += ["--content-length", str(row.body)]
    result = run_cli(*args)
    assert result.stderr == "", result.stderr  # the running instance answered: no fallback to files
    return outcome_of(json.loads(result.stdout))


def test_every_decide_row_through_sockets_and_explain(ingressd, tmp_path):
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "world.yaml").write_text(yaml.safe_dump_all(WORLD))
    proc = ingressd("-f", str(manifests), "--expose-upstream", "--certs-dir", str(tmp_path / "certs"))
    proc.wait_healthy()
    ready = {"plain.test": ("forward", "default-web-80"), "c-all.test": ("forward", "default-canary-80"),
             "db-0.db.default.svc": ("forward", "default-db-8080")}
    deadline = time.monotonic() + 60
    while any(send(proc.http_port, Row("wait", host, want)) != want for host, want in ready.items()):
        assert time.monotonic() < deadline, proc.stderr()
        time.sleep(0.1)
    with ThreadPoolExecutor(4) as pool:
        explained = list(pool.map(lambda row: explain_cli(proc.admin_port, row), ROWS))
    wire = [send(proc.http_port, row) for row in ROWS]
    want = [expected(row, proc.https_port) for row in ROWS]
    mismatches = [(row.id, w, s, e) for row, w, s, e in zip(ROWS, want, wire, explained) if not w == s == e]
    assert mismatches == []
    text = run_cli("explain", "--admin", f"http://{HOST}:{proc.admin_port}", "--host", "plain.test")
    lines = text.stdout.splitlines()
    candidates = next(line for line in lines if line.startswith("  endpoint candidates: "))
    assert candidates.count("127.") == 2 and "(web-" in candidates  # the live pods, by address and name
    assert any(line.startswith("first endpoint: 127.") and line.endswith("round robin: next in turn")
               for line in lines), lines
