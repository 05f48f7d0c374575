"""ingressd.apimachinery.access: bearer tokens, public paths, kubeconfig documents and their merge."""

from __future__ import annotations

import pytest

from ingressd.apimachinery.access import (
    KubeconfigError,
    bearer_token,
    is_public_path,
    is_token_text,
    kubeconfig_document,
    merge_kubeconfig,
    same_server,
    token_for_server,
    token_matches,
)

TOKEN = "a" * 43


@pytest.mark.parametrize("header, token", [
    (None, None),
    ("", None),
    ("Bearer", None),
    ("Bearer ", None),
    ("Bearer  x", None),  # kube-apiserver splits on single spaces: the token is the empty second part
    ("Basic dXNlcjpwYXNz", None),
    ("Bearer abc", "abc"),
    ("bearer abc", "abc"),
    ("BEARER abc", "abc"),
    ("  Bearer abc  ", "abc"),
    ("Bearer abc def", "abc"),
])
def test_bearer_token(header, token):
    assert bearer_token(header) == token


@pytest.mark.parametrize("given, expected, ok", [
    (None, TOKEN, False),
    ("", TOKEN, False),
    (TOKEN, TOKEN, True),
    (TOKEN + "a", TOKEN, False),
    (TOKEN[:-1], TOKEN, False),
    ("\udce9" + TOKEN, TOKEN, False),  # undecodable header bytes compare, and differ
    ("é" * 43, TOKEN, False),
])
def test_token_matches(given, expected, ok):
    assert token_matches(given, expected) is ok


@pytest.mark.parametrize("path, public", [
    ("/healthz", True), ("/livez", True), ("/readyz", True), ("/metrics", True), ("/version", True),
    ("/version/", True),
    ("/healthz/", False), ("/readyz/ping", False), ("/livez/ping", False), ("/metrics/x", False),
    ("/", False), ("/api", False), ("/apis", False), ("/openapi/v2", False), ("/ingressd/v1/routes", False),
    ("/HEALTHZ", False),
])
def test_public_paths(path, public):
    assert is_public_path(path) is public


@pytest.mark.parametrize("text, ok", [
    ("A" * 32, True), ("a-b_c" * 10, True), ("A" * 31, False), ("A" * 513, False), ("A" * 40 + "=", False),
    ("A" * 40 + " ", False), ("", False),
])
def test_token_text(text, ok):
    assert is_token_text(text) is ok


def test_kubeconfig_document_with_a_ca():
    config = kubeconfig_document("https://127.0.0.1:10254", TOKEN, b"PEM")
    assert config["clusters"] == [{"name": "ingressd", "cluster": {"certificate-authority-data": "UEVN",
                                                                   "server": "https://127.0.0.1:10254"}}]


def test_kubeconfig_document():
    assert kubeconfig_document("http://127.0.0.1:10254", TOKEN) == {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "ingressd", "cluster": {"server": "http://127.0.0.1:10254"}}],
        "users": [{"name": "ingressd-admin", "user": {"token": TOKEN}}],
        "contexts": [{"name": "ingressd", "context": {"cluster": "ingressd", "user": "ingressd-admin"}}],
        "current-context": "ingressd",
        "preferences": {},
    }


OURS = kubeconfig_document("http://127.0.0.1:10300", TOKEN)
KIND = {
    "apiVersion": "v1", "kind": "Config",
    "clusters": [{"name": "kind-kind", "cluster": {"server": "https://127.0.0.1:40000",
                                                    "certificate-authority-data": "Q0E="}}],
    "users": [{"name": "kind-kind", "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}}],
    "contexts": [{"name": "kind-kind", "context": {"cluster": "kind-kind", "user": "kind-kind", "namespace": "x"}}],
    "current-context": "kind-kind",
    "preferences": {"colors": True},
    "extensions": [{"name": "e", "extension": {"a": 1}}],
}


def test_merge_into_nothing_is_ours():
    assert merge_kubeconfig(None, OURS) == OURS
    assert merge_kubeconfig({}, OURS) == OURS


def test_merge_keeps_the_others_and_makes_ours_current():
    merged = merge_kubeconfig(KIND, OURS)
    assert merged["clusters"] == KIND["clusters"] + OURS["clusters"]
    assert merged["users"] == KIND["users"] + OURS["users"]
    assert merged["contexts"] == KIND["contexts"] + OURS["contexts"]
    assert merged["current-context"] == "ingressd"
    assert merged["preferences"] == {"colors": True} and merged["extensions"] == KIND["extensions"]
    assert KIND["current-context"] == "kind-kind"  # the input is not changed


def test_merge_replaces_our_entries_in_place():
    once = merge_kubeconfig(KIND, OURS)
    again = merge_kubeconfig({**once, "current-context": "kind-kind"},
                             kubeconfig_document("http://127.0.0.1:10400", "b" * 43))
    assert [c["name"] for c in again["clusters"]] == ["kind-kind", "ingressd"]
    assert again["clusters"][1]["cluster"]["server"] == "http://127.0.0.1:10400"
    assert again["users"][1]["user"]["token"] == "b" * 43
    assert again["current-context"] == "ingressd"


@pytest.mark.parametrize("existing, message", [
    ([1], "cfg: not a kubeconfig (a mapping with clusters, users and contexts), got list"),
    ({"clusters": {"a": 1}}, "cfg: clusters: must be a list, got dict"),
    ({"users": [{"user": {}}]}, "cfg: users[0]: must be a mapping with a name"),
    ({"contexts": ["x"]}, "cfg: contexts[0]: must be a mapping with a name"),
])
def test_merge_refuses_what_is_not_a_kubeconfig(existing, message):
    with pytest.raises(KubeconfigError) as raised:
        merge_kubeconfig(existing, OURS, "cfg")
    assert str(raised.value) == message


@pytest.mark.parametrize("a, b, same", [
    ("http://127.0.0.1:10254", "http://127.0.0.1:10254", True),
    ("http://127.0.0.1:10254", "http://127.0.0.1:10254/", True),
    ("http://localhost:10254", "http://127.0.0.1:10254", True),
    ("http://[::1]:10254", "http://127.0.0.2:10254", True),
    ("http://LOCALHOST.:10254", "http://127.0.0.1:10254", True),
    ("http://127.0.0.1:10254", "http://127.0.0.1:10255", False),
    ("http://127.0.0.1:10254", "https://127.0.0.1:10254", True),  # the admin port answers both
    ("http://127.0.0.1", "https://127.0.0.1", False),
    ("http://192.0.2.1:10254", "http://127.0.0.1:10254", False),
    ("http://192.0.2.1", "http://192.0.2.1:80", True),
    ("http://127.0.0.1:99999", "http://127.0.0.1:99999", False),
    ("127.0.0.1:10254", "127.0.0.1:10254", False),
])
def test_same_server(a, b, same):
    assert same_server(a, b) is same


def test_token_for_server():
    merged = merge_kubeconfig({**KIND, "current-context": "kind-kind"}, OURS)
    assert token_for_server(merged, "http://localhost:10300") == TOKEN
    assert token_for_server(merged, "http://127.0.0.1:10301") is None
    assert token_for_server(merged, "https://127.0.0.1:40000") is None  # a client certificate: no token
    assert token_for_server(merged, "https://127.0.0.1:10300") == TOKEN
    assert token_for_server({"clusters": "x"}, "http://127.0.0.1:10300") is None
    assert token_for_server([], "http://127.0.0.1:10300") is None
    # The current context wins over an earlier one for the same server.
    two = merge_kubeconfig(OURS, {"clusters": [{"name": "c2", "cluster": {"server": "http://127.0.0.1:10300"}}],
                                  "users": [{"name": "u2", "user": {"token": "second"}}],
                                  "contexts": [{"name": "x2", "context": {"cluster": "c2", "user": "u2"}}],
                                  "current-context": "x2"})
    assert token_for_server(two, "http://127.0.0.1:10300") == "second"
    assert token_for_server({**two, "current-context": "ingressd"}, "http://127.0.0.1:10300") == TOKEN
