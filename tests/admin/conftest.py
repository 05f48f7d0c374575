"""A real Store filled with a few objects of each API group, for the admin tests."""

from __future__ import annotations

import copy

import pytest

from ingressd.cluster.namespaces import namespace_object, system_namespaces
from ingressd.cluster.store import Store


OBJECTS = [
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web", "tier": "front"}}, "spec": {"containers": [{"name": "c", "image": "ingressd/echo:1.0"}]}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "ingressd/echo:1.0"}]}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-0", "namespace": "other", "labels": {"app": "api"}}, "spec": {"containers": [{"name": "c", "image": "ingressd/echo:2.0"}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}},
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "tls",
            "namespace": "default",
            "labels": {"app": "web"},
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"tls.key":"c2VjcmV0"}}',
                "team": "a",
            },
        },
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Y2VydA==", "tls.key": "c2VjcmV0"},
        "stringData": {"extra": "secret"},
    },
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 2}},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "web-abc", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}}, "addressType": "IPv4", "endpoints": []},
    {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "demo", "namespace": "default"}, "spec": {"ingressClassName": "nginx"}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx", "namespace": ""}, "spec": {"controller": "k8s.io/ingress-nginx"}},
]


@pytest.fixture
def store():
    s = Store()
    for namespace in (*system_namespaces(), namespace_object("other")):  # as the API server has them
        s.apply(namespace)
    for obj in OBJECTS:
        s.apply(copy.deepcopy(obj))
    return s
