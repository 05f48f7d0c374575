"""Issue 5 acceptance: a StatefulSet of 3 echo pods behind a headless Service and an Ingress."""

from __future__ import annotations

import json
import textwrap
import time
import urllib.request

from tests.e2e.conftest import HOST, admin_headers, http_get, wait_status

MANIFESTS = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata:
      name: web
    spec:
      clusterIP: None
      selector:
        app: web
      ports:
      - name: http
        port: 80
        targetPort: 8080
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: web
    spec:
      serviceName: web
      replicas: 3
      selector:
        matchLabels:
          app: web
      template:
        metadata:
          labels:
            app: web
        spec:
          containers:
          - name: echo
            image: ingressd/echo:1.0
            ports:
            - containerPort: 8080
            volumeMounts:
            - name: data
              mountPath: /data
      volumeClaimTemplates:
      - metadata:
          name: data
        spec:
          accessModes: [ReadWriteOnce]
          resources:
            requests:
              storage: 1Gi
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: web
    spec:
      rules:
      - host: sts.test
        http:
          paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web
                port:
                  number: 80
    """)


def api(proc, method: str, path: str, body: dict | None = None, content_type: str = "application/merge-patch+json"):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://{HOST}:{proc.admin_port}{path}", data=data, method=method,
                                     headers={**({"Content-Type": content_type} if data else {}),
                                              **admin_headers(proc.admin_port)})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def pods(proc) -> dict[str, dict]:
    items = api(proc, "GET", "/api/v1/namespaces/default/pods")["items"]
    return {p["metadata"]["name"]: p for p in items if not p["metadata"].get("deletionTimestamp")}


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def wait_for(predicate, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def via_pod_name(proc, pod: str, method: str = "GET", path: str = "/", body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://{HOST}:{proc.http_port}{path}", data=body, method=method,
                                     headers={"Host": f"{pod}.web.default.svc.cluster.local"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        data = err.read()
        err.close()
        return err.code, data


def test_statefulset_acceptance(ingressd, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "web.yaml").write_text(MANIFESTS)
    proc = ingressd("-f", str(tmp_path / "m"))
    proc.wait_healthy()
    wait_for(lambda: len([p for p in pods(proc).values() if ready(p)]) == 3, what="3 ready pods")

    # traffic reaches all three; the per-pod host reaches exactly that pod
    wait_status(proc.http_port, "/", "sts.test", 200, 10)
    seen = {json.loads(http_get(proc.http_port, "/", host="sts.test")[2])["pod"] for _ in range(30)}
    assert seen == {"web-0", "web-1", "web-2"}
    for name in ("web-0", "web-1", "web-2"):
        status, body = via_pod_name(proc, name)
        assert status == 200 and json.loads(body)["pod"] == name

    # deleting web-1 brings back web-1: new uid, same claim, kv data still there
    assert via_pod_name(proc, "web-1", "PUT", "/kv/greeting", b"hello")[0] in (200, 201, 204)
    old = pods(proc)["web-1"]
    api(proc, "DELETE", "/api/v1/namespaces/default/pods/web-1")
    new = wait_for(lambda: (p := pods(proc).get("web-1")) and p["metadata"]["uid"] != old["metadata"]["uid"]
                   and ready(p) and p, what="web-1 recreated")
    claims = lambda pod: [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"].get("volumes", [])
                          if "persistentVolumeClaim" in v]
    assert claims(new) == claims(old) == ["data-web-1"]
    wait_for(lambda: via_pod_name(proc, "web-1", path="/kv/greeting")[0] == 200, what="web-1 serving")
    assert via_pod_name(proc, "web-1", path="/kv/greeting")[1] == b"hello"

    # scaling to 1 removes web-2 then web-1, keeping their claims
    api(proc, "PATCH", "/apis/apps/v1/namespaces/default/statefulsets/web/scale", {"spec": {"replicas": 1}})
    wait_for(lambda: set(pods(proc)) == {"web-0"}, what="scale down to web-0")
    pvcs = {c["metadata"]["name"] for c in api(proc, "GET", "/api/v1/namespaces/default/persistentvolumeclaims")["items"]}
    assert {"data-web-0", "data-web-1", "data-web-2"} <= pvcs

    # scaling back to 3 creates web-1 before web-2, each after its predecessor is ready
    api(proc, "PATCH", "/apis/apps/v1/namespaces/default/statefulsets/web/scale", {"spec": {"replicas": 3}})
    wait_for(lambda: len([p for p in pods(proc).values() if ready(p)]) == 3, what="3 ready pods again")
    current = pods(proc)
    created = {name: current[name]["metadata"]["creationTimestamp"] for name in ("web-1", "web-2")}
    assert created["web-1"] <= created["web-2"]
    assert via_pod_name(proc, "web-1", path="/kv/greeting")[1] == b"hello"  # the same claim re-attached
