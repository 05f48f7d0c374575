"""The `labelSelector` query parameter of list requests, as kubectl sends it.

Supports the Kubernetes string syntax: `a=b`, `a==b`, `a!=b`, `a`, `!a`,
`a in (x,y)`, `a notin (x)`, comma-separated (all must hold). It compiles into a LabelSelector
matched by the one implementation in cluster/labels.py (`a!=b` is NotIn: it selects objects
without `a` too, as Kubernetes does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ingressd.cluster.labels import selector_matches

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s+\(([^()]*)\)\s*$")
_EQUALITY = re.compile(rf"^\s*({_KEY})\s*(==|!=|=)\s*({_VALUE})\s*$")
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")
_VALUE_ONLY = re.compile(rf"^{_VALUE}$")


class LabelSelectorError(ValueError):
    pass


def parse_label_selector(text: str) -> Callable[[Mapping[str, str]], bool]:
    """Compile a selector string into a predicate over a labels mapping; empty selects all."""
    selector = {"matchExpressions": [_parse_requirement(term) for term in _split_terms(text) if term.strip()]}
    return lambda labels: selector_matches(selector, labels)


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses (set-based values contain commas)."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _parse_requirement(term: str) -> dict:
    """One term as a LabelSelector requirement (matchExpressions item)."""
    if m := _SET.match(term):
        key, op = m.group(1), m.group(3)
        values = sorted({v.strip() for v in m.group(4).split(",")})
        if any(not _VALUE_ONLY.match(v) for v in values):
            raise LabelSelectorError(f"invalid value in label selector term {term.strip()!r}")
        return {"key": key, "operator": "In" if op == "in" else "NotIn", "values": values}
    if m := _EQUALITY.match(term):
        key, op, value = m.group(1), m.group(3), m.group(4)
        return {"key": key, "operator": "NotIn" if op == "!=" else "In", "values": [value]}
    if m := _EXISTS.match(term):
        negated, key = m.group(1) == "!", m.group(2)
        return {"key": key, "operator": "DoesNotExist" if negated else "Exists"}
    raise LabelSelectorError(f"unable to parse requirement: {term.strip()!r}")
