"""`ingressd convert` end to end: the real CLI, and --verify running both configurations as real
`ingressd run` subprocesses on loopback ports."""

from __future__ import annotations

import json

import yaml

from tests.e2e.conftest import REPO, run_cli


def test_convert_prints_gateway_api_manifests_and_the_findings(tmp_path):
    out = run_cli("convert", "-f", "config", "--report", str(tmp_path / "report.json"))
    assert out.returncode == 0, out.stderr
    objects = [o for o in yaml.safe_load_all(out.stdout) if o]
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Gateway", "nginx"), ("HTTPRoute", "demo-api-localtest-me"), ("HTTPRoute", "demo-demo-localtest-me")]
    assert "# 11 findings:" in out.stdout
    assert "inexpressible default/demo api.localtest.me: nginx.ingress.kubernetes.io/proxy-body-size" in out.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["objects"] == {"Gateway": 1, "HTTPRoute": 2}
    assert {f["subject"] for f in report["findings"] if f["severity"] == "approximate"} == {
        "nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/canary-by-cookie"}
    # the output is valid for ingressd itself
    (tmp_path / "gw.yaml").write_text(out.stdout)
    check = run_cli("validate", "-f", str(tmp_path / "gw.yaml"))
    assert check.returncode == 0, check.stdout + check.stderr


def test_convert_writes_one_file_per_namespace(tmp_path):
    out = run_cli("convert", "-f", "config", "-f", "examples", "-o", str(tmp_path / "gw"))
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "gw").iterdir()) == ["default.yaml"]
    assert "wrote " in out.stderr
    kinds = [o["kind"] for o in yaml.safe_load_all((tmp_path / "gw" / "default.yaml").read_text())]
    assert kinds.count("Gateway") == 1 and kinds.count("HTTPRoute") == 7


def test_convert_refuses_invalid_input(tmp_path):
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n")
    out = run_cli("convert", "-f", str(tmp_path / "bad.yaml"))
    assert out.returncode == 2
    assert out.stderr == f"ingressd convert: {tmp_path / 'bad.yaml'}:1: Service default/x: spec: Required value\n"
    out = run_cli("convert", "-f", str(REPO / "config" / "web.yaml"))
    assert out.returncode == 2
    assert out.stderr == f"ingressd convert: no Ingress in {REPO / 'config' / 'web.yaml'}\n"


def test_verify_the_bundled_demo_has_no_difference(tmp_path):
    out = run_cli("convert", "-f", "config", "--verify", "--report", str(tmp_path / "r.json"), timeout=240)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 differences, 0 known" in out.stdout
    verify = json.loads((tmp_path / "r.json").read_text())["verify"]
    assert verify["unexplained"] == 0 and verify["differences"] == []
    assert verify["splits"] == 4  # the 10 % canary over http and https, without and with a non-matching header
    assert verify["requests"] > 1000


def test_verify_examples_reports_only_known_differences(tmp_path):
    out = run_cli("convert", "-f", "config", "-f", "examples", "--verify", "--report", str(tmp_path / "r.json"),
                  timeout=240)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    verify = json.loads((tmp_path / "r.json").read_text())["verify"]
    assert verify["unexplained"] == 0
    known = {(d["request"].split()[0], d["known"]["subject"].rsplit("/", 1)[1]) for d in verify["differences"]}
    # nginx drops the query of the app-root redirect; the strip-prefix regex is case-insensitive in nginx
    assert ("http://app.localtest.me/?q=1", "app-root") in known
    assert ("http://rewrite.localtest.me/WEB/PROBE", "rewrite-target") in known
    assert all(d["known"] for d in verify["differences"])


def test_verify_catches_a_wrong_conversion(tmp_path):
    out = run_cli("convert", "-f", "config", "-f", "examples", "-o", str(tmp_path / "gw"))
    assert out.returncode == 0, out.stderr
    path = tmp_path / "gw" / "default.yaml"
    objects = [o for o in yaml.safe_load_all(path.read_text()) if o]
    routes = {o["metadata"]["name"]: o for o in objects if o["kind"] == "HTTPRoute"}
    # a wrong backend for api.localtest.me/v1, and a rewrite to the wrong prefix
    routes["demo-api-localtest-me"]["spec"]["rules"][0]["backendRefs"][0]["name"] = "web"
    rewrite = routes["rewrite-rewrite-localtest-me"]["spec"]["rules"][0]["filters"][0]["urlRewrite"]["path"]
    rewrite["replacePrefixMatch"] = "/web"
    # and a 50/50 split for the 90/10 canary
    for ref in routes["demo-demo-localtest-me"]["spec"]["rules"][-1]["backendRefs"]:
        ref["weight"] = 50
    path.write_text(yaml.safe_dump_all(objects))
    out = run_cli("convert", "-f", "config", "-f", "examples", "--verify", "--converted", str(tmp_path / "gw"),
                  "--report", str(tmp_path / "r.json"), cwd=REPO, timeout=240)
    assert out.returncode == 1, out.stdout[-4000:] + out.stderr[-2000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith("DIFF ")]
    assert any("http://api.localtest.me/v1 " in line and "'backend': 'default/api'} -> {'backend': 'default/web'}"
               in line for line in lines), lines
    assert any("http://rewrite.localtest.me/web/probe " in line and "'path': '/probe'} -> {'path': '/web/probe'}"
               in line for line in lines), lines
    verify = json.loads((tmp_path / "r.json").read_text())["verify"]
    assert verify["unexplained"] == len(lines) > 0
    splits = [d for d in verify["differences"] if d["request"] == "http://demo.localtest.me/"]
    assert len(splits) == 1 and splits[0]["known"] is None
    original, converted = splits[0]["original"], splits[0]["converted"]
    assert original["p_value"] >= 1e-5 > converted["p_value"]
    assert converted["split"]["default/web-canary"] > 60  # about 100 of 200


def test_verify_redirects_wildcards_hostless_rules_and_header_canaries(tmp_path):
    """Only ACME challenges differ: ingress-nginx serves them over HTTP, the converted HTTP listener
    redirects every path of a redirected host (308 on both sides otherwise)."""
    for name in ("web.yaml", "api.yaml"):
        (tmp_path / name).write_text((REPO / "config" / name).read_text())
    canary_backend = [o for o in yaml.safe_load_all((REPO / "config" / "canary.yaml").read_text())
                      if o and o["kind"] != "Ingress"]
    (tmp_path / "canary.yaml").write_text(yaml.safe_dump_all(canary_backend))
    (tmp_path / "ingresses.yaml").write_text((REPO / "tests" / "e2e" / "convert_fixture" / "ingresses.yaml").read_text())
    out = run_cli("convert", "-f", str(tmp_path), "--verify", "--report", str(tmp_path / "r.json"), timeout=240)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    verify = json.loads((tmp_path / "r.json").read_text())["verify"]
    assert verify["unexplained"] == 0
    assert verify["splits"] >= 3  # the 30 % canary over https (http redirects), with and without other headers
    # sec.localtest.me has no rule for /.well-known/ (404 on both sides); the wildcard host's
    # defaultBackend serves the challenge in the original
    assert {d["known"]["subject"].rsplit("/", 1)[1] for d in verify["differences"]} == {"force-ssl-redirect"}
    assert {d["converted"]["status"] for d in verify["differences"]} == {308}
    assert 308 not in {d["original"]["status"] for d in verify["differences"]}
    requests = {d["request"].split()[0] for d in verify["differences"]}
    assert all(r.split("/", 3)[3].startswith(".well-known/acme-challenge/") for r in requests), requests
    assert "http://probe.wild.localtest.me/.well-known/acme-challenge/probe" in requests
