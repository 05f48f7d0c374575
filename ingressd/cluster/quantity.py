"""Kubernetes resource quantities ("100m", "1.5", "128Mi", "1e3") as exact fractions, and back.

Exact arithmetic matters: the HPA compares `requests` sums and utilisation ratios, and a float
rounding step would make `100m * 3` differ from `300m`.
"""

from __future__ import annotations

import re
from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
            "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
            "P": Fraction(10**15), "E": Fraction(10**18)}
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?[0-9]+))?$")


def parse_quantity(text: str | int | float) -> Fraction:
    """The quantity's value in base units (cores, bytes); ValueError on anything else."""
    if isinstance(text, bool):
        raise ValueError(f"not a quantity: {text!r}")
    if isinstance(text, (int, float)):
        return Fraction(text)
    match = _QUANTITY.match(text.strip())
    if not match:
        raise ValueError(f"not a quantity: {text!r}")
    number, suffix, exponent = match.groups()
    value = Fraction(number)
    if exponent is not None:
        return value * Fraction(10) ** int(exponent)
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    return value * _DECIMAL[suffix or ""]


def millis(text: str | int | float) -> int:
    """A CPU quantity in millicores, rounded up as the API server does ("0.1" -> 100, "1n" -> 1)."""
    value = parse_quantity(text) * 1000
    return -(-value.numerator // value.denominator)


def format_cpu(millicores: float) -> str:
    """kubectl's style: whole cores as "2", otherwise "250m"."""
    m = round(millicores)
    return str(m // 1000) if m % 1000 == 0 and m else f"{m}m"


def format_memory(num_bytes: float) -> str:
    """Largest binary suffix that keeps an integer ("128Mi"), as metrics-server reports "…Ki"."""
    n = round(num_bytes)
    for suffix, factor in sorted(_BINARY.items(), key=lambda kv: -kv[1]):
        if n and n % factor == 0:
            return f"{n // factor}{suffix}"
    return str(n)
