"""One `ingressd run` for the conformance session, with upstream's base setup as manifests.

Gateway listeners on port 80 are served on the instance's --http-port and 443 on its --https-port
(free loopback ports); each test adds its routes as one more manifest file in the watched
directory (hot reload) and removes it afterwards, as upstream's suite applies and cleans up each
test's manifests.
"""

from __future__ import annotations

import contextlib

import pytest

from ingressd.certs import init_ca, issue_leaf
from tests.conformance.harness import (
    TLS_HOSTS,
    Gateway,
    base_manifests,
    dump,
    wait_until,
)
from tests.e2e.conftest import Ingressd

BACKENDS = [("gateway-conformance-infra", f"infra-backend-v{i}") for i in (1, 2, 3)] + [
    ("gateway-conformance-app-backend", "app-backend-v1"),
    ("gateway-conformance-app-backend", "app-backend-v2"),
    ("gateway-conformance-web-backend", "web-backend"),
]


@pytest.fixture(scope="session")
def gw(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("conformance")
    ca = init_ca(tmp / "ca")
    cert_pem, key_pem = issue_leaf(ca, TLS_HOSTS)
    manifests = tmp / "manifests"
    manifests.mkdir()
    (manifests / "base.yaml").write_text(dump(base_manifests(cert_pem, key_pem)))
    proc = Ingressd(["-f", str(manifests), "--reload-interval", "0.1", "--seed", "13", "--access-log", "off"], tmp)
    try:
        proc.wait_healthy()
        gateway = Gateway(proc, manifests, ca.cert_path.read_bytes())

        def ready() -> bool:
            for ns, name in BACKENDS:
                status, body = gateway.api_get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
                if status != 200 or (body.get("status") or {}).get("readyReplicas") != 2:
                    return False
            return True

        wait_until(ready, f"the base backends never became ready: {proc.stderr()[-3000:]}", timeout=30)
        yield gateway
    finally:
        with contextlib.suppress(Exception):
            proc.stop()


@pytest.fixture(scope="module")
def table(request, gw):
    """A conformance table (indirect parameter) with its manifests applied: the module-scoped
    parameter groups the request and status tests of one upstream test under one apply."""
    gw.apply(request.param.test, request.param.manifests)
    return request.param
