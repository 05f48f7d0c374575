"""Pod logs rotate by size as the kubelet's (--container-log-max-size/-files) and the logs of pods
gone for --pod-log-retention are removed: a chatty shell loop, followed with `ingressd logs -f`."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from tests.e2e.conftest import cli_env, run_cli
from tests.e2e.test_statefulset import wait_for

SCRIPT = r"""
echo ready
while [ ! -e go-burst ]; do sleep 0.05; done
i=0
while [ $i -lt 5000 ]; do echo "burst $i"; i=$((i+1)); done
echo burst-done
while [ ! -e go-slow ]; do sleep 0.05; done
j=0
while [ $j -lt 60 ]; do
  echo "slow $j ....................................................................................."
  j=$((j+1))
  sleep 0.05
done
echo slow-done
sleep 1000
"""

POD = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: chatty
spec:
  containers:
  - name: loop
    image: busybox
    command: ["sh", "-c", {json.dumps(SCRIPT)}]
"""


def kept_files(directory) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n == "loop.log" or n.startswith("loop.log."))


def kept_lines(directory) -> list[str]:
    """Every line of the kept files, oldest first (rotated ones decompressed). The maintenance thread
    may compress or remove a rotated file between the listing and the read: then read them again."""
    for _ in range(20):
        text = b""
        try:
            for name in [n for n in kept_files(directory) if n != "loop.log"] + ["loop.log"]:
                data = (directory / name).read_bytes()
                text += gzip.decompress(data) if name.endswith(".gz") else data
        except FileNotFoundError:
            continue
        return text.decode().splitlines()
    raise AssertionError(f"the files in {directory} kept changing while read")


def test_a_chatty_process_log_rotates_bounded_and_loses_no_line(ingressd, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "pod.yaml").write_text(POD)
    gone = tmp_path / "state" / "logs" / "default" / "deleted-long-ago"
    recent = tmp_path / "state" / "logs" / "default" / "deleted-a-minute-ago"
    for directory, age in ((gone, 7200), (recent, 60)):
        directory.mkdir(parents=True)
        (directory / "app.log").write_text("old\n")
        for path in (directory / "app.log", directory):
            os.utime(path, (time.time() - age, time.time() - age))
    proc = ingressd("-f", str(tmp_path / "m"), "--container-log-max-size", "4Ki",
                    "--container-log-max-files", "3", "--pod-log-retention", "1h")
    proc.wait_healthy()
    assert not gone.exists() and recent.exists()  # removed at start: gone for more than the retention

    logs = tmp_path / "state" / "logs" / "default" / "chatty"
    wait_for(lambda: (logs / "loop.log").exists() and "ready" in (logs / "loop.log").read_text(), what="ready")
    (tmp_path / "go-burst").touch()
    wait_for(lambda: kept_lines(logs)[-1:] == ["burst-done"], what="the burst written")
    # bounded: the current file and 2 rotated ones (once the maintenance thread caught up), each
    # within the limit, the older compressed
    wait_for(lambda: len(kept_files(logs)) == 3, what="3 files")
    names = kept_files(logs)
    assert names[0] == "loop.log" and names[1].endswith(".gz") and not names[2].endswith(".gz")
    assert os.path.getsize(logs / "loop.log") <= 4096 and os.path.getsize(logs / names[2]) <= 4096
    lines = kept_lines(logs)
    first = int(lines[0].split()[1])
    assert first > 0 and lines == [f"burst {i}" for i in range(first, 5000)] + ["burst-done"]  # no gap

    # `ingressd logs` and kubectl read the current file, as kubectl logs does on a cluster
    current = (logs / "loop.log").read_text()
    shown = run_cli("logs", "chatty", "--server", f"http://127.0.0.1:{proc.admin_port}")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == current
    if shutil.which("kubectl"):
        kubectl = subprocess.run(["kubectl", "--kubeconfig", str(proc.kubeconfig), "logs", "chatty"],
                                 capture_output=True, text=True, timeout=30)
        assert kubectl.returncode == 0, kubectl.stderr
        assert kubectl.stdout == current

    # -f follows across rotations: every slow line arrives once, in order
    follower = subprocess.Popen([sys.executable, "-m", "ingressd", "logs", "-f", "chatty",
                                 "--server", f"http://127.0.0.1:{proc.admin_port}"],
                                stdout=subprocess.PIPE, text=True, env=cli_env())
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.extend(follower.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: "burst-done\n" in received, what="the follower's first lines")
        rotated_before = set(kept_files(logs))
        (tmp_path / "go-slow").touch()
        wait_for(lambda: "slow-done\n" in received, timeout=60, what="the slow lines followed")
    finally:
        follower.terminate()
        follower.wait(10)
        reader.join(10)
        follower.stdout.close()
    assert set(kept_files(logs)) - rotated_before, "no rotation happened while following"
    slow = [line.split()[0:2] for line in received if line.startswith("slow ")]
    assert slow == [["slow", str(j)] for j in range(60)]
    assert received[received.index("burst-done\n") + 1:] == \
        [line for line in received if line.startswith("slow")]


@pytest.mark.parametrize("flags, message", [
    (["--container-log-max-files", "1"], "must be > 1"),
    (["--container-log-max-size", "10MB"], "not a quantity"),
])
def test_bad_log_flags_are_refused(flags, message, tmp_path):
    result = subprocess.run([sys.executable, "-m", "ingressd", "run", *flags], cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and message in result.stderr
