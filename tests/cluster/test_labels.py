"""Label selectors: matching (the one implementation) and text, as metav1.FormatLabelSelector prints them."""

import pytest

from ingressd.cluster.labels import format_label_selector, selector_matches


@pytest.mark.parametrize("selector, text", [
    (None, "<none>"),
    ({}, "<none>"),
    ({"matchLabels": {"app": "web"}}, "app=web"),
    ({"matchLabels": {"tier": "a", "app": "web"}}, "app=web,tier=a"),
    ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}, "env in (dev,prod)"),
    ({"matchLabels": {"z": "1"}, "matchExpressions": [
        {"key": "b", "operator": "NotIn", "values": ["x"]}, {"key": "a", "operator": "Exists"},
        {"key": "c", "operator": "DoesNotExist"}]}, "a,b notin (x),!c,z=1"),
])
def test_format_label_selector(selector, text):
    assert format_label_selector(selector) == text


@pytest.mark.parametrize("selector, labels, selected", [
    ({"matchLabels": {"app": "web"}}, {"app": "web"}, True),
    ({"matchLabels": {"app": "web"}}, {}, False),
    ({"matchLabels": {"app": None}}, {"app": ""}, True),  # null is "" as the API server decodes it
    ({"matchLabels": {"app": ""}}, {"app": None}, True),
    ({"matchLabels": {"app": ""}}, {}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", None]}]}, {"tier": ""}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": [""]}]}, {"tier": None}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"tier": None}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {"tier": "x"}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "Sometimes"}]}, {"tier": "x"}, False),
    ({}, {"anything": "x"}, True),
])
def test_the_one_selector_implementation(selector, labels, selected):
    assert selector_matches(selector, labels) is selected


@pytest.mark.parametrize("text, labels, selected", [
    ("app=web", {"app": "web"}, True),
    ("app!=web", {}, True),  # as Kubernetes: != selects objects without the key
    ("app!=web", {"app": "web"}, False),
    ("tier in (a,b),!debug", {"tier": "b"}, True),
    ("tier notin (a)", {}, True),
    ("app", {"app": ""}, True),
])
def test_the_query_string_uses_the_same_matcher(text, labels, selected):
    from ingressd.admin.label_selector import parse_label_selector
    assert parse_label_selector(text)(labels) is selected
