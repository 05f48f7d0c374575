import pytest

from ingressd.duration import parse_duration


@pytest.mark.parametrize("text, seconds", [
    ("15s", 15), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), ("1.5s", 1.5), ("10", 10), ("0", 0), ("1h1m1s", 3661),
])
def test_parse(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "1x", "1 s", "1s2", "-", "m1"])
def test_reject(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
