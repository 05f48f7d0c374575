"""Hot reload end to end: edits apply only once the files are complete; unrelated edits keep routing.

Issue 10, points 9 and 10: truncate-then-write was seen as an empty file (routes gone, 404s), and
any unrelated object emptied the per-pod name index.
"""

from __future__ import annotations

import os
import textwrap
import threading
import time
from collections import Counter

from tests.e2e.conftest import echo_app_yaml, http_get, wait_status

EXTRA = textwrap.dedent("""\
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: extra
    spec:
      rules:
      - host: extra.test
        http:
          paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: hot
                port:
                  number: 80
    """)


class Traffic:
    """GETs in a loop on a thread, counting statuses, while the test edits files."""

    def __init__(self, port: int, host: str) -> None:
        self.port, self.host = port, host
        self.statuses: Counter[int] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.statuses[http_get(self.port, "/", host=self.host)[0]] += 1
            except OSError:
                self.statuses[0] += 1

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


def truncate_then_write(path, text: str, pieces: int, pause: float) -> None:
    """As `cat > file` or an editor that saves in place: truncate, then write in pieces."""
    data = text.encode()
    size = -(-len(data) // pieces)
    with open(path, "wb") as f:
        f.flush()
        for i in range(0, len(data), size):
            time.sleep(pause)
            f.write(data[i:i + size])
            f.flush()


def reloads(proc) -> int:
    return proc.stderr().count("ingressd: configuration reloaded")


def wait_for_reloads(proc, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while reloads(proc) < count:
        assert time.monotonic() < deadline, proc.stderr()
        time.sleep(0.05)


def start(ingressd, tmp_path, files: dict[str, str]):
    manifests = tmp_path / "m"
    manifests.mkdir()
    for name, text in files.items():
        (manifests / name).write_text(text)
    proc = ingressd("-f", str(manifests))
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "hot.test", 200, 20)
    return proc, manifests


def test_truncate_then_write_in_pieces_never_drops_a_route(ingressd, tmp_path):
    app = echo_app_yaml("hot", "hot.test")
    proc, manifests = start(ingressd, tmp_path, {"app.yaml": app})
    with Traffic(proc.http_port, "hot.test") as traffic:
        for round_ in range(1, 4):  # each rewrite takes ~0.6 s: longer than a poll, shorter pieces apart
            new = app + "---\n" + EXTRA.replace("extra.test", f"extra{round_}.test")
            truncate_then_write(manifests / "app.yaml", new, pieces=12, pause=0.05)
            wait_status(proc.http_port, "/", f"extra{round_}.test", 200, 10)
        time.sleep(0.3)
    assert traffic.statuses[200] > 20
    assert set(traffic.statuses) == {200}, (traffic.statuses, proc.stderr())
    assert "reload rejected" not in proc.stderr()
    assert reloads(proc) == 3, proc.stderr()


def test_atomic_rename_and_editor_swap_files(ingressd, tmp_path):
    app = echo_app_yaml("hot", "hot.test")
    proc, manifests = start(ingressd, tmp_path, {"app.yaml": app})
    with Traffic(proc.http_port, "hot.test") as traffic:
        # editors' companions, never loaded: swap file, backup, vim's write probe, emacs lock, temp files
        for name in (".app.yaml.swp", "app.yaml~", "4913", ".#app.yaml", "app.yaml.tmp"):
            (manifests / name).write_text("kind: [unclosed\n")
        # write a temporary file and rename it over the original
        tmp = manifests / ".app.yaml.new"
        tmp.write_text(app + "---\n" + EXTRA)
        os.replace(tmp, manifests / "app.yaml")
        wait_status(proc.http_port, "/", "extra.test", 200, 10)
        # vim without backupcopy: the original is renamed away, the new one written, the backup removed
        os.rename(manifests / "app.yaml", manifests / "app.yaml~")
        time.sleep(0.05)
        truncate_then_write(manifests / "app.yaml", app + "---\n" + EXTRA.replace("extra.test", "vim.test"),
                            pieces=3, pause=0.05)
        os.unlink(manifests / "app.yaml~")
        wait_status(proc.http_port, "/", "vim.test", 200, 10)
        time.sleep(0.3)
    assert http_get(proc.http_port, "/", host="extra.test")[0] == 404
    assert set(traffic.statuses) == {200}, (traffic.statuses, proc.stderr())
    assert "reload rejected" not in proc.stderr(), proc.stderr()
    assert reloads(proc) == 2, proc.stderr()


def test_a_file_emptied_on_purpose_is_honoured_after_it_stays_empty(ingressd, tmp_path):
    proc, manifests = start(ingressd, tmp_path, {"app.yaml": echo_app_yaml("hot", "hot.test"), "extra.yaml": EXTRA})
    wait_status(proc.http_port, "/", "extra.test", 200, 10)
    (manifests / "extra.yaml").write_text("")
    took = wait_status(proc.http_port, "/", "extra.test", 404, 10)
    assert took >= 0.9  # the longer settle window for a file that went empty
    assert http_get(proc.http_port, "/", host="hot.test")[0] == 200
    # a deleted file likewise
    (manifests / "extra.yaml").write_text(EXTRA)
    wait_status(proc.http_port, "/", "extra.test", 200, 10)
    (manifests / "extra.yaml").unlink()
    wait_status(proc.http_port, "/", "extra.test", 404, 10)
    assert http_get(proc.http_port, "/", host="hot.test")[0] == 200


STATEFUL = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata:
      name: db
    spec:
      clusterIP: None
      selector:
        app: db
      ports:
      - name: http
        port: 80
        targetPort: 8080
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: db
    spec:
      serviceName: db
      replicas: 1
      selector:
        matchLabels:
          app: db
      template:
        metadata:
          labels:
            app: db
        spec:
          containers:
          - name: echo
            image: ingressd/echo:1.0
            ports:
            - containerPort: 8080
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: secure
    spec:
      tls:
      - hosts: [secure.test]
        secretName: missing-tls
      rules:
      - host: secure.test
        http:
          paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: db
                port:
                  number: 80
    """)


def config_map(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unrelated\ndata:\n  key: \"{value}\"\n"


def test_per_pod_names_survive_unrelated_edits_and_warnings_print_once(ingressd, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "db.yaml").write_text(STATEFUL)
    proc = ingressd("-f", str(tmp_path / "m"))
    proc.wait_healthy()
    pod_host = "db-0.db.default.svc.cluster.local"
    wait_status(proc.http_port, "/", pod_host, 200, 20)
    for i in range(3):
        (tmp_path / "m" / "unrelated.yaml").write_text(config_map(str(i)))
        wait_for_reloads(proc, i + 1)
        for _ in range(5):
            assert http_get(proc.http_port, "/", host=pod_host)[0] == 200, proc.stderr()
    runtime = [line for line in proc.stderr().splitlines()
               if line.startswith("ingressd: warning: Ingress default/secure") and "missing-tls" in line]
    assert len(runtime) == 1, proc.stderr()
