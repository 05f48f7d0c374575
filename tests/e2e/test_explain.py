"""`ingressd explain` without a running instance: it says so and explains files instead."""

from __future__ import annotations

import yaml

from tests.e2e.conftest import REPO, free_port, run_cli


def test_explain_falls_back_to_the_demo_when_nothing_runs_and_says_so():
    admin = f"http://127.0.0.1:{free_port()}"
    result = run_cli("explain", "--admin", admin, "--host", "demo.localtest.me", "--header", "X-Canary=always")
    assert result.returncode == 0
    assert result.stderr.startswith(f"ingressd: nothing answers at {admin} (")
    assert "explaining the manifests in" in result.stderr and "(give -f to choose)" in result.stderr
    assert 'decision: header step: header "X-Canary: always" forces the canary -> canary' in result.stdout


def test_explain_files_prints_the_decision_document_as_yaml():
    result = run_cli("explain", "-f", str(REPO / "config"), "--host", "demo.localtest.me", "--path", "/x?y",
                     "-o", "yaml")
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load(result.stdout)
    assert (doc["kind"], doc["outcome"]["action"], doc["outcome"]["upstream"]) == ("Explanation", "forward",
                                                                                   "default-web-80")
    assert doc["canary"]["probability"] == 0.1 and doc["predicted"] is True


def test_explain_with_a_bad_file_names_the_problem(tmp_path):
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {}\n")
    result = run_cli("explain", "-f", str(tmp_path), "--host", "a.test")
    assert result.returncode == 1
    assert "bad.yaml" in result.stderr and "explain needs valid manifests" in result.stderr
