"""ingressd.apimachinery.reviews: the self-reviews as kube-apiserver answers a system:masters member."""

from __future__ import annotations

import pytest

from ingressd.apimachinery.reviews import (
    ReviewError,
    self_subject_access_review,
    self_subject_review,
    self_subject_rules_review,
)

SSAR = "SelfSubjectAccessReview"


@pytest.mark.parametrize("spec", [
    {"resourceAttributes": {"namespace": "default", "verb": "create", "group": "apps", "resource": "deployments"}},
    {"resourceAttributes": {"verb": "*", "group": "*", "resource": "*"}},
    {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}},
])
def test_access_reviews_are_allowed_and_echo_the_spec(spec):
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": SSAR, "metadata": {"creationTimestamp": None},
            "spec": spec}
    assert self_subject_access_review(body) == {
        "kind": SSAR, "apiVersion": "authorization.k8s.io/v1", "metadata": {"creationTimestamp": None},
        "spec": spec, "status": {"allowed": True}}


@pytest.mark.parametrize("body, code, message", [
    (None, 422, f'{SSAR}.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": '
                "exactly one of nonResourceAttributes or resourceAttributes must be specified"),
    ({"spec": {"resourceAttributes": {}, "nonResourceAttributes": {}}}, 422,
     f'{SSAR}.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid value: {{}}: '
     "cannot be specified in combination with resourceAttributes"),
    ({"metadata": {"name": "x"}, "spec": {"resourceAttributes": {}}}, 422,
     f'{SSAR}.authorization.k8s.io "" is invalid: metadata: Invalid value: {{"name":"x"}}: must be empty'),
    ([], 400, f"the request body is not a {SSAR} object: got a JSON list"),
    ({"apiVersion": "v1", "spec": {}}, 400,
     "the API version in the data (v1) does not match the expected API version (authorization.k8s.io/v1)"),
    ({"kind": "Pod"}, 400, f"not a {SSAR}: the body's kind is 'Pod'"),
    ({"spec": []}, 400, f'{SSAR} in version "v1" cannot be handled as a {SSAR}: spec: expected an object, got list'),
    ({"spec": {"resourceAttributes": "x"}}, 400,
     f'{SSAR} in version "v1" cannot be handled as a {SSAR}: spec.resourceAttributes: expected an object, got str'),
])
def test_bad_access_reviews(body, code, message):
    with pytest.raises(ReviewError) as raised:
        self_subject_access_review(body)
    assert (raised.value.code, raised.value.message) == (code, message)


def test_rules_review():
    review = self_subject_rules_review({"spec": {"namespace": "default"}})
    assert review["spec"] == {}
    assert review["status"]["incomplete"] is False
    assert {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]} in review["status"]["resourceRules"]
    assert {"verbs": ["*"], "nonResourceURLs": ["*"]} in review["status"]["nonResourceRules"]


@pytest.mark.parametrize("body, message", [
    ({}, "no namespace on request"),
    ({"spec": {"namespace": ""}}, "no namespace on request"),
    ({"spec": {"namespace": 3}}, 'SelfSubjectRulesReview in version "v1" cannot be handled as a '
                                 "SelfSubjectRulesReview: spec.namespace: expected a string, got int"),
])
def test_bad_rules_reviews(body, message):
    with pytest.raises(ReviewError) as raised:
        self_subject_rules_review(body)
    assert (raised.value.code, raised.value.message) == (400, message)


def test_self_subject_review():
    assert self_subject_review({}, "2026-01-02T03:04:05Z") == {
        "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": "2026-01-02T03:04:05Z"},
        "status": {"userInfo": {"username": "ingressd-admin", "groups": ["system:masters", "system:authenticated"]}}}
