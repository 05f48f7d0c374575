"""Access to the admin API, end to end: `ingressd run` writes <state-dir>/kubeconfig with a bearer
token kept in the state dir; the API answers 401 without it (but for the public paths); ingressd's
own commands find it by themselves; `ingressd kubeconfig` prints or merges it; real kubectl uses it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import stat
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import HOST, REPO, Ingressd, echo_app_yaml, http_get, run_cli

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def clean_env(**extra: str) -> dict[str, str]:
    """No $KUBECONFIG and a HOME of no kubeconfig: only what the command is given counts."""
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "INGRESSD_SERVER")}
    return {**env, **extra}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def start(tmp_path: Path, state_dir: str = ".ingressd", cwd: str = "work") -> Ingressd:
    """An instance run in tmp/cwd with a relative state dir, as a user runs it from a project."""
    (tmp_path / cwd).mkdir(exist_ok=True)
    manifest = tmp_path / "app.yaml"
    if not manifest.exists():
        manifest.write_text(echo_app_yaml("acc", "acc.test"))
    proc = Ingressd(["-f", str(manifest)], tmp_path / cwd, state_dir=state_dir)
    proc.wait_healthy()
    return proc


@pytest.fixture
def instance(tmp_path):
    proc = start(tmp_path)
    yield proc
    proc.stop()


def test_the_kubeconfig_and_the_token_are_written_private(instance, tmp_path):
    state = tmp_path / "work" / ".ingressd"
    token = (state / "admin-token").read_text().strip()
    assert len(token) >= 32
    assert mode(state / "admin-token") == 0o600 and mode(state / "kubeconfig") == 0o600
    config = yaml.safe_load((state / "kubeconfig").read_text())
    ca = base64.b64encode((state / "admin-ca" / "ca.crt").read_bytes()).decode()
    assert mode(state / "admin-ca" / "ca.key") == 0o600 and mode(state / "admin-tls.key") == 0o600
    assert config == {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "ingressd", "cluster": {"certificate-authority-data": ca,
                                                      "server": f"https://127.0.0.1:{instance.admin_port}"}}],
        "users": [{"name": "ingressd-admin", "user": {"token": token}}],
        "contexts": [{"name": "ingressd", "context": {"cluster": "ingressd", "user": "ingressd-admin"}}],
        "current-context": "ingressd", "preferences": {}}
    assert f"kubeconfig {Path('.ingressd') / 'kubeconfig'}" in instance.stderr()
    assert token not in instance.stderr() and token not in instance.stdout()  # never logged
    assert not [p.name for p in state.iterdir() if p.name.startswith(".kubeconfig.")]  # no temporary left


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/namespaces/default/pods"), ("GET", "/apis"), ("GET", "/"),
    ("GET", "/ingressd/v1/routes"), ("GET", "/ingressd/v1/canaries"), ("GET", "/ingressd/v1/explain?host=acc.test"),
    ("DELETE", "/api/v1/namespaces/default/pods/x"), ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"),
])
def test_without_the_token_the_api_answers_401(instance, method, path):
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        request = urllib.request.Request(f"http://{HOST}:{instance.admin_port}{path}", method=method,
                                         headers=headers, data=b"{}" if method == "POST" else None)
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=5)
        assert raised.value.code == 401
        assert json.loads(raised.value.read()) == UNAUTHORIZED
        raised.value.close()
    status, _, body = http_get(instance.admin_port, path) if method == "GET" else (200, {}, b"")
    assert status == 200, body  # with the token (http_get adds the instance's)


def test_the_admin_port_answers_https_too_with_the_state_dirs_ca(instance, tmp_path):
    state = tmp_path / "work" / ".ingressd"
    context = ssl.create_default_context(cafile=str(state / "admin-ca" / "ca.crt"))
    for host in ("127.0.0.1", "localhost"):
        request = urllib.request.Request(f"https://{host}:{instance.admin_port}/api/v1/namespaces/default/pods",
                                         headers={"Authorization": f"Bearer {instance.token()}"})
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            assert response.status == 200 and json.loads(response.read())["kind"] == "PodList"
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"https://127.0.0.1:{instance.admin_port}/api", timeout=5, context=context)
    assert raised.value.code == 401
    raised.value.close()
    # A client that gives up on the handshake costs the port nothing: HTTP still answers.
    with pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen(f"https://127.0.0.1:{instance.admin_port}/healthz", timeout=5,
                               context=ssl.create_default_context())
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    assert http_get(instance.admin_port, "/healthz")[0] == 200


def test_health_metrics_and_version_need_no_token(instance):
    for path in ("/healthz", "/metrics", "/readyz", "/livez", "/version"):
        status, _, body = http_get(instance.admin_port, path, token="")
        assert status != 401, (path, body)
    assert http_get(instance.admin_port, "/healthz", token="")[0] == 200


def test_the_token_survives_a_restart_with_the_same_state_dir(tmp_path):
    first = start(tmp_path)
    kubeconfig = tmp_path / "work" / ".ingressd" / "kubeconfig"
    token = first.token()
    ca = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["certificate-authority-data"]
    first.stop()
    second = start(tmp_path)
    try:
        assert second.admin_port != first.admin_port
        assert second.token() == token
        assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"] == {
            "certificate-authority-data": ca, "server": f"https://127.0.0.1:{second.admin_port}"}
        assert http_get(second.admin_port, "/api/v1/pods", token=token)[0] == 200
    finally:
        second.stop()
    other = start(tmp_path, state_dir="other-state")
    try:
        assert other.token() != token  # each state dir has its own
        assert http_get(other.admin_port, "/api/v1/pods", token=token)[0] == 401
    finally:
        other.stop()


def test_ingressd_commands_find_the_token_in_the_directory_of_ingressd_run(instance, tmp_path):
    server = f"http://127.0.0.1:{instance.admin_port}"
    work = tmp_path / "work"
    for args in (["get", "pods"], ["get", "deploy", "acc"], ["routes"], ["describe", "deployment", "acc"],
                 ["top", "nodes"], ["explain", "--host", "acc.test"]):
        flag = "--admin" if args[0] in ("routes", "explain") else "--server"
        result = run_cli(*args, flag, server, cwd=work, env=clean_env(HOME=str(tmp_path)))
        assert "Unauthorized" not in result.stderr, (args, result.stderr)
        assert result.returncode == 0 or args[0] == "top", (args, result.stderr)
    bench = run_cli("bench", "--url", f"http://127.0.0.1:{instance.http_port}/", "--host", "acc.test",
                    "--requests", "5", "--admin", server, cwd=work, env=clean_env(HOME=str(tmp_path)))
    assert bench.returncode == 0, bench.stderr


def test_elsewhere_the_401_says_where_it_looked_and_how_to_fix_it(instance, tmp_path):
    server = f"http://127.0.0.1:{instance.admin_port}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = clean_env(HOME=str(tmp_path))
    result = run_cli("get", "pods", "--server", server, cwd=elsewhere, env=env)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: the ingressd admin API at {server} needs a token (Unauthorized) "
                                    "and none was found\n"), result.stderr
    assert f"looked in {tmp_path / '.kube' / 'config'}: no such file" in result.stderr
    assert "looked in .ingressd/kubeconfig (the default --state-dir): no such file" in result.stderr
    assert "pass --state-dir DIR" in result.stderr and "--kubeconfig" in result.stderr
    explain = run_cli("explain", "--admin", server, "--host", "acc.test", cwd=elsewhere, env=env)
    assert explain.returncode == 1 and "needs a token (Unauthorized)" in explain.stderr, explain.stderr
    bench = run_cli("bench", "--url", f"http://127.0.0.1:{instance.http_port}/", "--host", "acc.test",
                    "--requests", "1", "--admin", server, cwd=elsewhere, env=env)
    assert bench.returncode == 2 and "needs a token (Unauthorized)" in bench.stderr, bench.stderr
    # The fixes it names work: --state-dir, --kubeconfig, $KUBECONFIG.
    state = tmp_path / "work" / ".ingressd"
    for extra, env_extra in ((["--state-dir", str(state)], {}), (["--kubeconfig", str(state / "kubeconfig")], {}),
                             ([], {"KUBECONFIG": f"{tmp_path / 'none'}{os.pathsep}{state / 'kubeconfig'}"})):
        result = run_cli("get", "pods", "--server", server, *extra, cwd=elsewhere, env={**env, **env_extra})
        assert result.returncode == 0, (extra, env_extra, result.stderr)
    # A token of another instance is refused, and said so.
    (elsewhere / ".ingressd").mkdir()
    (elsewhere / ".ingressd" / "kubeconfig").write_text(yaml.safe_dump(
        {"users": [{"name": "u", "user": {"token": "x" * 43}}]}))
    result = run_cli("get", "pods", "--server", server, cwd=elsewhere, env=env)
    assert result.returncode == 1
    assert f"refused the token from {Path('.ingressd') / 'kubeconfig'}" in result.stderr, result.stderr


def test_kubeconfig_command_prints_the_file_or_its_path(instance, tmp_path):
    work = tmp_path / "work"
    result = run_cli("kubeconfig", cwd=work, env=clean_env())
    assert result.returncode == 0
    assert result.stdout == (work / ".ingressd" / "kubeconfig").read_text()
    result = run_cli("kubeconfig", "--path", cwd=work, env=clean_env())
    assert result.stdout == f"{work / '.ingressd' / 'kubeconfig'}\n"
    result = run_cli("kubeconfig", "--path", cwd=tmp_path, env=clean_env())
    assert result.returncode == 1
    assert "no kubeconfig at .ingressd/kubeconfig: `ingressd run` writes it when it starts" in result.stderr
    result = run_cli("kubeconfig", "--path", "--state-dir", str(work / ".ingressd"), cwd=tmp_path, env=clean_env())
    assert result.returncode == 0 and result.stdout.strip() == str(work / ".ingressd" / "kubeconfig")


KIND_CONFIG = {
    "apiVersion": "v1", "kind": "Config",
    "clusters": [{"name": "kind-kind", "cluster": {"server": "https://127.0.0.1:40000",
                                                    "certificate-authority-data": "Q0E="}}],
    "users": [{"name": "kind-kind", "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}}],
    "contexts": [{"name": "kind-kind", "context": {"cluster": "kind-kind", "user": "kind-kind"}}],
    "current-context": "kind-kind", "preferences": {},
}


def test_merge_adds_the_ingressd_context_and_keeps_the_others(instance, tmp_path):
    work = tmp_path / "work"
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    config = home / ".kube" / "config"
    config.write_text(yaml.safe_dump(KIND_CONFIG))
    config.chmod(0o640)
    result = run_cli("kubeconfig", "--merge", cwd=work, env=clean_env(HOME=str(home)))
    assert result.returncode == 0, result.stderr
    assert 'Set kubectl context to "ingressd"' in result.stderr
    merged = yaml.safe_load(config.read_text())
    assert merged["current-context"] == "ingressd"
    for section in ("clusters", "users", "contexts"):
        assert merged[section][0] == KIND_CONFIG[section][0]  # kept intact
        assert [e["name"] for e in merged[section]] == [KIND_CONFIG[section][0]["name"],
                                                         "ingressd-admin" if section == "users" else "ingressd"]
    assert merged["users"][1]["user"]["token"] == instance.token()
    assert mode(config) == 0o640  # the file keeps its mode
    # Merging again replaces ours, nothing doubles.
    assert run_cli("kubeconfig", "--merge", cwd=work, env=clean_env(HOME=str(home))).returncode == 0
    assert yaml.safe_load(config.read_text()) == merged
    # ingressd's commands then find the token there, from any directory.
    result = run_cli("get", "pods", "--server", f"http://localhost:{instance.admin_port}", cwd=tmp_path,
                     env=clean_env(HOME=str(home)))
    assert result.returncode == 0, result.stderr


def test_merge_creates_the_file_and_honours_kubeconfig(instance, tmp_path):
    work = tmp_path / "work"
    target = tmp_path / "new" / "dir" / "config"
    result = run_cli("kubeconfig", "--merge", "--kubeconfig", str(target), cwd=work, env=clean_env())
    assert result.returncode == 0, result.stderr
    assert mode(target) == 0o600
    assert yaml.safe_load(target.read_text()) == yaml.safe_load((work / ".ingressd" / "kubeconfig").read_text())
    first, second = tmp_path / "first", tmp_path / "second"
    second.write_text(yaml.safe_dump(KIND_CONFIG))
    result = run_cli("kubeconfig", "--merge", cwd=work, env=clean_env(KUBECONFIG=f"{first}{os.pathsep}{second}"))
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(first.read_text())["current-context"] == "ingressd"
    assert yaml.safe_load(second.read_text()) == KIND_CONFIG  # only the first file is written
    broken = tmp_path / "broken"
    broken.write_text("clusters: [unclosed\n")
    result = run_cli("kubeconfig", "--merge", "--kubeconfig", str(broken), cwd=work, env=clean_env())
    assert result.returncode == 1 and f"{broken} is not valid YAML" in result.stderr
    assert broken.read_text() == "clusters: [unclosed\n"
    assert not (tmp_path / "broken.lock").exists()
    lock = tmp_path / "second.lock"
    lock.touch()
    result = run_cli("kubeconfig", "--merge", "--kubeconfig", str(second), cwd=work, env=clean_env())
    assert result.returncode == 1 and f"{second} is being written by another program ({lock} exists" in result.stderr
    assert yaml.safe_load(second.read_text()) == KIND_CONFIG


# -- real kubectl --------------------------------------------------------------------------------


def kubectl(*args: str, home: Path, kubeconfig: Path | None = None) -> subprocess.CompletedProcess:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not on PATH: the real-kubectl access tests need it")
    env = clean_env(HOME=str(home), KUBECONFIG=str(kubeconfig or home / "none"))
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=60, env=env, cwd=REPO)


def test_real_kubectl_with_the_written_kubeconfig(instance, tmp_path):
    kubeconfig = tmp_path / "work" / ".ingressd" / "kubeconfig"
    pods = kubectl("get", "pods", home=tmp_path, kubeconfig=kubeconfig)
    assert pods.returncode == 0, pods.stderr
    assert "acc-" in pods.stdout
    can = kubectl("auth", "can-i", "create", "deployments", home=tmp_path, kubeconfig=kubeconfig)
    assert (can.returncode, can.stdout) == (0, "yes\n"), can.stderr
    can = kubectl("auth", "can-i", "delete", "pods", "-n", "kube-system", home=tmp_path, kubeconfig=kubeconfig)
    assert can.stdout == "yes\n", can.stderr
    listed = kubectl("auth", "can-i", "--list", home=tmp_path, kubeconfig=kubeconfig)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0][:2] == ["Resources", "Non-Resource"]
    assert ["*.*", "[]", "[]", "[*]"] in rows and ["[*]", "[]", "[*]"] in rows
    who = kubectl("auth", "whoami", home=tmp_path, kubeconfig=kubeconfig)
    assert who.returncode == 0, who.stderr
    assert [line.split(None, 1) for line in who.stdout.splitlines()] == [
        ["ATTRIBUTE", "VALUE"], ["Username", "ingressd-admin"], ["Groups", "[system:masters system:authenticated]"]]


def test_real_kubectl_without_credentials_is_unauthorized(instance, tmp_path):
    server = f"http://127.0.0.1:{instance.admin_port}"
    # As against kube-apiserver: discovery's 401 is "asked for the client to provide credentials".
    result = kubectl("get", "pods", "--server", server, home=tmp_path)
    assert result.returncode != 0
    assert "error: You must be logged in to the server" in result.stderr, result.stderr
    result = kubectl("get", "--raw", "/api/v1/namespaces/default/pods", "--server", server, home=tmp_path)
    assert result.returncode != 0 and "Unauthorized" in result.stderr, result.stderr
    # A wrong token, over TLS (kubectl sends tokens only there), from a kubeconfig that is ours but for it.
    config = yaml.safe_load((tmp_path / "work" / ".ingressd" / "kubeconfig").read_text())
    config["users"][0]["user"]["token"] = "x" * 43
    wrong = tmp_path / "wrong-token"
    wrong.write_text(yaml.safe_dump(config))
    result = kubectl("get", "--raw", "/api/v1/namespaces/default/pods", home=tmp_path, kubeconfig=wrong)
    assert result.returncode != 0 and "Unauthorized" in result.stderr, result.stderr
    result = kubectl("auth", "whoami", home=tmp_path, kubeconfig=wrong)
    assert result.returncode != 0 and "You must be logged in to the server" in result.stderr, result.stderr
    result = kubectl("get", "--raw", "/healthz", "--server", server, home=tmp_path)
    assert (result.returncode, result.stdout) == (0, "ok"), result.stderr
