"""Nothing lost across restarts: a real `ingressd run`, stopped with SIGTERM and started again with
the same --state-dir, has the objects, status and resourceVersions of before (<state-dir>/store.db)
and serves again; bad data in the file stops it with the file named."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import HOST, Ingressd, echo_app_yaml, http_get, run_cli, wait_status

APP_HOST = "keep.test"
DEPLOYMENT = "/apis/apps/v1/namespaces/default/deployments/keep"


def api(proc: Ingressd, method: str, path: str, body: dict | None = None,
        content_type: str = "application/merge-patch+json") -> dict:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": content_type} if data else {}
    token = Path(proc.state_dir, "admin-token")
    if token.exists():  # the admin API's bearer token, once it has one (<state-dir>/admin-token)
        headers["Authorization"] = f"Bearer {token.read_text().strip()}"
    request = urllib.request.Request(f"http://{HOST}:{proc.admin_port}{path}", data=data, method=method,
                                     headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def ready_pods(proc: Ingressd) -> dict[str, dict]:
    items = api(proc, "GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dkeep")["items"]
    return {p["metadata"]["name"]: p for p in items
            if not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))}


def wait_for(what, check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.1)


def pods_serving(proc: Ingressd) -> set[str]:
    """The pod names that answered through the proxy (the echo app names its pod)."""
    seen = set()
    for _ in range(20):
        status, _, body = http_get(proc.http_port, "/", host=APP_HOST)
        if status == 200:
            seen.add(json.loads(body)["pod"])
    return seen


def start(tmp_path: Path, run: str, manifest: Path) -> Ingressd:
    (tmp_path / run).mkdir()
    proc = Ingressd(["-f", str(manifest)], tmp_path / run, state_dir=str(tmp_path / "state"))
    proc.state_dir = tmp_path / "state"
    proc.wait_healthy()
    return proc


def test_a_scaled_deployment_its_pods_and_resource_versions_survive_a_restart(tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(echo_app_yaml("keep", APP_HOST))
    first = start(tmp_path, "run1", manifest)
    try:
        wait_status(first.http_port, "/", APP_HOST, 200, timeout=20)
        # Scaled through the API: the file still says replicas: 1.
        api(first, "PATCH", f"{DEPLOYMENT}/scale", {"spec": {"replicas": 2}})
        before = wait_for("2 ready pods", lambda: len(ready_pods(first)) == 2 and ready_pods(first))
        wait_for("both pods serve", lambda: pods_serving(first) == set(before))
        deployment = wait_for("deployment status", lambda: (d := api(first, "GET", DEPLOYMENT))["status"].get(
            "readyReplicas") == 2 and d)
        listed_before = int(api(first, "GET", "/api/v1/pods")["metadata"]["resourceVersion"])
    finally:
        assert first.stop() == 0, first.stderr()

    second = start(tmp_path, "run2", manifest)
    try:
        assert "ingressd: restored " in second.stderr()
        after = api(second, "GET", DEPLOYMENT)
        assert after["spec"]["replicas"] == 2  # the API's scale is kept: the file did not change
        for field in ("uid", "creationTimestamp", "generation"):
            assert after["metadata"][field] == deployment["metadata"][field], field
        assert int(after["metadata"]["resourceVersion"]) >= int(deployment["metadata"]["resourceVersion"])
        # The same pods (names and uids) run again, as after a node reboot: restartCount 1.
        restarted = wait_for("2 ready pods again", lambda: len(ready_pods(second)) == 2 and ready_pods(second))
        assert {n: p["metadata"]["uid"] for n, p in restarted.items()} == \
            {n: p["metadata"]["uid"] for n, p in before.items()}
        for pod in restarted.values():
            status = pod["status"]["containerStatuses"][0]
            assert status["restartCount"] == 1, status
            assert status["lastState"]["terminated"]["reason"] == "Unknown", status
            assert pod["status"]["startTime"] == before[pod["metadata"]["name"]]["status"]["startTime"]
        wait_for("both pods serve through the proxy", lambda: pods_serving(second) == set(before))
        # The counter went on: what changed after the restart is newer than anything before it.
        listed_after = int(api(second, "GET", "/api/v1/pods")["metadata"]["resourceVersion"])
        assert listed_after > listed_before
        for pod in restarted.values():
            assert int(pod["metadata"]["resourceVersion"]) > listed_before
        assert http_get(second.admin_port, "/healthz")[2] == b"ok"
    finally:
        assert second.stop() == 0, second.stderr()


def test_a_second_instance_on_the_same_state_dir_is_refused(tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(echo_app_yaml("keep", APP_HOST))
    first = start(tmp_path, "run1", manifest)
    try:
        kubeconfig = tmp_path / "state" / "kubeconfig"
        written = kubeconfig.read_bytes() if kubeconfig.exists() else None
        (tmp_path / "run2").mkdir()
        second = Ingressd(["-f", str(manifest)], tmp_path / "run2", state_dir=str(tmp_path / "state"))
        assert second.proc.wait(30) == 2
        store = tmp_path / "state" / "store.db"
        assert f"ingressd: {store} is in use by another ingressd running with the same --state-dir" in second.stderr()
        assert http_get(first.admin_port, "/healthz")[0] == 200
        assert (kubeconfig.read_bytes() if kubeconfig.exists() else None) == written  # the first one's, untouched
    finally:
        first.stop()


def test_a_state_dir_with_a_file_that_is_not_a_store_is_refused_and_kept(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    junk = b"PK\x03\x04 not a database\n" * 64
    (state / "store.db").write_bytes(junk)
    manifest = tmp_path / "app.yaml"
    manifest.write_text(echo_app_yaml("keep", APP_HOST))
    result = run_cli("run", "-f", str(manifest), "--http-port", "0", "--https-port", "0", "--admin-port", "0",
                     "--state-dir", str(state), timeout=30)
    assert result.returncode == 1, result.stderr
    assert f"ingressd: {state / 'store.db'} is not an ingressd store: file is not a database" in result.stderr
    assert f"mv {state / 'store.db'} {state / 'store.db'}.bad" in result.stderr
    assert (state / "store.db").read_bytes() == junk


def test_a_deleted_pod_stays_deleted_and_is_replaced_once(tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(echo_app_yaml("keep", APP_HOST))
    first = start(tmp_path, "run1", manifest)
    try:
        wait_status(first.http_port, "/", APP_HOST, 200, timeout=20)
        (old,) = wait_for("a ready pod", lambda: ready_pods(first))
        api(first, "DELETE", f"/api/v1/namespaces/default/pods/{old}?gracePeriodSeconds=0")
        (new,) = wait_for("a new ready pod", lambda: (p := ready_pods(first)) and old not in p and p)
    finally:
        assert first.stop() == 0, first.stderr()
    second = start(tmp_path, "run2", manifest)
    try:
        wait_status(second.http_port, "/", APP_HOST, 200, timeout=20)
        names = [p["metadata"]["name"] for p in api(second, "GET", "/api/v1/namespaces/default/pods")["items"]]
        assert names == [new]
    finally:
        second.stop()


def test_the_old_resource_version_watch_is_gone_after_a_restart(tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(echo_app_yaml("keep", APP_HOST))
    first = start(tmp_path, "run1", manifest)
    try:
        old = int(api(first, "GET", "/api/v1/configmaps")["metadata"]["resourceVersion"])
    finally:
        first.stop()
    second = start(tmp_path, "run2", manifest)
    try:
        try:
            api(second, "GET", f"/api/v1/configmaps?watch=1&resourceVersion={old - 1}&timeoutSeconds=1")
            raise AssertionError("a watch from before the restart was answered")
        except urllib.error.HTTPError as err:
            assert err.code == 410
            err.close()
    finally:
        second.stop()


CONFIG_MAPS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  key: "{value}"
"""


def test_an_object_removed_from_the_files_while_stopped_is_deleted_and_the_others_kept(tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text("---\n".join([echo_app_yaml("keep", APP_HOST), CONFIG_MAPS.format(name="a", value="1"),
                                      CONFIG_MAPS.format(name="b", value="1")]))
    first = start(tmp_path, "run1", manifest)
    try:
        a = api(first, "GET", "/api/v1/namespaces/default/configmaps/a")
        api(first, "GET", "/api/v1/namespaces/default/configmaps/b")
    finally:
        assert first.stop() == 0, first.stderr()
    # While ingressd is stopped, b leaves the file and a changes.
    manifest.write_text("---\n".join([echo_app_yaml("keep", APP_HOST), CONFIG_MAPS.format(name="a", value="2")]))
    second = start(tmp_path, "run2", manifest)
    try:
        again = api(second, "GET", "/api/v1/namespaces/default/configmaps/a")
        assert again["data"] == {"key": "2"}
        assert again["metadata"]["uid"] == a["metadata"]["uid"]
        assert int(again["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
        try:
            api(second, "GET", "/api/v1/namespaces/default/configmaps/b")
            raise AssertionError("b is still there")
        except urllib.error.HTTPError as err:
            assert err.code == 404
            err.close()
        wait_status(second.http_port, "/", APP_HOST, 200, timeout=20)
    finally:
        assert second.stop() == 0, second.stderr()


def wait_reloaded(proc: Ingressd, count: int) -> None:
    wait_for(f"reload #{count}", lambda: proc.stderr().count("configuration reloaded") >= count, timeout=20)


def test_objects_created_through_the_api_survive_file_reloads_and_a_restart(tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(CONFIG_MAPS.format(name="from-file", value="1"))
    first = start(tmp_path, "run1", manifest)
    try:
        # Deployment, Service and Ingress created through the API (POST), not by any file.
        created = {}
        for doc in yaml.safe_load_all(echo_app_yaml("made", "made.test")):
            group = doc["apiVersion"] if "/" in doc["apiVersion"] else ""
            base = f"/apis/{group}" if group else "/api/v1"
            plural = {"Ingress": "ingresses", "Service": "services", "Deployment": "deployments"}[doc["kind"]]
            created[doc["kind"]] = api(first, "POST", f"{base}/namespaces/default/{plural}", doc,
                                       content_type="application/json")
        wait_status(first.http_port, "/", "made.test", 200, timeout=20)

        # A file edit (a second ConfigMap), then a file removing what it created: the API's objects stay.
        manifest.write_text("---\n".join([CONFIG_MAPS.format(name="from-file", value="1"),
                                          CONFIG_MAPS.format(name="also-from-file", value="1")]))
        wait_reloaded(first, 1)
        manifest.write_text(CONFIG_MAPS.format(name="also-from-file", value="1"))
        wait_reloaded(first, 2)
        names = [c["metadata"]["name"] for c in api(first, "GET", "/api/v1/namespaces/default/configmaps")["items"]]
        assert "from-file" not in names and "also-from-file" in names
        deployment = api(first, "GET", "/apis/apps/v1/namespaces/default/deployments/made")
        assert deployment["metadata"]["uid"] == created["Deployment"]["metadata"]["uid"]
        assert http_get(first.http_port, "/", host="made.test")[0] == 200
    finally:
        assert first.stop() == 0, first.stderr()

    second = start(tmp_path, "run2", manifest)
    try:
        for kind, path in (("Deployment", "/apis/apps/v1/namespaces/default/deployments/made"),
                           ("Service", "/api/v1/namespaces/default/services/made"),
                           ("Ingress", "/apis/networking.k8s.io/v1/namespaces/default/ingresses/made")):
            obj = api(second, "GET", path)
            assert obj["metadata"]["uid"] == created[kind]["metadata"]["uid"], kind
            assert obj["metadata"]["creationTimestamp"] == created[kind]["metadata"]["creationTimestamp"], kind
        assert api(second, "GET", "/api/v1/namespaces/default/services/made")["spec"]["clusterIP"] == \
            created["Service"]["spec"]["clusterIP"]
        wait_status(second.http_port, "/", "made.test", 200, timeout=20)
        names = [c["metadata"]["name"] for c in api(second, "GET", "/api/v1/namespaces/default/configmaps")["items"]]
        assert "from-file" not in names and "also-from-file" in names
    finally:
        assert second.stop() == 0, second.stderr()


def test_a_write_is_on_disk_when_the_api_answers_even_if_ingressd_is_killed_right_after(tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(echo_app_yaml("keep", APP_HOST))
    first = start(tmp_path, "run1", manifest)
    try:
        answered = api(first, "PATCH", f"{DEPLOYMENT}/scale", {"spec": {"replicas": 3}})
        first.proc.kill()  # SIGKILL: no shutdown, no checkpoint
        first.proc.wait(10)
    finally:
        first.stop()
    second = start(tmp_path, "run2", manifest)
    try:
        after = api(second, "GET", DEPLOYMENT)
        assert after["spec"]["replicas"] == 3
        assert int(after["metadata"]["resourceVersion"]) >= int(answered["metadata"]["resourceVersion"])
        wait_for("3 ready pods", lambda: len(ready_pods(second)) == 3)
    finally:
        assert second.stop() == 0, second.stderr()


def test_the_python_client_finds_what_it_created_after_a_restart_and_its_old_watch_is_gone(tmp_path):
    kubernetes = pytest.importorskip("kubernetes", reason="the official client is a test dependency")
    from kubernetes.client.rest import ApiException

    manifest = tmp_path / "app.yaml"
    manifest.write_text(CONFIG_MAPS.format(name="from-file", value="1"))

    def client(proc: Ingressd):
        config = kubernetes.client.Configuration()
        config.host = f"http://{HOST}:{proc.admin_port}"
        token = Path(proc.state_dir, "admin-token")
        if token.exists():
            config.api_key = {"authorization": token.read_text().strip()}
            config.api_key_prefix = {"authorization": "Bearer"}
        return kubernetes.client.ApiClient(config)

    first = start(tmp_path, "run1", manifest)
    try:
        with client(first) as api_client:
            core = kubernetes.client.CoreV1Api(api_client)
            made = core.create_namespaced_config_map("default", kubernetes.client.V1ConfigMap(
                metadata=kubernetes.client.V1ObjectMeta(name="made", labels={"by": "client"}), data={"k": "v"}))
            listed = core.list_namespaced_config_map("default").metadata.resource_version
    finally:
        assert first.stop() == 0, first.stderr()
    second = start(tmp_path, "run2", manifest)
    try:
        with client(second) as api_client:
            core = kubernetes.client.CoreV1Api(api_client)
            again = core.read_namespaced_config_map("made", "default")
            assert (again.metadata.uid, again.metadata.resource_version, again.data, again.metadata.labels) == \
                (made.metadata.uid, made.metadata.resource_version, {"k": "v"}, {"by": "client"})
            try:
                core.list_namespaced_config_map("default", watch=True, resource_version=str(int(listed) - 1),
                                                timeout_seconds=1, _preload_content=False).release_conn()
                raise AssertionError("a watch from before the restart was answered")
            except ApiException as exc:
                assert exc.status == 410
            updated = core.patch_namespaced_config_map("made", "default", {"data": {"k": "w"}})
            assert int(updated.metadata.resource_version) > int(listed)
    finally:
        assert second.stop() == 0, second.stderr()


def test_what_kubectl_created_and_scaled_is_there_after_a_restart_and_serves(tmp_path):
    from tests.kube import instance_kubeconfig, kubectl, require_kubectl

    require_kubectl()
    manifest = tmp_path / "app.yaml"
    manifest.write_text(CONFIG_MAPS.format(name="from-file", value="1"))
    first = start(tmp_path, "run1", manifest)
    try:
        config = instance_kubeconfig(first.state_dir, tmp_path / "run1" / "kubeconfig", first.admin_port)
        created = tmp_path / "created-with-kubectl.yaml"  # not a manifest of ingressd's: kubectl sends it
        created.write_text(echo_app_yaml("web", "web.test"))
        kubectl(config, "create", "-f", str(created))
        kubectl(config, "scale", "deployment", "web", "--replicas=2")
        kubectl(config, "rollout", "status", "deployment/web", "--timeout=30s")
        wait_status(first.http_port, "/", "web.test", 200, timeout=20)
        before = json.loads(kubectl(config, "get", "deployment", "web", "-o", "json").stdout)
    finally:
        assert first.stop() == 0, first.stderr()
    second = start(tmp_path, "run2", manifest)
    try:
        config = instance_kubeconfig(second.state_dir, tmp_path / "run2" / "kubeconfig", second.admin_port)
        after = json.loads(kubectl(config, "get", "deployment", "web", "-o", "json").stdout)
        assert (after["metadata"]["uid"], after["spec"]["replicas"]) == (before["metadata"]["uid"], 2)
        kubectl(config, "rollout", "status", "deployment/web", "--timeout=30s")
        wait_status(second.http_port, "/", "web.test", 200, timeout=20)
        pods = kubectl(config, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.containerStatuses[0].restartCount}")
        assert pods.stdout.split() == ["1", "1"]
    finally:
        assert second.stop() == 0, second.stderr()
