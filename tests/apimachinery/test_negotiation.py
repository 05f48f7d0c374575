"""Accept negotiation for resource reads: JSON, a meta.k8s.io Table, or 406."""

from __future__ import annotations

import pytest

from ingressd.apimachinery.negotiation import MediaChoice, NotAcceptable, negotiate

KUBECTL_GET = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
               "application/json")


@pytest.mark.parametrize("accept, choice", [
    (None, MediaChoice()),
    ("", MediaChoice()),
    ("application/json", MediaChoice()),
    ("*/*", MediaChoice()),
    ("application/*", MediaChoice()),
    ("application/json, */*", MediaChoice()),
    ("application/json;charset=utf-8", MediaChoice()),
    (KUBECTL_GET, MediaChoice(table_version="v1")),
    ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", MediaChoice(table_version="v1beta1")),
    ("application/json; as=Table; g=meta.k8s.io; v=v1", MediaChoice(table_version="v1")),
    # Conversions ingressd does not do are skipped, the next clause wins.
    ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json", MediaChoice()),
    ("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", MediaChoice()),
    ("application/json;as=Table,application/json", MediaChoice()),
    ("application/vnd.kubernetes.protobuf,application/json", MediaChoice()),
    ("application/yaml;q=1,application/json;q=0.5", MediaChoice()),
    # Preference: q first.
    ("application/json;q=0.5,application/json;as=Table;v=v1;g=meta.k8s.io", MediaChoice(table_version="v1")),
    ("application/json;as=Table;v=v1;g=meta.k8s.io;q=0,application/json", MediaChoice()),
])
def test_negotiate(accept, choice):
    assert negotiate(accept) == choice


def test_no_table_for_a_resource_without_one():
    assert negotiate(KUBECTL_GET, tables=False) == MediaChoice()


@pytest.mark.parametrize("accept", [
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "text/html",
    "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
    "application/json;q=0",
])
def test_not_acceptable(accept):
    with pytest.raises(NotAcceptable, match="only the following media types are accepted: application/json"):
        negotiate(accept)
