import pytest

from ingressd.admin.label_selector import LabelSelectorError, parse_label_selector

LABELS = {"app": "web", "tier": "front", "kubernetes.io/service-name": "web"}


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=api", False),
        ("app!=api", True),
        ("missing!=x", True),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
        ("app in (api, web)", True),
        ("app notin (api,web)", False),
        ("tier in (back),app=web", False),
        ("kubernetes.io/service-name=web", True),
        (" app = web ", True),
    ],
)
def test_selector_matches(selector, expected):
    assert parse_label_selector(selector)(LABELS) is expected


@pytest.mark.parametrize("selector", ["app=w b", "=web", "app in web", "app in (a b)", "a=b=c"])
def test_invalid_selector_is_rejected(selector):
    with pytest.raises(LabelSelectorError):
        parse_label_selector(selector)
