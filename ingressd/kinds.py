"""Which kinds ingressd understands, at which apiVersion, which have no namespace, which scale.

The bottom layer: pure data that the store, the controllers, the loader, validation and the API
all read, so it imports nothing of ingressd.
"""

from __future__ import annotations

# kind -> the one apiVersion ingressd serves it at (what a current cluster serves too).
SERVED_KINDS: dict[str, str] = {
    "Ingress": "networking.k8s.io/v1",
    "IngressClass": "networking.k8s.io/v1",
    "Service": "v1",
    "Endpoints": "v1",
    "Secret": "v1",
    "Pod": "v1",
    "ConfigMap": "v1",
    "PersistentVolumeClaim": "v1",  # stored; bound by ingressd to a directory under the state dir
    "EndpointSlice": "discovery.k8s.io/v1",
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "VerticalPodAutoscaler": "autoscaling.k8s.io/v1",
    "Node": "v1",
}

# Kinds with a `scale` subresource (autoscaling/v1 Scale): what HPAs, VPAs and `scale` may target.
SCALABLE_KINDS: frozenset[str] = frozenset({"Deployment", "ReplicaSet", "StatefulSet"})

# Kinds without metadata.namespace (kube-apiserver ignores one if given). Unknown kinds are
# treated as namespaced, like most custom resources.
CLUSTER_SCOPED_KINDS: frozenset[str] = frozenset({
    "APIService",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "FlowSchema",
    "GatewayClass",
    "IngressClass",
    "List",  # not stored; only so its problems print "List -"
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
})


def is_cluster_scoped(kind: str) -> bool:
    return kind in CLUSTER_SCOPED_KINDS
