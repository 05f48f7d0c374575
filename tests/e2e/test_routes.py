"""`ingressd routes` against a running instance, and the route changes `ingressd run` prints."""

from __future__ import annotations

import json
import re
import shutil
import time

from .conftest import REPO, free_port, run_cli

DEMO_ROWS = [
    ["api.localtest.me", "/healthz", "Exact", "default/demo", "api:http", "<none>", "1/1", "yes"],
    ["api.localtest.me", "/v1", "Prefix", "default/demo", "api:http", "<none>", "1/1", "yes"],
    ["demo.localtest.me", "/", "Prefix", "default/demo", "web:80", "header+cookie+weight 10/100", "2/2", "yes"],
]


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what}: never true; last: {last!r}")


def table_rows(stdout: str) -> list[list[str]]:
    """Cells are at least three spaces apart; a cell holds single spaces at most."""
    return [re.split(r" {2,}", line.strip()) for line in stdout.splitlines()]


def test_routes_lists_every_demo_rule_with_endpoint_counts(ingressd, tmp_path):
    proc = ingressd()  # the bundled demo
    proc.wait_healthy()
    admin = f"http://127.0.0.1:{proc.admin_port}"

    def ready_table():
        result = run_cli("routes", "--admin", admin)
        assert result.returncode == 0, result.stderr
        rows = table_rows(result.stdout)
        return rows if rows[1:] == DEMO_ROWS else None

    rows = wait_for(ready_table, 30, "every demo route with all its endpoints ready")
    assert rows[0] == ["HOST", "PATH", "TYPE", "INGRESS", "BACKEND", "CANARY", "ENDPOINTS", "TLS"]

    wide = run_cli("routes", "--admin", admin, "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    assert table_rows(wide.stdout)[3][8:] == ["default/demo-canary", "web-canary:80", "1/1"]

    as_json = run_cli("routes", "--admin", admin, "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    routes = json.loads(as_json.stdout)["routes"]
    assert [(r["host"], r["path"], r["pathType"], r["service"], r["port"], r["ready"], r["total"], r["tls"])
            for r in routes] == [
        ("api.localtest.me", "/healthz", "Exact", "api", "http", 1, 1, True),
        ("api.localtest.me", "/v1", "Prefix", "api", "http", 1, 1, True),
        ("demo.localtest.me", "/", "Prefix", "web", 80, 2, 2, True),
    ]
    assert routes[2]["canary"]["kind"] == "header+cookie+weight"
    assert routes[2]["canary"]["weight"] == 10

    as_yaml = run_cli("routes", "--admin", admin, "-o", "yaml")
    assert as_yaml.returncode == 0 and "pathType: Exact" in as_yaml.stdout

    # At start every route was printed as added.
    stderr = proc.stderr()
    assert "+ demo.localtest.me/ Prefix → default/web:80 (" in stderr
    assert "+ api.localtest.me/healthz Exact → default/api:http (" in stderr
    assert "+ api.localtest.me/v1 Prefix → default/api:http (" in stderr


def test_routes_without_a_running_instance_fails_clearly(tmp_path):
    result = run_cli("routes", "--admin", f"http://127.0.0.1:{free_port()}", cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot reach the ingressd admin API" in result.stderr
    assert result.stdout == ""


def test_an_edited_ingress_prints_its_route_changes(ingressd, tmp_path):
    manifests = tmp_path / "m"
    shutil.copytree(REPO / "config", manifests)
    proc = ingressd("-f", str(manifests), "--reload-interval", "0.2")
    proc.wait_healthy()
    wait_for(lambda: "+ api.localtest.me/healthz Exact → default/api:http (" in proc.stderr(), 10, "start lines")

    ingress = manifests / "ingress.yaml"
    text = ingress.read_text()
    edited = text.replace("""          - path: /healthz
            pathType: Exact
            backend:
              service:
                name: api
                port:
                  name: http""", """          - path: /healthz
            pathType: Exact
            backend:
              service:
                name: api
                port:
                  number: 80
          - path: /v2
            pathType: Prefix
            backend:
              service:
                name: web
                port:
                  number: 80""")
    edited = edited.replace("          - path: /v1\n", "          - path: /v1beta\n")
    assert edited.count("/v2") == 1 and "/v1beta" in edited
    ingress.write_text(edited)

    def printed():
        stderr = proc.stderr()
        return all(line in stderr for line in (
            "~ api.localtest.me/healthz Exact → default/api:80 (",
            "(backend was default/api:http)",
            "+ api.localtest.me/v2 Prefix → default/web:80 (",
            "+ api.localtest.me/v1beta Prefix → default/api:http (",
            "− api.localtest.me/v1 Prefix → default/api:http, TLS\n",
        ))

    wait_for(printed, 10, f"the route changes in stderr:\n{proc.stderr()}")
    # Endpoint counts come and go with pods; they are no route change: demo.localtest.me is printed once.
    assert proc.stderr().count("demo.localtest.me/ Prefix") == 1
