"""`ingressd get -w` says so and exits 1 when the server goes away (stopped or killed) instead of
ending silently with 0, which reads as "nothing changed" in a script.

kubectl 1.32 itself exits 0 silently here (get.go discards UntilWithoutRetry's ErrWatchClosed);
issue 15 asks ingressd's CLI to tell the user."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading

import pytest

from tests.e2e.conftest import cli_env, echo_app_yaml
from tests.e2e.test_statefulset import wait_for


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_get_watch_fails_loudly_when_the_server_goes_away(ingressd, tmp_path, how):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(echo_app_yaml("web", "web.test"))
    proc = ingressd("-f", str(tmp_path / "m"))
    proc.wait_healthy()
    watcher = subprocess.Popen([sys.executable, "-m", "ingressd", "get", "pods", "-w",
                                "--server", f"http://127.0.0.1:{proc.admin_port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(watcher.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(line.startswith("web-") for line in out), what="the listed pod")
        proc.proc.send_signal(how)
        proc.proc.wait(15)
        code = watcher.wait(15)
        err = watcher.stderr.read()
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        reader.join(5)
        watcher.stdout.close()
        watcher.stderr.close()
    assert code == 1, err
    # killed during the watch ("lost the connection ... still running?"), or between the list and
    # the watch request ("cannot reach ... running?"): either way an error and exit 1
    assert err.startswith("error: ") and re.search(r"is `ingressd run` (still )?running\?", err), err
    assert f"127.0.0.1:{proc.admin_port}" in err
