"""Label selectors as text, as metav1.FormatLabelSelector prints them."""

import pytest

from ingressd.cluster.labels import format_label_selector


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
