"""Accept negotiation for resource reads: JSON, a meta.k8s.io Table, or 406."""

from __future__ import annotations

import pytest

from ingressd.apimachinery.negotiation import (
    MediaChoice, NotAcceptable, conversion_mismatch, internal_type, negotiate)

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
    (KUBECTL_GET, MediaChoice(convert="Table", version="v1")),
    ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", MediaChoice(convert="Table", version="v1beta1")),
    ("application/json; as=Table; g=meta.k8s.io; v=v1", MediaChoice(convert="Table", version="v1")),
    # Metadata alone, as metadata informers ask (protobuf first, which ingressd skips).
    ("application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,"
     "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
     MediaChoice(convert="PartialObjectMetadataList", version="v1")),
    ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1",
     MediaChoice(convert="PartialObjectMetadata", version="v1beta1")),
    # Conversions ingressd does not do are skipped, the next clause wins.
    ("application/json;as=PartialObjectMetadataList;v=v1;g=example.com,application/json", MediaChoice()),
    ("application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io,application/json", MediaChoice()),
    ("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", MediaChoice()),
    ("application/json;as=Table,application/json", MediaChoice()),
    ("application/vnd.kubernetes.protobuf,application/json", MediaChoice()),
    ("application/yaml;q=1,application/json;q=0.5", MediaChoice()),
    # Preference: q first.
    ("application/json;q=0.5,application/json;as=Table;v=v1;g=meta.k8s.io", MediaChoice(convert="Table", version="v1")),
    ("application/json;as=Table;v=v1;g=meta.k8s.io;q=0,application/json", MediaChoice()),
])
def test_negotiate(accept, choice):
    assert negotiate(accept) == choice


def test_no_table_for_a_resource_without_one():
    assert negotiate(KUBECTL_GET, tables=False) == MediaChoice()


def test_choice_properties():
    assert MediaChoice(convert="Table", version="v1beta1").table_version == "v1beta1"
    assert MediaChoice(convert="PartialObjectMetadata", version="v1").table_version is None
    assert not MediaChoice().is_table


@pytest.mark.parametrize("group, kind, custom, is_list, name", [
    ("", "Pod", False, True, "*core.PodList"),
    ("", "Pod", False, False, "*core.Pod"),
    ("apps", "Deployment", False, True, "*apps.DeploymentList"),
    ("networking.k8s.io", "Ingress", False, False, "*networking.Ingress"),
    ("autoscaling.k8s.io", "VerticalPodAutoscaler", True, True, "*unstructured.UnstructuredList"),
])
def test_internal_type(group, kind, custom, is_list, name):
    assert internal_type(group, kind, custom=custom, is_list=is_list) == name


def test_conversion_mismatch():
    one = MediaChoice(convert="PartialObjectMetadata", version="v1")
    many = MediaChoice(convert="PartialObjectMetadataList", version="v1")
    assert conversion_mismatch(one, is_list=True, type_name="*core.PodList") == (
        "you requested PartialObjectMetadata, but the requested object is a list (*core.PodList)")
    assert conversion_mismatch(many, is_list=False, type_name="*core.Pod") == (
        "you requested PartialObjectMetadataList, but the requested object is not a list (*core.Pod)")
    assert conversion_mismatch(one, is_list=False, type_name="*core.Pod") is None
    assert conversion_mismatch(many, is_list=True, type_name="*core.PodList") is None
    assert conversion_mismatch(MediaChoice(convert="Table", version="v1"), is_list=True, type_name="x") is None


@pytest.mark.parametrize("accept", [
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "text/html",
    "application/json;as=PartialObjectMetadata;v=v2;g=meta.k8s.io",
    "application/json;q=0",
])
def test_not_acceptable(accept):
    with pytest.raises(NotAcceptable, match="only the following media types are accepted: application/json"):
        negotiate(accept)
