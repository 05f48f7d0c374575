"""Counts in messages: "1 object", "2 objects" (never "1 objects" or "object(s)")."""

from __future__ import annotations


def count(number: int, noun: str, plural: str | None = None) -> str:
    """`number` and `noun`, the noun plural unless the number is 1 (default plural: noun + "s")."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
