"""The questions a client asks about itself, answered for ingressd's one user (a `system:masters`
member, so everything is allowed): SelfSubjectAccessReview and SelfSubjectRulesReview
(authorization.k8s.io/v1: `kubectl auth can-i`, `can-i --list`) and SelfSubjectReview
(authentication.k8s.io/v1: `kubectl auth whoami`). Pure: request body in, response body out;
ReviewError carries the Status kube-apiserver would answer instead.
"""

from __future__ import annotations

import json

from ingressd.apimachinery.access import GROUPS, USERNAME

__all__ = ["ReviewError", "self_subject_access_review", "self_subject_review", "self_subject_rules_review"]

AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"


class ReviewError(Exception):
    """What to answer instead of a review: HTTP code, Status reason, message and details."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}


def _bad_request(message: str) -> ReviewError:
    return ReviewError(400, "BadRequest", message)


def _invalid(kind: str, group: str, field: str, value, message: str) -> ReviewError:
    shown = '"null"' if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)
    cause = f"Invalid value: {shown}: {message}"
    return ReviewError(422, "Invalid", f'{kind}.{group} "" is invalid: {field}: {cause}',
                       {"kind": kind, "group": group,
                        "causes": [{"reason": "FieldValueInvalid", "message": cause, "field": field}]})


def _body(body, kind: str, group: str, version: str = "v1") -> dict:
    """The review object sent, checked to be one (an empty body is an empty review, as Go decodes)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise _bad_request(f"the request body is not a {kind} object: got a JSON {type(body).__name__}")
    api_version, sent_kind = body.get("apiVersion"), body.get("kind")
    if api_version not in (None, "", f"{group}/{version}") or sent_kind not in (None, "", kind):
        raise _bad_request(f"the API version in the data ({api_version}) does not match the expected API "
                           f"version ({group}/{version})" if api_version not in (None, "", f"{group}/{version}")
                           else f"not a {kind}: the body's kind is {sent_kind!r}")
    for field in ("metadata", "spec"):
        if body.get(field) is not None and not isinstance(body[field], dict):
            raise _bad_request(f"{kind} in version \"{version}\" cannot be handled as a {kind}: "
                               f"{field}: expected an object, got {type(body[field]).__name__}")
    return body


def _metadata_is_empty(metadata: dict) -> bool:
    """As Go compares with ObjectMeta{}: zero values (null, "", 0, empty lists and maps) are empty."""
    return not any(metadata.values())


def self_subject_access_review(body) -> dict:
    """POST selfsubjectaccessreviews: the review sent back with status.allowed true (the
    privileged-group authorizer allows and gives no reason)."""
    kind = "SelfSubjectAccessReview"
    body = _body(body, kind, AUTHORIZATION)
    metadata, spec = body.get("metadata") or {}, body.get("spec") or {}
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    for field, value in (("resourceAttributes", resource), ("nonResourceAttributes", non_resource)):
        if value is not None and not isinstance(value, dict):
            raise _bad_request(f"{kind} in version \"v1\" cannot be handled as a {kind}: spec.{field}: "
                               f"expected an object, got {type(value).__name__}")
    if resource is not None and non_resource is not None:
        raise _invalid(kind, AUTHORIZATION, "spec.nonResourceAttributes", non_resource,
                       "cannot be specified in combination with resourceAttributes")
    if resource is None and non_resource is None:
        raise _invalid(kind, AUTHORIZATION, "spec.resourceAttributes", None,
                       "exactly one of nonResourceAttributes or resourceAttributes must be specified")
    if not _metadata_is_empty(metadata):
        raise _invalid(kind, AUTHORIZATION, "metadata", metadata, "must be empty")
    return {"kind": kind, "apiVersion": f"{AUTHORIZATION}/v1", "metadata": {"creationTimestamp": None},
            "spec": spec, "status": {"allowed": True}}


# What RBAC resolves for a system:masters member: cluster-admin (bound to system:masters), then what
# the bootstrap policy gives every authenticated user (system:basic-user, system:discovery,
# system:public-info-viewer).
RESOURCE_RULES = (
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["create"], "apiGroups": [AUTHORIZATION], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
    {"verbs": ["create"], "apiGroups": [AUTHENTICATION], "resources": ["selfsubjectreviews"]},
)
NON_RESOURCE_RULES = (
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
    {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                                           "/openapi/*", "/readyz", "/version", "/version/"]},
)


def self_subject_rules_review(body) -> dict:
    """POST selfsubjectrulesreviews: what the user may do in spec.namespace (required): everything."""
    kind = "SelfSubjectRulesReview"
    body = _body(body, kind, AUTHORIZATION)
    namespace = (body.get("spec") or {}).get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise _bad_request(f"{kind} in version \"v1\" cannot be handled as a {kind}: spec.namespace: "
                           f"expected a string, got {type(namespace).__name__}")
    if not namespace:
        raise _bad_request("no namespace on request")
    return {"kind": kind, "apiVersion": f"{AUTHORIZATION}/v1", "metadata": {"creationTimestamp": None},
            "spec": {}, "status": {"resourceRules": [dict(r) for r in RESOURCE_RULES],
                                   "nonResourceRules": [dict(r) for r in NON_RESOURCE_RULES],
                                   "incomplete": False}}


def self_subject_review(body, now: str) -> dict:
    """POST selfsubjectreviews: who the caller is (`now` is the RFC 3339 creationTimestamp)."""
    kind = "SelfSubjectReview"
    _body(body, kind, AUTHENTICATION)
    return {"kind": kind, "apiVersion": f"{AUTHENTICATION}/v1", "metadata": {"creationTimestamp": now},
            "status": {"userInfo": {"username": USERNAME, "groups": list(GROUPS)}}}
