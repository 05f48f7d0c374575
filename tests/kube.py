"""Drive the real kubectl against an ingressd admin port: a kubeconfig for it, and a runner.

One place for how tests reach the API, so authentication is added here once (a `token` in the
kubeconfig's user) and every kubectl test follows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

KUBECTL = shutil.which("kubectl")


def require_kubectl() -> str:
    if KUBECTL is None:
        pytest.skip("kubectl is not on PATH: the kubectl tests need the real binary")
    return KUBECTL


def write_kubeconfig(path: Path, port: int, token: str | None = None, namespace: str | None = None,
                     ca_file: Path | None = None) -> Path:
    """A kubeconfig whose current context is server http://127.0.0.1:`port`, or https:// trusting
    `ca_file`, with `token` if the API wants one (kubectl sends a token over TLS only). JSON is
    YAML, so kubectl reads it as written."""
    user: dict = {"token": token} if token else {}
    context: dict = {"cluster": "ingressd", "user": "ingressd"}
    if namespace:
        context["namespace"] = namespace
    cluster: dict = {"server": f"http://127.0.0.1:{port}"}
    if ca_file is not None:
        cluster = {"server": f"https://127.0.0.1:{port}", "certificate-authority": str(ca_file)}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "ingressd", "cluster": cluster}],
        "users": [{"name": "ingressd", "user": user}],
        "contexts": [{"name": "ingressd", "context": context}],
        "current-context": "ingressd",
    }
    path.write_text(json.dumps(config, indent=2))
    return path


def instance_kubeconfig(state_dir: Path, path: Path, port: int, timeout: float = 10) -> Path:
    """For a running `ingressd run --state-dir STATE_DIR`: a copy at `path` of the kubeconfig it
    writes (<state-dir>/kubeconfig: its server, CA and token), or, if it writes none, one for
    http://127.0.0.1:`port` without credentials."""
    import shutil
    import time

    written = state_dir / "kubeconfig"
    deadline = time.monotonic() + timeout
    while not written.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if written.exists():
        return Path(shutil.copy(written, path))
    return write_kubeconfig(path, port)


def kubectl_command(kubeconfig: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of `kubectl ARGS` with `kubeconfig` and a cache dir of its own
    (next to it: discovery is not shared between tests)."""
    binary = require_kubectl()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
    return [binary, "--cache-dir", str(kubeconfig.parent / "kube-cache"), *args], env


def kubectl(kubeconfig: Path, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    """Run kubectl; check=True fails the test with kubectl's stderr when it exits non-zero."""
    cmd, env = kubectl_command(kubeconfig, *args)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} exited {done.returncode}:\n{done.stderr}{done.stdout}")
    return done


async def kubectl_async(kubeconfig: Path, *args: str, timeout: float = 60,
                        check: bool = True) -> subprocess.CompletedProcess:
    """kubectl() for a test whose event loop serves the API kubectl talks to."""
    import asyncio

    cmd, env = kubectl_command(kubeconfig, *args)
    proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    done = subprocess.CompletedProcess(cmd, proc.returncode, out.decode(), err.decode())
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} exited {done.returncode}:\n{done.stderr}{done.stdout}")
    return done
