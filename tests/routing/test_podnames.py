"""Per-pod names of headless Services (pure)."""

import pytest

from ingressd.routing.podnames import build_pod_name_index

SERVICES = [
    {"kind": "Service", "metadata": {"name": "db", "namespace": "data"},
     "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432, "targetPort": 15432}]}},
    {"kind": "Service", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
]
SLICES = [
    {"kind": "EndpointSlice", "metadata": {"name": "db-x", "namespace": "data",
                                           "labels": {"kubernetes.io/service-name": "db"}},
     "ports": [{"name": "pg", "port": 15432}],
     "endpoints": [
         {"addresses": ["127.1.0.5"], "hostname": "db-0", "targetRef": {"kind": "Pod", "name": "db-0"},
          "conditions": {"ready": True}},
         {"addresses": ["127.1.0.6"], "targetRef": {"kind": "Pod", "name": "db-1"}, "conditions": {"ready": True}},
         {"addresses": ["127.1.0.7"], "targetRef": {"kind": "Pod", "name": "db-2"}, "conditions": {"ready": False}},
     ]},
    {"kind": "EndpointSlice", "metadata": {"name": "web-x", "namespace": "default",
                                           "labels": {"kubernetes.io/service-name": "web"}},
     "ports": [{"name": "http", "port": 8080}],
     "endpoints": [{"addresses": ["127.1.0.9"], "targetRef": {"kind": "Pod", "name": "web-a"}}]},
]


@pytest.mark.parametrize("host, want", [
    ("db-0.db.data.svc.cluster.local", ("127.1.0.5", 15432, "db-0")),
    ("DB-0.db.data.svc", ("127.1.0.5", 15432, "db-0")),
    ("db-1.db.data", ("127.1.0.6", 15432, "db-1")),
    ("db-0.db.data.svc.cluster.local:5432", ("127.1.0.5", 15432, "db-0")),  # a Service port maps to its target
    ("db-0.db.data.svc.cluster.local:9000", ("127.1.0.5", 9000, "db-0")),  # any other port as given
    ("db-2.db.data.svc.cluster.local", None),  # not ready
    ("web-a.web.default.svc.cluster.local", None),  # not headless
    ("db-0.db.other.svc.cluster.local", None),
    ("db.data.svc.cluster.local", None),
    ("example.com", None),
])
def test_resolve(host, want):
    target = build_pod_name_index(SERVICES, SLICES).resolve(host)
    got = None if target is None else (target.endpoint.ip, target.endpoint.port, target.endpoint.pod)
    assert got == want
