"""`ingressd run --workers 2` as a real subprocess: two data-plane processes behind one control process.

Every request sent through the proxy is counted here, so the one /metrics (summed across workers)
and the one access log (lines from both workers) can be held to the exact number sent.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import HOST, echo_app_yaml, free_port, http_get, run_cli

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self") or not hasattr(socket, "SO_REUSEPORT"),
                                reason="--workers needs SO_REUSEPORT (Linux); these tests read /proc")


class Client:
    """Requests through the proxy, each counted (whatever its answer)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sent = 0
        self.lock = threading.Lock()

    def count(self, n: int = 1) -> None:
        with self.lock:
            self.sent += n

    def request(self, host: str, path: str = "/", body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
        """One request on a new connection (the kernel picks the worker anew); no redirect followed."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        self.count()
        try:
            conn.request("POST" if body is not None else "GET", path, body=body, headers={"Host": host, **(headers or {})})
            resp = conn.getresponse()
            return resp.status, dict(resp.headers), resp.read()
        finally:
            conn.close()

    def wait(self, host: str, path: str, want: int = 200, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.request(host, path)[0] != want:
            assert time.monotonic() < deadline, f"{host}{path} never answered {want}"
            time.sleep(0.1)


def tls_exchange(port: int, context: ssl.SSLContext, server_name: str, request: bytes) -> bytes:
    """Send one request on a new TLS connection (SNI `server_name`), read until the server closes."""
    with socket.create_connection((HOST, port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=server_name) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def worker_pids(parent: int) -> list[int]:
    """The `ingressd.workers.worker` children of `parent`, from /proc."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"ingressd.workers.worker" in cmdline:
            found.append(int(name))
    return sorted(found)


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet is not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def socket_fds(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def requests_total(admin_port: int) -> float:
    """The sum of every nginx_ingress_controller_requests series on /metrics."""
    status, _, body = http_get(admin_port, "/metrics")
    assert status == 200
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("nginx_ingress_controller_requests{"))


def eventually(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def start_two_workers(ingressd, tmp_path, text: str, *extra: str):
    manifests = tmp_path / "m"
    manifests.mkdir(exist_ok=True)
    (manifests / "app.yaml").write_text(text)
    proc = ingressd("-f", str(manifests), "--workers", "2", "--access-log", str(tmp_path / "access.log"), *extra)
    proc.wait_healthy()
    workers = eventually(lambda: len(worker_pids(proc.proc.pid)) == 2 and worker_pids(proc.proc.pid))
    assert workers and len(workers) == 2, proc.stderr()
    assert "ingressd: 2 data-plane workers (pids " in proc.stderr()
    return proc, workers


def test_two_workers_route_tls_and_affinity_and_count_every_request_once(ingressd, tmp_path):
    text = echo_app_yaml("wk", "wk.test", annotations={"affinity": "cookie"}).replace("replicas: 1", "replicas: 2")
    text = text.replace("  annotations:", '  annotations:\n    ingressd.io/local-ca: "true"', 1).replace(
        "spec:\n  rules:", "spec:\n  tls:\n  - hosts: [wk.test]\n    secretName: wk-tls\n  rules:", 1)
    proc, workers = start_two_workers(ingressd, tmp_path, text)
    client = Client(proc.http_port)
    client.wait("wk.test", "/", 308)  # a TLS host: ssl-redirect, from either worker

    # TLS with SNI: the local CA's certificate for wk.test, from whichever worker accepts.
    context = ssl.create_default_context(cafile=os.path.join(os.environ["INGRESSD_CAROOT"], "ca.crt"))
    for _ in range(8):
        client.count()
        data = tls_exchange(proc.https_port, context, "wk.test",
                            b"GET /tls HTTP/1.1\r\nHost: wk.test\r\nConnection: close\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 200"), data[:200]
        assert json.loads(data.split(b"\r\n\r\n", 1)[1])["headers"]["X-Forwarded-Proto"] == "https"

    # Both workers accept: sixteen connections held open at once land on both.
    before = {pid: socket_fds(pid) for pid in workers}
    conns = [http.client.HTTPConnection(HOST, proc.http_port, timeout=10) for _ in range(16)]
    try:
        for conn in conns:
            conn.request("GET", "/held", headers={"Host": "wk.test"})
            client.count()
            assert conn.getresponse().read() is not None
        grown = {pid: socket_fds(pid) - before[pid] for pid in workers}
    finally:
        for conn in conns:
            conn.close()
    assert all(n > 0 for n in grown.values()), grown

    # Affinity over HTTPS (plain HTTP is redirected): the cookie one worker issued pins the pod on
    # every new connection, whichever worker accepts it.
    def https(path: str, cookie: str | None = None) -> tuple[str, str | None]:
        extra = f"Cookie: {cookie}\r\n" if cookie else ""
        client.count()
        data = tls_exchange(proc.https_port, context, "wk.test",
                            f"GET {path} HTTP/1.1\r\nHost: wk.test\r\n{extra}Connection: close\r\n\r\n".encode())
        head, body = data.split(b"\r\n\r\n", 1)
        set_cookie = re.search(rb"\r\nSet-Cookie: ([^;\r]+)", head)
        return json.loads(body)["pod"], set_cookie.group(1).decode() if set_cookie else None

    deadline = time.monotonic() + 30
    while len({https("/")[0] for _ in range(10)}) < 2:
        assert time.monotonic() < deadline, "both pods never served"
    pod, cookie = https("/")
    assert cookie and cookie.startswith("INGRESSCOOKIE=")
    sticky = {https("/sticky", cookie)[0] for _ in range(30)}
    assert sticky == {pod}

    # Concurrent load, GETs and 3 KiB POSTs on new connections: every one answered and logged once.
    def one(i: int) -> tuple[int, int]:
        body = b"x" * 3072 if i % 2 else None
        method = "POST" if body else "GET"
        length = f"Content-Length: {len(body)}\r\n" if body else ""
        client.count()
        data = tls_exchange(proc.https_port, context, "wk.test",
                            f"{method} /load/{i} HTTP/1.1\r\nHost: wk.test\r\n{length}Connection: close\r\n\r\n"
                            .encode() + (body or b""))
        return int(data.split(b" ", 2)[1]), json.loads(data.split(b"\r\n\r\n", 1)[1])["bodyBytes"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(200)))
    assert all(status == 200 for status, _ in results)
    assert [n for _, n in results] == [3072 if i % 2 else 0 for i in range(200)]

    sent = client.sent
    assert eventually(lambda: requests_total(proc.admin_port) == sent), (requests_total(proc.admin_port), sent)
    log = tmp_path / "access.log"
    assert eventually(lambda: len(log.read_text().splitlines()) == sent), (len(log.read_text().splitlines()), sent)
    lines = log.read_text().splitlines()
    assert all(re.fullmatch(r'127\.0\.0\.1 - - \[[^]]+\] "[A-Z]+ \S+ HTTP/1\.1" \d{3} .*', line) for line in lines)
    assert sum('"POST /load/' in line for line in lines) == 100
    assert time.sleep(0.5) is None and requests_total(proc.admin_port) == sent  # nothing more comes

    # logrotate: the file moved away, SIGUSR1 to ingressd; the workers' next lines go to the new file.
    # A SIGUSR1 that reaches a worker (pkill -USR1 ingressd matches them too) does not stop it.
    log.rename(tmp_path / "access.log.1")
    os.kill(workers[0], signal.SIGUSR1)
    proc.proc.send_signal(signal.SIGUSR1)
    assert eventually(log.exists)
    for i in range(20):
        assert client.request("wk.test", f"/rotated/{i}")[0] == 308
    assert eventually(lambda: len(log.read_text().splitlines()) == 20)
    assert worker_pids(proc.proc.pid) == workers
    assert len((tmp_path / "access.log.1").read_text().splitlines()) == sent
    sent = client.sent

    assert proc.stop() == 0
    assert not any(alive(pid) for pid in workers)
    assert len(log.read_text().splitlines()) + len((tmp_path / "access.log.1").read_text().splitlines()) == sent
    assert "Traceback" not in proc.stderr()


GATEWAY = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: extra
spec:
  gatewayClassName: ingressd
  listeners:
  - name: http
    protocol: HTTP
    port: {port}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: extra
spec:
  parentRefs:
  - name: extra
  hostnames: [gw.test]
  rules:
  - backendRefs:
    - name: hot
      port: 80
"""


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def test_hot_reload_reaches_both_workers_under_load_without_a_failed_request(ingressd, tmp_path):
    text = echo_app_yaml("hot", "hot.test", "/one")
    proc, _workers = start_two_workers(ingressd, tmp_path, text, "--reload-interval", "0.2")
    client = Client(proc.http_port)
    client.wait("hot.test", "/one")
    failures: list[str] = []
    stop = threading.Event()

    def load(keep_alive: bool) -> None:
        conn = http.client.HTTPConnection(HOST, proc.http_port, timeout=10)
        i = 0
        while not stop.is_set():
            i += 1
            body = b"y" * 1024 if i % 3 == 0 else None
            try:
                if not keep_alive:
                    conn.close()
                conn.request("POST" if body else "GET", "/one", body=body, headers={"Host": "hot.test"})
                client.count()
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200 or json.loads(data)["bodyBytes"] != (len(body) if body else 0):
                    failures.append(f"{resp.status} {data[:100]!r}")
            except (OSError, http.client.HTTPException, ValueError) as exc:
                failures.append(repr(exc))
                conn.close()
        conn.close()

    threads = [threading.Thread(target=load, args=(k,)) for k in (True, True, False, False)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        both = echo_app_yaml("hot", "hot.test", "/one").replace(
            "      - path: /one", "      - path: /two\n        pathType: Prefix\n        backend:\n"
            "          service:\n            name: hot\n            port:\n              number: 80\n"
            "      - path: /one")
        (tmp_path / "m" / "app.yaml").write_text(both)
        client.wait("hot.test", "/two", timeout=10)
        # every worker has it: twenty new connections, each 200
        assert [client.request("hot.test", "/two")[0] for _ in range(20)] == [200] * 20
        (tmp_path / "m" / "app.yaml").write_text(text)
        client.wait("hot.test", "/two", 404, timeout=10)
        assert [client.request("hot.test", "/two")[0] for _ in range(20)] == [404] * 20
        # A Gateway listener on a port of its own: bound for both workers when it appears, closed when
        # it goes; the Ingress routes are served throughout.
        extra = free_port()
        (tmp_path / "m" / "gateway.yaml").write_text(GATEWAY.format(port=extra))
        gateway = Client(extra)
        deadline = time.monotonic() + 10
        while True:
            try:
                if gateway.request("gw.test", "/")[0] == 200:
                    break
            except OSError:
                gateway.count(-1)  # not bound yet: nothing reached ingressd
            assert time.monotonic() < deadline, proc.stderr()
            time.sleep(0.1)
        assert [gateway.request("gw.test", "/")[0] for _ in range(20)] == [200] * 20
        (tmp_path / "m" / "gateway.yaml").unlink()
        assert eventually(lambda: not port_open(extra)), "the Gateway listener port stayed open"
        client.count(gateway.sent)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    sent = client.sent
    assert sent > 100
    assert eventually(lambda: requests_total(proc.admin_port) == sent), (requests_total(proc.admin_port), sent)
    log = tmp_path / "access.log"
    assert eventually(lambda: len(log.read_text().splitlines()) == sent)


def test_a_killed_worker_is_replaced_and_sigkill_of_ingressd_leaves_no_worker(ingressd, tmp_path):
    headless = ("---\napiVersion: v1\nkind: Service\nmetadata:\n  name: kw-h\nspec:\n  clusterIP: None\n"
                "  selector:\n    app: kw\n  ports:\n  - port: 80\n    targetPort: 8080\n")
    proc, workers = start_two_workers(ingressd, tmp_path, echo_app_yaml("kw", "kw.test") + headless)
    client = Client(proc.http_port)
    client.wait("kw.test", "/")
    pod = json.loads(client.request("kw.test", "/")[2])["pod"]
    for _ in range(20):  # per-pod names of a headless Service, on every worker
        status, _, body = client.request(f"{pod}.kw-h.default.svc.cluster.local", "/")
        assert status == 200 and json.loads(body)["pod"] == pod
    sent = client.sent
    assert eventually(lambda: requests_total(proc.admin_port) == sent)

    # routes and explain are the control process's, on the snapshot the workers serve
    status, _, body = http_get(proc.admin_port, "/ingressd/v1/routes")
    assert status == 200 and b"kw.test" in body, body[:300]
    status, _, body = http_get(proc.admin_port, "/ingressd/v1/explain?host=kw.test&path=/")
    assert status == 200 and b"default/kw" in body, body[:300]

    # another ingressd --workers cannot join this one's SO_REUSEPORT group: address already in use
    result = run_cli("run", "-f", str(tmp_path / "m"), "--workers", "2", "--http-port", str(proc.http_port),
                     "--https-port", str(free_port()), "--admin-port", str(free_port()),
                     "--state-dir", str(tmp_path / "second"))
    assert result.returncode == 2, result.stderr
    assert f"cannot bind the HTTP port 127.0.0.1:{proc.http_port}: address already in use" in result.stderr

    victim, survivor = workers
    os.kill(victim, signal.SIGKILL)
    assert eventually(lambda: f"(pid {victim}) killed by SIGKILL; starting it again" in proc.stderr())
    assert eventually(lambda: re.search(r"worker \d started again \(pid \d+\)", proc.stderr()))
    replaced = worker_pids(proc.proc.pid)
    assert len(replaced) == 2 and survivor in replaced and victim not in replaced
    for _ in range(40):  # new connections: both sockets are served again
        assert client.request("kw.test", "/")[0] == 200
    sent = client.sent
    # the dead worker's counts reported before it died are kept: the sum is still every request
    assert eventually(lambda: requests_total(proc.admin_port) == sent), (requests_total(proc.admin_port), sent)

    proc.proc.kill()
    proc.proc.wait()
    assert eventually(lambda: not any(alive(pid) for pid in replaced), timeout=5), \
        [pid for pid in replaced if alive(pid)]


def test_a_stopped_worker_is_killed_after_worker_timeout_and_its_connections_are_served(ingressd, tmp_path):
    proc, workers = start_two_workers(ingressd, tmp_path, echo_app_yaml("st", "st.test"), "--worker-timeout", "2")
    client = Client(proc.http_port)
    client.wait("st.test", "/")
    time.sleep(3)  # longer than the timeout with no traffic: heartbeats alone keep an idle worker alive
    assert "--worker-timeout" not in proc.stderr()
    victim, survivor = workers
    os.kill(victim, signal.SIGSTOP)  # as a loop stuck in a handler: no report, no accept
    try:
        answers: list[int] = []
        with ThreadPoolExecutor(8) as pool:  # new connections; the kernel gives some to the stopped worker
            answers = list(pool.map(lambda _: client.request("st.test", "/")[0], range(24)))
        assert answers == [200] * 24  # those waited in its socket's queue for its successor
        stderr = proc.stderr()
        assert re.search(rf"ingressd: worker \d \(pid {victim}\) has not reported for 2s \(--worker-timeout\); "
                         "killing it", stderr), stderr
        assert f"(pid {victim}) killed by SIGKILL; starting it again" in stderr
        assert eventually(lambda: re.search(r"worker \d started again \(pid \d+\)", proc.stderr()))
        assert survivor in worker_pids(proc.proc.pid) and victim not in worker_pids(proc.proc.pid)
        assert f"(pid {survivor}) has not reported" not in proc.stderr()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGCONT)


def test_one_worker_is_this_process_and_bad_counts_are_refused(ingressd, tmp_path):
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "app.yaml").write_text(echo_app_yaml("one", "one.test"))
    proc = ingressd("-f", str(manifests), "--workers", "1")
    proc.wait_healthy()
    assert worker_pids(proc.proc.pid) == []
    assert "data-plane workers" not in proc.stderr()
    # a port in use is refused with --workers as without, also when its user is another
    # ingressd --workers (SO_REUSEPORT would otherwise let the two share it)
    result = run_cli("run", "-f", str(manifests), "--workers", "2", "--http-port", str(proc.http_port),
                     "--https-port", str(free_port()), "--admin-port", str(free_port()),
                     "--state-dir", str(tmp_path / "second"))
    assert result.returncode == 2, result.stderr
    assert f"cannot bind the HTTP port 127.0.0.1:{proc.http_port}: address already in use" in result.stderr
    for value, message in (("0", "invalid value '0': want a number of workers from 1 to 64, or auto"),
                           ("65", "invalid value '65': want a number of workers from 1 to 64, or auto"),
                           ("some", "invalid value 'some': want a number of workers (1 to 64) or auto")):
        result = run_cli("run", "--workers", value)
        assert result.returncode == 2
        assert f"argument --workers: {message}" in result.stderr
    for value in ("-1s", "nan", "soon"):
        result = run_cli("run", "--workers", "2", "--worker-timeout", value)
        assert result.returncode == 2
        assert "argument --worker-timeout: " in result.stderr, result.stderr


def load_both_workers(client: Client, workers: list[int], n: int = 300) -> None:
    """`n` requests on new connections from 8 threads (so both workers serve at once); every tenth
    with a path long enough to make its access-log line longer than a pipe's atomic write."""
    def one(i: int) -> int:
        path = f"/x/{i}/" + ("p" * 5000 if i % 10 == 0 else "")
        return client.request("nobody.test", path)[0]

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(n))) == {404}


def held_by(pid: int, path) -> bool:
    """Whether process `pid` has `path` open."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
    return False


LOG_LINE = re.compile(r'127\.0\.0\.1 - - \[[^]]+\] "GET /x/(\d+)/p* HTTP/1\.1" 404 .*')


def test_workers_write_a_regular_file_access_log_themselves_whole_lines(ingressd, tmp_path):
    """--access-log stdout, stdout a file (opened without O_APPEND: the workers share its offset):
    each worker writes its own batches, one write() each, never interleaved mid-line."""
    (tmp_path / "m.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: wk\n")
    proc = ingressd("-f", str(tmp_path / "m.yaml"), "--workers", "2")
    proc.wait_healthy()
    workers = eventually(lambda: len(worker_pids(proc.proc.pid)) == 2 and worker_pids(proc.proc.pid))
    assert workers and all(held_by(pid, proc.stdout_path) for pid in workers)
    client = Client(proc.http_port)
    load_both_workers(client, workers)
    assert eventually(lambda: len(proc.stdout().splitlines()) == client.sent)
    ids = [int(m.group(1)) for line in proc.stdout().splitlines() if (m := LOG_LINE.fullmatch(line))]
    assert sorted(ids) == list(range(client.sent))
    assert proc.stop() == 0


def test_an_access_log_that_is_not_a_regular_file_gets_the_workers_lines_through_ingressd(ingressd, tmp_path):
    """A FIFO (as a pipe: writes over PIPE_BUF bytes could interleave): the control process writes
    each worker's batch, the workers do not hold it."""
    fifo = tmp_path / "access.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that ingressd's open does not block
    chunks: list[bytes] = []
    done = threading.Event()

    def drain() -> None:
        while not done.is_set():
            try:
                data = os.read(reader, 1 << 16)
            except BlockingIOError:
                time.sleep(0.02)
                continue
            if data:
                chunks.append(data)
            else:
                time.sleep(0.02)  # no writer yet, or between writers

    thread = threading.Thread(target=drain)
    thread.start()
    try:
        (tmp_path / "m.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: wk\n")
        proc = ingressd("-f", str(tmp_path / "m.yaml"), "--workers", "2", "--access-log", str(fifo))
        proc.wait_healthy()
        workers = eventually(lambda: len(worker_pids(proc.proc.pid)) == 2 and worker_pids(proc.proc.pid))
        assert workers and not any(held_by(pid, fifo) for pid in workers)
        assert held_by(proc.proc.pid, fifo)
        client = Client(proc.http_port)
        load_both_workers(client, workers)
        assert eventually(lambda: b"".join(chunks).count(b"\n") == client.sent)
        lines = b"".join(chunks).decode().splitlines()
        ids = [int(m.group(1)) for line in lines if (m := LOG_LINE.fullmatch(line))]
        assert sorted(ids) == list(range(client.sent))
        assert proc.stop() == 0
    finally:
        done.set()
        thread.join()
        os.close(reader)
