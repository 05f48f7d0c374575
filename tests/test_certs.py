"""The local CA (`ingressd certs`): files and modes, X.509 shape, real handshakes, Secret, CLI."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from kubernetes_validate.utils import latest_version

from ingressd import certs

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> certs.CA:
    return certs.init_ca(tmp_path_factory.mktemp("ca"))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the CA ------------------------------------------------------------------------------------------

def test_init_creates_a_ca_with_a_private_key(tmp_path):
    directory = tmp_path / "certs"
    ca = certs.init_ca(directory)
    assert ca.created
    assert ca.cert_path == directory / "ca.crt" and ca.key_path == directory / "ca.key"
    assert _mode(ca.key_path) == 0o600
    cert = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn.startswith("ingressd local CA ") and "@" in cn
    assert cert.issuer == cert.subject
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 3650 <= lifetime.days <= 3651


def test_init_again_loads_and_never_overwrites(tmp_path):
    first = certs.init_ca(tmp_path)
    before = (first.cert_path.read_bytes(), first.key_path.read_bytes())
    second = certs.init_ca(tmp_path)
    assert not second.created
    assert (second.cert_path.read_bytes(), second.key_path.read_bytes()) == before
    assert second.cert == first.cert


def test_half_a_ca_is_an_error_not_a_replacement(tmp_path):
    ca = certs.init_ca(tmp_path)
    ca.cert_path.unlink()
    key = ca.key_path.read_bytes()
    with pytest.raises(certs.CertError, match="ca.crt: no such file"):
        certs.init_ca(tmp_path)
    assert ca.key_path.read_bytes() == key


RACER = """
import json, os, sys, time
from ingressd import certs
directory, go = sys.argv[1], sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.001)
try:
    ca = certs.init_ca(directory)
    print(json.dumps({"created": ca.created, "cert": ca.cert_path.read_text()}))
except certs.CertError as exc:
    print(json.dumps({"error": str(exc)}))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="creation is serialized with flock, which Windows lacks")
def test_processes_creating_one_ca_at_once_take_turns_one_creates_the_others_load_it(tmp_path):
    """Two `ingressd run` started together on a fresh machine both create the per-user CA: one
    does, the others load that one (before: 'ca.key: appeared while creating the CA')."""
    for trial in range(3):
        directory, go = tmp_path / f"ca{trial}", tmp_path / f"go{trial}"
        racers = [subprocess.Popen([sys.executable, "-c", RACER, str(directory), str(go)], cwd=REPO,
                                   stdout=subprocess.PIPE, text=True) for _ in range(6)]
        go.touch()
        results = [json.loads(p.communicate(timeout=60)[0]) for p in racers]
        assert [r.get("error") for r in results] == [None] * 6
        assert sorted(r["created"] for r in results) == [False] * 5 + [True]
        assert len({r["cert"] for r in results}) == 1
        assert sorted(p.name for p in directory.iterdir()) == ["ca.crt", "ca.key"]  # no lock or temporary file left
        assert stat.S_IMODE((directory / "ca.key").stat().st_mode) == 0o600


def test_load_ca_names_the_missing_or_corrupt_file(tmp_path):
    with pytest.raises(certs.CertError, match=r"ca\.crt: no such file"):
        certs.load_ca(tmp_path)
    ca = certs.init_ca(tmp_path)
    ca.key_path.write_text("garbage\n")
    with pytest.raises(certs.CertError, match=r"ca\.key: not an unencrypted PEM private key"):
        certs.load_ca(tmp_path)
    ca.cert_path.write_text("garbage\n")
    with pytest.raises(certs.CertError, match=r"ca\.crt: not a PEM certificate"):
        certs.load_ca(tmp_path)


def test_load_ca_rejects_a_key_of_another_ca(tmp_path):
    one, other = certs.init_ca(tmp_path / "one"), certs.init_ca(tmp_path / "other")
    one.key_path.write_bytes(other.key_path.read_bytes())
    with pytest.raises(certs.CertError, match="does not match the certificate"):
        certs.load_ca(tmp_path / "one")


# -- leaves ------------------------------------------------------------------------------------------

def test_leaf_sans_eku_cn_and_validity(ca):
    cert_pem, key_pem = certs.issue_leaf(ca, ["Demo.LocalTest.me", "*.localtest.me", "127.0.0.1", "::1"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["demo.localtest.me", "*.localtest.me"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"),
                                                       ipaddress.ip_address("::1")]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "demo.localtest.me"
    assert cert.issuer == ca.cert.subject
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 825
    assert b"PRIVATE KEY" in key_pem


@pytest.mark.parametrize("host", ["bad_host", "-a.test", "a..test", "a.*.test", "*", "**.test", "",
                                  "a" * 64 + ".test", "a.test.", "é.test"])
def test_invalid_host_names_are_refused_with_the_name(ca, host):
    with pytest.raises(certs.CertError, match="invalid host name"):
        certs.issue_leaf(ca, [host])


def test_validity_above_825_days_is_refused(ca):
    with pytest.raises(certs.CertError, match="1-825 days"):
        certs.issue_leaf(ca, ["a.test"], days=826)


def _handshake(tmp_path: Path, ca: certs.CA, leaf: tuple[bytes, bytes], server_hostname: str) -> dict:
    """A real TLS handshake on 127.0.0.1: server with the leaf, client trusting only ca.crt."""
    cert_file, key_file = tmp_path / "leaf.crt", tmp_path / "leaf.key"
    cert_file.write_bytes(leaf[0])
    certs.write_private(key_file, leaf[1])
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    client_ctx = ssl.create_default_context(cafile=str(ca.cert_path))
    client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    errors: list[BaseException] = []

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(10)

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (OSError, ssl.SSLError) as err:  # the client's failure is what the test reports
                errors.append(err)

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with socket.create_connection(listener.getsockname(), timeout=10) as raw:
                with client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
                    assert tls.recv(2) == b"ok"
                    return tls.getpeercert()
        finally:
            thread.join(10)


@pytest.mark.parametrize("hosts, server_hostname", [
    (["demo.localtest.me"], "demo.localtest.me"),
    (["*.localtest.me"], "a.localtest.me"),
    (["demo.localtest.me", "*.localtest.me"], "b.localtest.me"),
    (["127.0.0.1"], "127.0.0.1"),
])
def test_leaf_verifies_against_the_ca_in_a_real_handshake(tmp_path, ca, hosts, server_hostname):
    peer = _handshake(tmp_path, ca, certs.issue_leaf(ca, hosts), server_hostname)
    assert peer["subject"]


@pytest.mark.parametrize("hosts, server_hostname", [
    (["*.localtest.me"], "localtest.me"),   # a wildcard covers exactly one label
    (["*.localtest.me"], "a.b.localtest.me"),
    (["demo.localtest.me"], "other.localtest.me"),
    (["127.0.0.1"], "127.0.0.2"),
])
def test_leaf_does_not_verify_for_other_names(tmp_path, ca, hosts, server_hostname):
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(tmp_path, ca, certs.issue_leaf(ca, hosts), server_hostname)


def test_leaf_of_another_ca_does_not_verify(tmp_path, ca):
    other = certs.init_ca(tmp_path / "other")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(tmp_path, ca, certs.issue_leaf(other, ["a.test"]), "a.test")


# -- the Secret --------------------------------------------------------------------------------------

def test_secret_manifest_is_a_valid_tls_secret_holding_the_pems(ca):
    cert_pem, key_pem = certs.issue_leaf(ca, ["demo.localtest.me"])
    text = certs.tls_secret_manifest("demo-tls", "apps", cert_pem, key_pem)
    obj = yaml.safe_load(text)
    assert obj["apiVersion"] == "v1" and obj["kind"] == "Secret" and obj["type"] == "kubernetes.io/tls"
    assert obj["metadata"] == {"name": "demo-tls", "namespace": "apps"}
    assert base64.b64decode(obj["data"]["tls.crt"], validate=True) == cert_pem
    assert base64.b64decode(obj["data"]["tls.key"], validate=True) == key_pem
    kubernetes_validate.validate(obj, latest_version(), strict=True)


@pytest.mark.parametrize("name, namespace", [("Demo", "default"), ("a_b", "default"), ("ok", "a.b"),
                                             ("ok", "")])
def test_secret_manifest_refuses_invalid_names(name, namespace):
    with pytest.raises(certs.CertError, match="invalid"):
        certs.tls_secret_manifest(name, namespace, b"c", b"k")


@pytest.mark.parametrize("host, name", [("demo.localtest.me", "demo-localtest-me-tls"),
                                        ("*.localtest.me", "wildcard-localtest-me-tls"),
                                        ("127.0.0.1", "127-0-0-1-tls"), ("::1", "1-tls")])
def test_default_secret_name(host, name):
    assert certs.default_secret_name(host) == name


def test_trust_commands_cover_each_system_and_name_the_ca(tmp_path):
    ca = tmp_path / "my certs" / "ca.crt"
    text = certs.trust_commands(ca)
    quoted = f"'{ca}'"  # shell-quoted: the path has a space
    lines = text.splitlines()
    assert f"sudo cp {quoted} /usr/local/share/ca-certificates/ingressd-local-ca.crt" in lines
    assert "sudo update-ca-certificates" in lines
    assert f"sudo cp {quoted} /etc/pki/ca-trust/source/anchors/ingressd-local-ca.pem" in lines
    assert "sudo update-ca-trust extract" in lines
    assert ("sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain "
            f"{quoted}") in lines
    assert f"""certutil -d sql:"$HOME/.pki/nssdb" -A -t C,, -n 'ingressd local CA' -i {quoted}""" in lines
    assert not ca.exists()  # it only prints


# -- CLI ---------------------------------------------------------------------------------------------

def test_trust_commands_name_the_ca_by_its_fingerprint(ca):
    text = certs.trust_commands(ca.cert_path, ca.trust_file_name, ca.trust_nickname)
    assert len(ca.tag) == 12 and int(ca.tag, 16) >= 0
    assert f"/usr/local/share/ca-certificates/ingressd-local-ca-{ca.tag}.crt" in text
    assert f"-n 'ingressd local CA {ca.tag}'" in text


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**(os.environ if env is None else env), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "ingressd", "certs", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_cli_init_issue_trust(tmp_path):
    directory = tmp_path / "certs"
    init = _cli("init", "--dir", str(directory), cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert "created the local CA" in init.stderr
    assert _mode(directory / "ca.key") == 0o600
    key = (directory / "ca.key").read_bytes()

    again = _cli("init", "--dir", str(directory), cwd=tmp_path)
    assert again.returncode == 0 and "already exists" in again.stderr
    assert (directory / "ca.key").read_bytes() == key

    issue = _cli("issue", "*.localtest.me", "demo.localtest.me", "--dir", str(directory),
                 "--namespace", "apps", cwd=tmp_path)
    assert issue.returncode == 0, issue.stderr
    secret = yaml.safe_load(issue.stdout)
    assert secret["metadata"] == {"name": "wildcard-localtest-me-tls", "namespace": "apps"}
    leaf = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["*.localtest.me", "demo.localtest.me"]

    out = tmp_path / "secret.yaml"
    written = _cli("issue", "demo.localtest.me", "--dir", str(directory), "--secret", "demo-tls",
                   "--out", str(out), cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert str(out) in written.stderr and "0600" in written.stderr
    assert _mode(out) == 0o600
    assert yaml.safe_load(out.read_text())["metadata"]["name"] == "demo-tls"

    trust = _cli("trust", "--dir", str(directory), cwd=tmp_path)
    assert trust.returncode == 0, trust.stderr
    assert "update-ca-certificates" in trust.stdout and str(directory / "ca.crt") in trust.stdout


def _home_env(home: Path) -> dict[str, str]:
    """os.environ with HOME `home` and no CA directory override (the per-user default applies)."""
    env = {k: v for k, v in os.environ.items() if k not in ("INGRESSD_CAROOT", "XDG_DATA_HOME")}
    return {**env, "HOME": str(home)}


def test_cli_default_dir_is_one_per_user(tmp_path):
    home, one, two = tmp_path / "home", tmp_path / "one", tmp_path / "two"
    for d in (home, one, two):
        d.mkdir()
    env = _home_env(home)
    user_dir = home / ".local" / "share" / "ingressd"
    assert _cli("caroot", cwd=one, env=env).stdout == f"{user_dir}\n"
    first = _cli("init", cwd=one, env=env)
    assert first.returncode == 0 and str(user_dir / "ca.crt") in first.stderr
    assert _mode(user_dir / "ca.key") == 0o600
    again = _cli("init", cwd=two, env=env)  # another directory: the same CA
    assert again.returncode == 0 and "already exists" in again.stderr
    assert not (one / "certs").exists() and not (two / "certs").exists()
    # $INGRESSD_CAROOT moves it; --dir beats both
    assert _cli("caroot", cwd=one, env={**env, "INGRESSD_CAROOT": str(tmp_path / "ca")}).stdout == f"{tmp_path / 'ca'}\n"
    assert _cli("caroot", "--dir", "x", cwd=one,
                env={**env, "INGRESSD_CAROOT": str(tmp_path / "ca")}).stdout == f"{one / 'x'}\n"


def test_cli_keeps_an_older_versions_ca_in_certs_and_says_so(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    old = certs.init_ca(tmp_path / "certs")  # what ingressd before the per-user CA made
    env = _home_env(home)
    issue = _cli("issue", "a.test", cwd=tmp_path, env=env)
    assert issue.returncode == 0, issue.stderr
    leaf = x509.load_pem_x509_certificate(base64.b64decode(yaml.safe_load(issue.stdout)["data"]["tls.crt"]))
    assert leaf.issuer == old.cert.subject
    assert issue.stderr.count(f"using the local CA in {tmp_path / 'certs'}") == 1
    assert str(home / ".local" / "share" / "ingressd") in issue.stderr
    assert not (home / ".local").exists()  # nothing moved, nothing made
    quiet = _cli("issue", "a.test", "--dir", "certs", cwd=tmp_path, env=env)
    assert quiet.returncode == 0 and quiet.stderr == ""


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@needs_git
def test_issue_out_warns_inside_a_git_work_tree_that_does_not_ignore_it(tmp_path, ca):
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    _git("init", "-q", cwd=repo)
    (repo / ".gitignore").write_text("*-tls.yaml\n")
    ca_dir = str(ca.cert_path.parent)

    def issue(out: Path) -> subprocess.CompletedProcess:
        result = _cli("issue", "a.test", "--dir", ca_dir, "--out", str(out), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert out.is_file()
        return result

    warned = issue(repo / "deploy" / "secret.yaml").stderr
    assert (f"ingressd: certs issue: warning: {repo / 'deploy' / 'secret.yaml'} is inside the git work tree "
            f"{repo} and not ignored there") in warned
    assert "private key" in warned
    assert "warning" not in issue(repo / "deploy" / "a-tls.yaml").stderr  # ignored
    assert "warning" not in issue(tmp_path / "secret.yaml").stderr  # not in a repository
    # no git on PATH: no warning, no failure
    result = _cli("issue", "a.test", "--dir", ca_dir, "--out", str(repo / "other.yaml"), cwd=tmp_path,
                  env={**os.environ, "PATH": str(tmp_path / "nothing")})
    assert result.returncode == 0 and "warning" not in result.stderr


@pytest.mark.parametrize("answers, expected", [
    ({"rev-parse": (0, "/r\n"), "check-ignore": (1, "")}, "/r"),  # in a work tree, not ignored
    ({"rev-parse": (0, "/r\n"), "check-ignore": (0, "")}, None),  # ignored
    ({"rev-parse": (0, "/r\n"), "check-ignore": (128, "")}, None),  # git cannot tell (outside, symlink…)
    ({"rev-parse": (128, "")}, None),  # not a repository
    ({}, None),  # git not installed
])
def test_unignored_in_work_tree(tmp_path, answers, expected):
    from ingressd.certs_cli import unignored_in_work_tree

    def git(argv):
        verb = argv[3]
        if verb not in answers:
            raise FileNotFoundError(2, "No such file or directory", "git")
        code, out = answers[verb]
        return subprocess.CompletedProcess(argv, code, out, "")

    assert unignored_in_work_tree(tmp_path / "s.yaml", git) == expected


def test_trust_install_e2e_with_a_temporary_home_and_caroot(tmp_path):
    """The real CLI against a temporary HOME and CAROOT: --dry-run plans both stores and runs
    nothing; --store nss adds the CA to the temporary HOME's Chromium database (when certutil is
    installed). The machine's system store is never touched."""
    home, caroot = tmp_path / "home", tmp_path / "caroot"
    home.mkdir()
    env = {**_home_env(home), "INGRESSD_CAROOT": str(caroot)}
    assert _cli("init", cwd=tmp_path, env=env).returncode == 0
    ca = certs.load_ca(caroot)
    system_files = {p: p.exists() for p in
                    (Path(d) / f"{ca.trust_file_name}{suffix}" for d, suffix in
                     [("/usr/local/share/ca-certificates", ".crt"), ("/etc/pki/ca-trust/source/anchors", ".pem")])}

    dry = _cli("trust", "--install", "--dry-run", cwd=tmp_path, env=env)
    assert dry.returncode == 0, dry.stderr
    assert "no Firefox or Chromium certificate database found" in dry.stdout
    assert {p: p.exists() for p in system_files} == system_files  # nothing ran

    misuse = _cli("trust", "--dry-run", cwd=tmp_path, env=env)
    assert misuse.returncode == 2 and "go with --install" in misuse.stderr

    if shutil.which("certutil") is None:
        pytest.skip("certutil (NSS tools: libnss3-tools, nss-tools) is not installed: the NSS install is not run")
    if Path("/etc/pki/nssdb").exists():
        pytest.skip("this machine has a system-wide NSS database (/etc/pki/nssdb) that --install would change")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True, capture_output=True)
    done = _cli("trust", "--install", "--store", "nss", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == f"trusted in the NSS database sql:{nssdb}\n"
    listed = subprocess.run(["certutil", "-L", "-d", f"sql:{nssdb}", "-n", ca.trust_nickname, "-a"],
                            capture_output=True, text=True, check=True)
    assert x509.load_pem_x509_certificate(listed.stdout.encode()) == ca.cert
    trust = subprocess.run(["certutil", "-L", "-d", f"sql:{nssdb}"], capture_output=True, text=True, check=True)
    assert any(line.startswith(ca.trust_nickname) and line.split()[-1] == "C,,"
               for line in trust.stdout.splitlines())
    assert {p: p.exists() for p in system_files} == system_files


@pytest.mark.parametrize("args, message", [
    (["issue", "bad_host"], "ingressd: certs issue: invalid host name 'bad_host'"),
    (["issue", "a.test"], "ingressd: certs issue: "),  # no CA yet
    (["trust"], "ingressd: certs trust: "),
    (["issue", "a.test", "--secret", "Bad_Name"], "ingressd: certs issue: invalid Secret name 'Bad_Name'"),
])
def test_cli_errors_are_one_line_exit_1(tmp_path, args, message):
    directory = tmp_path / "certs"
    if args[0] == "issue" and "a.test" in args and "--secret" in args:
        certs.init_ca(directory)
    result = _cli(*args, "--dir", str(directory), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_cli_missing_ca_names_the_file(tmp_path):
    result = _cli("issue", "a.test", "--dir", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{tmp_path / 'nowhere' / 'ca.crt'}: no such file" in result.stderr


def test_repo_certs_directory_ignores_everything_but_its_readme():
    directory = REPO / "certs"
    assert (directory / "README.md").is_file()
    rules = [line for line in (directory / ".gitignore").read_text().splitlines()
             if line and not line.startswith("#")]
    assert rules == ["*", "!README.md", "!.gitignore"]


def test_run_uses_an_older_versions_certs_and_says_so_once(tmp_path, monkeypatch, capsys):
    from ingressd import certs_cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INGRESSD_CAROOT")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(certs_cli, "_NOTED", set())
    user = str(tmp_path / "home" / ".local" / "share" / "ingressd")
    assert certs_cli.run_certs_dir(None) == user  # no ./certs CA: the per-user one
    certs.init_ca(tmp_path / "certs")
    assert certs_cli.run_certs_dir(None) == str(tmp_path / "certs")
    assert certs_cli.run_certs_dir(None) == str(tmp_path / "certs")
    assert capsys.readouterr().err.count("ingressd: using the local CA in") == 1
    assert certs_cli.run_certs_dir("certs") == str(tmp_path / "certs")  # chosen: no note
    monkeypatch.delenv("HOME")
    assert certs_cli.run_certs_dir(None) == str(tmp_path / "certs")  # the note needs no HOME either
    (tmp_path / "certs" / "ca.crt").unlink()
    (tmp_path / "certs" / "ca.key").unlink()
    assert certs_cli.run_certs_dir(None) == "certs"
    assert "warning: $HOME is not set" in capsys.readouterr().err
