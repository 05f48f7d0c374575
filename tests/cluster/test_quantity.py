"""Resource quantities, exactly."""

from fractions import Fraction

import pytest

from ingressd.cluster.quantity import format_cpu, format_memory, millis, parse_quantity


@pytest.mark.parametrize("text, value", [
    ("1", 1), ("100m", Fraction(1, 10)), ("1.5", Fraction(3, 2)), ("128Mi", 128 * 2**20), ("1Gi", 2**30),
    ("1k", 1000), ("1M", 10**6), ("1e3", 1000), ("5E-1", Fraction(1, 2)), ("250u", Fraction(1, 4000)),
    ("1n", Fraction(1, 10**9)), (".5", Fraction(1, 2)), (2, 2), (0.25, Fraction(1, 4)), ("-1", -1),
])
def test_parse(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "m", "1mi", "1 Gi", "abc", "1.2.3", True])
def test_parse_rejects(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


@pytest.mark.parametrize("text, m", [("100m", 100), ("0.1", 100), ("1", 1000), ("1n", 1), ("1500u", 2)])
def test_millis_rounds_up(text, m):
    assert millis(text) == m


@pytest.mark.parametrize("m, text", [(250, "250m"), (1000, "1"), (2000, "2"), (0, "0m"), (1500, "1500m")])
def test_format_cpu(m, text):
    assert format_cpu(m) == text


@pytest.mark.parametrize("n, text", [(128 * 2**20, "128Mi"), (2**30, "1Gi"), (1536, "1536"), (1024, "1Ki"), (0, "0")])
def test_format_memory(n, text):
    assert format_memory(n) == text
