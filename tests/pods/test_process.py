"""Containers with a `command` run as local processes: env, logs, exits, restarts, stopping."""

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from ingressd.cluster import builders
from ingressd.cluster.pod_status import is_ready
from ingressd.pods import process
from tests.pods.test_kubelet import Cluster, events, fast_sleep

IP_BASE = "127.1.241.0"
PORT = 18090
APP = str(Path(__file__).with_name("process_app.py"))


def process_pod(name="app", env=None, restart_policy=None, **container_options):
    container_options.setdefault("command", [sys.executable, APP])
    container_options.setdefault("readinessProbe", {"tcpSocket": {"port": PORT}, "periodSeconds": 1})
    container = builders.container(image="python:3.12", ports=(PORT,), env=env, **container_options)
    pod = builders.pod(name, node=None, phase="Pending", containers=[container])
    pod.pop("status")
    if restart_policy:
        pod["spec"]["restartPolicy"] = restart_policy
    return pod


@pytest.fixture
async def cluster(tmp_path):
    c = Cluster(ip_base=IP_BASE, backoff=(0.05, 0.2), sleep=fast_sleep, logs_dir=tmp_path / "logs",
                working_dir=str(tmp_path))
    yield c
    await c.kubelet.close()


def pod_of(cluster, name="app"):
    return cluster.store.get("Pod", "default", name)


def container_status(cluster, name="app"):
    return pod_of(cluster, name)["status"]["containerStatuses"][0]


async def fetch(ip):
    async with aiohttp.ClientSession() as session, session.get(f"http://{ip}:{PORT}/") as resp:
        assert resp.status == 200
        return await resp.json()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


async def test_process_gets_the_pod_environment_and_serves_on_the_pod_ip(cluster, tmp_path):
    (tmp_path / "work").mkdir()
    volume_dir = tmp_path / "pv"
    cluster.store.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"},
                         "data": {"MODE": "fast", "LEVEL": "3"}})
    cluster.store.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "metadata": {"name": "data-app", "annotations": {"ingressd.io/volume-path": str(volume_dir)}}})
    pod = process_pod(
        env={"GREETING": "hi $(POD_NAME)", "ESCAPED": "$$(POD_NAME)"},
        args=["--name", "$(POD_NAME)", "$(UNDEFINED)"],
        workingDir="work",
        envFrom=[{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
        volumeMounts=[{"name": "data", "mountPath": "/var/data"}],
    )
    pod["spec"]["containers"][0]["env"].append({"name": "MY_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}})
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data-app"}}]
    cluster.store.apply(pod)
    await cluster.settle()
    assert not is_ready(pod_of(cluster))  # running, but not listening yet: the readiness probe holds it
    await cluster.wait_until(lambda: is_ready(pod_of(cluster)))

    ip = pod_of(cluster)["status"]["podIP"]
    assert ip == "127.1.241.1"
    body = await fetch(ip)
    env = body["env"]
    assert {k: env.get(k) for k in ("POD_NAME", "POD_NAMESPACE", "POD_IP", "PORT", "HOSTNAME", "DATA_DIR")} == {
        "POD_NAME": "app", "POD_NAMESPACE": "default", "POD_IP": ip, "PORT": str(PORT), "HOSTNAME": "app",
        "DATA_DIR": str(volume_dir),
    }
    assert (env["CFG_MODE"], env["CFG_LEVEL"], env["GREETING"], env["ESCAPED"]) == ("fast", "3", "hi app", "$(POD_NAME)")
    assert env["MY_UID"] == pod_of(cluster)["metadata"]["uid"]
    assert env["PATH"] == os.environ["PATH"]
    assert "PYTEST_CURRENT_TEST" not in env  # only the listed host variables are inherited
    assert body["argv"] == ["--name", "app", "$(UNDEFINED)"]
    assert body["cwd"] == str(tmp_path / "work")
    assert volume_dir.is_dir()
    status = container_status(cluster)
    assert "running" in status["state"] and status["containerID"].startswith("ingressd://")

    log = tmp_path / "logs" / "default" / "app" / "app.log"
    async with asyncio.timeout(5):
        while "request /" not in log.read_text():
            await asyncio.sleep(0.01)
    text = log.read_text()
    assert "starting app argv=['--name', 'app', '$(UNDEFINED)']" in text and "to stderr" in text


async def test_exit_crash_loops_with_the_exit_code_and_keeps_the_previous_log(cluster, tmp_path):
    cluster.store.apply(process_pod(env={"APP_EXIT_CODE": "3"}))
    await cluster.wait_until(lambda: container_status(cluster)["restartCount"] >= 2
                             and "waiting" in container_status(cluster)["state"])
    status = container_status(cluster)
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    terminated = status["lastState"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    assert pod_of(cluster)["status"]["phase"] == "Running" and not is_ready(pod_of(cluster))
    assert events(cluster.store, "BackOff")
    logs = tmp_path / "logs" / "default" / "app"
    assert "starting app" in (logs / "app.log").read_text()
    assert "starting app" in (logs / "app.previous.log").read_text()


@pytest.mark.parametrize("policy, code, phase, reason", [
    ("OnFailure", "0", "Succeeded", "Completed"),
    ("Never", "0", "Succeeded", "Completed"),
    ("Never", "7", "Failed", "Error"),
])
async def test_exit_with_restart_policy_that_does_not_restart(cluster, policy, code, phase, reason):
    cluster.store.apply(process_pod(env={"APP_EXIT_CODE": code}, restart_policy=policy))
    await cluster.wait_until(lambda: pod_of(cluster)["status"]["phase"] == phase)
    status = container_status(cluster)
    assert (status["state"]["terminated"]["exitCode"], status["state"]["terminated"]["reason"]) == (int(code), reason)
    assert status["restartCount"] == 0


async def test_always_restarts_even_a_clean_exit(cluster):
    cluster.store.apply(process_pod(env={"APP_EXIT_CODE": "0"}))
    await cluster.wait_until(lambda: container_status(cluster)["restartCount"] >= 1)
    assert container_status(cluster)["lastState"]["terminated"]["reason"] == "Completed"


async def test_missing_executable_is_a_start_error(cluster):
    cluster.store.apply(process_pod(command=["/nonexistent/app"]))
    await cluster.wait_until(lambda: "waiting" in container_status(cluster)["state"])  # the first retry is immediate
    status = container_status(cluster)
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    terminated = status["lastState"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (128, "StartError")
    assert "'/nonexistent/app'" in terminated["message"]


async def test_a_declared_port_already_taken_on_the_pod_ip_is_reported_not_left_to_the_log(cluster, tmp_path):
    """The process would die on "address already in use" with the reason only in its log: the
    kubelet checks its declared containerPorts first and says which address is taken."""
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.1.241.1", PORT))
        squatter.listen()
        cluster.store.apply(process_pod())
        await cluster.wait_until(lambda: "waiting" in container_status(cluster)["state"])
        terminated = container_status(cluster)["lastState"]["terminated"]
        assert (terminated["exitCode"], terminated["reason"]) == (1, "Error")
        assert terminated["message"].startswith(f"cannot listen on 127.1.241.1:{PORT}: ")
        assert events(cluster.store, "Failed")[0]["message"].startswith(f"Error: cannot listen on 127.1.241.1:{PORT}")
        assert cluster.kubelet.bind_failures() == [
            f"pod default/app container app cannot bind: {terminated['message']}"]
        assert not (tmp_path / "logs" / "default" / "app" / "app.log").exists()  # never started
    await cluster.wait_until(lambda: is_ready(pod_of(cluster)))
    assert cluster.kubelet.bind_failures() == []


async def test_missing_config_map_key_is_a_config_error(cluster):
    pod = process_pod()
    pod["spec"]["containers"][0]["env"] = [
        {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "x"}}}]
    cluster.store.apply(pod)
    await cluster.settle()
    waiting = container_status(cluster)["state"]["waiting"]
    assert waiting == {"reason": "CreateContainerConfigError", "message": 'configmap "absent" not found'}


async def test_deletion_sends_sigterm_then_sigkill_to_the_whole_group(cluster, tmp_path):
    pid_file = tmp_path / "child.pid"
    cluster.store.apply(process_pod(env={"APP_IGNORE_TERM": "1", "APP_CHILD_PID_FILE": str(pid_file)}))
    await cluster.wait_until(lambda: is_ready(pod_of(cluster)))
    child = int(pid_file.read_text())
    assert alive(child)
    cluster.store.delete("Pod", "default", "app", grace_period_seconds=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await cluster.wait_until(lambda: pod_of(cluster) is None, timeout=10)
    assert loop.time() - started >= 0.9  # SIGTERM was ignored: SIGKILL only after the grace period
    async with asyncio.timeout(5):
        while alive(child):
            await asyncio.sleep(0.01)


async def test_close_stops_every_process(cluster, tmp_path):
    pid_file = tmp_path / "child.pid"
    cluster.store.apply(process_pod(env={"APP_CHILD_PID_FILE": str(pid_file)}))
    await cluster.wait_until(lambda: is_ready(pod_of(cluster)))
    child = int(pid_file.read_text())
    await cluster.kubelet.close()
    async with asyncio.timeout(5):
        while alive(child):
            await asyncio.sleep(0.01)


async def test_exec_probe_sees_the_container_environment(cluster):
    probe = {"exec": {"command": [sys.executable, "-c", "import os, sys; sys.exit(os.environ['CFG'] != 'ok')"]},
             "periodSeconds": 1}
    cluster.store.apply(process_pod(env={"CFG": "ok"}, readinessProbe=probe))
    await cluster.wait_until(lambda: is_ready(pod_of(cluster)))
    assert not events(cluster.store, "Unhealthy")


async def test_stats_report_the_process_cpu_and_memory(cluster):
    cluster.store.apply(process_pod())
    await cluster.wait_until(lambda: is_ready(pod_of(cluster)))
    (stats,) = cluster.kubelet.stats()
    assert (stats.namespace, stats.name, stats.node) == ("default", "app", "ingressd")
    cpu, memory = stats.containers["app"]
    assert cpu > 0 and memory > 5 * 2**20  # a Python interpreter: some CPU-seconds and megabytes resident


# -- descendants that leave the process group (issue 10, point 6) --------------------------------

async def daemon_pid(pid_file):
    """The pid the app's daemonized grandchild wrote (it writes it after the app listens)."""
    async with asyncio.timeout(5):
        while not pid_file.exists():
            await asyncio.sleep(0.01)
    pid = int(pid_file.read_text())
    assert alive(pid) and os.getpgid(pid) not in process._LIVE_GROUPS  # killpg on the container misses it
    return pid


async def assert_gone(pid, timeout=5.0):
    """Poll until `pid` is gone; kill it (so a failing test leaves nothing behind) if it is not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while alive(pid) and loop.time() < deadline:
        await asyncio.sleep(0.01)
    survived = alive(pid)
    if survived:
        os.kill(pid, signal.SIGKILL)
    assert not survived, f"pid {pid} outlived its container"


async def test_deletion_kills_a_daemonized_descendant(cluster, tmp_path):
    pid_file = tmp_path / "daemon.pid"
    cluster.store.apply(process_pod(env={"APP_DAEMON_PID_FILE": str(pid_file)}))
    await cluster.wait_until(lambda: is_ready(pod_of(cluster)))
    daemon = await daemon_pid(pid_file)
    cluster.store.delete("Pod", "default", "app", grace_period_seconds=1)
    await cluster.wait_until(lambda: pod_of(cluster) is None, timeout=10)
    await assert_gone(daemon)


async def test_close_kills_a_daemonized_descendant(cluster, tmp_path):
    pid_file = tmp_path / "daemon.pid"
    cluster.store.apply(process_pod(env={"APP_DAEMON_PID_FILE": str(pid_file), "APP_IGNORE_TERM": "1"}))
    await cluster.wait_until(lambda: is_ready(pod_of(cluster)))
    daemon = await daemon_pid(pid_file)
    await cluster.kubelet.close()  # SIGTERM ignored by both: SIGKILL after the close grace reaches the daemon
    await assert_gone(daemon)


async def test_a_daemon_dies_when_the_main_process_exits(cluster, tmp_path):
    """As when a container's PID 1 exits: the rest of the container is killed."""
    pid_file = tmp_path / "daemon.pid"
    script = ("import os, sys, time\n"
              "if os.fork() == 0:\n"
              "    os.setsid()\n"
              "    if os.fork() == 0:\n"
              "        open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid())); os.replace(sys.argv[1] + '.tmp', sys.argv[1])\n"
              "        time.sleep(300)\n"
              "    os._exit(0)\n"
              "while not os.path.exists(sys.argv[1]): time.sleep(0.01)\n")
    cluster.store.apply(process_pod(command=[sys.executable, "-c", script, str(pid_file)], readinessProbe=None,
                                    restart_policy="Never"))
    await cluster.wait_until(lambda: pod_of(cluster)["status"]["phase"] == "Succeeded")
    await assert_gone(int(pid_file.read_text()))


async def test_a_signal_death_reads_as_128_plus_the_signal(cluster):
    """The shim dies of the command's signal, so lastState is what a runtime reports."""
    command = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"]
    cluster.store.apply(process_pod(command=command, readinessProbe=None, restart_policy="Never"))
    await cluster.wait_until(lambda: pod_of(cluster)["status"]["phase"] == "Failed")
    terminated = container_status(cluster)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (143, "Error")


async def test_logs_of_a_pod_gone_for_the_retention_are_removed_by_the_sweep(tmp_path):
    """At the first sync and every LOG_SWEEP_SECONDS of the (injected) clock after: the directory of
    a pod gone for `log_retention` goes; a running pod's and a recently gone pod's stay."""
    from ingressd.pods.kubelet import LOG_SWEEP_SECONDS

    c = Cluster(ip_base=IP_BASE, backoff=(0.05, 0.2), sleep=fast_sleep, logs_dir=tmp_path / "logs",
                working_dir=str(tmp_path), log_retention=600)
    c.clock.advance(time.time() - c.clock.now())  # file times are real: start the fake clock at now
    try:
        left_over = tmp_path / "logs" / "default" / "from-last-week"
        left_over.mkdir(parents=True)
        (left_over / "app.log").write_text("old\n")
        for path in (left_over / "app.log", left_over):
            os.utime(path, (c.clock.now() - 7 * 86400,) * 2)
        c.store.apply(process_pod("app"))
        c.store.apply(process_pod("other"))
        await c.wait_until(lambda: all(is_ready(p) for p in c.pods()) and len(c.pods()) == 2)
        assert not left_over.exists()  # the first sync swept
        logs = tmp_path / "logs" / "default"
        c.store.delete("Pod", "default", "other", grace_period_seconds=0)
        await c.wait_until(lambda: len(c.pods()) == 1)
        async with asyncio.timeout(5):  # its container stops (no store change to wait for)
            while len(c.kubelet.pod_uids_by_ip()) != 1:
                await asyncio.sleep(0.02)
        c.clock.advance(599)  # gone for 599 s: kept
        await c.settle()
        assert (logs / "other").exists()
        c.clock.advance(LOG_SWEEP_SECONDS)  # gone for longer than the retention, at the next sweep
        await c.settle()
        assert not (logs / "other").exists()
        assert (logs / "app" / "app.log").exists()  # running for as long: kept
    finally:
        await c.kubelet.close()
