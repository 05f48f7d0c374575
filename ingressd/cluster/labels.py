"""Label selection as controllers use it (pure).

Two shapes exist in the API: a Service's `spec.selector` is a plain map (equality on every key);
workloads use a LabelSelector (`matchLabels` plus `matchExpressions`), all terms ANDed.
"""

from __future__ import annotations


def labels_match(selector: dict, labels: dict) -> bool:
    """Map selector semantics: every key present in `labels` with the same value."""
    return all(labels.get(key) == value for key, value in selector.items())


def selector_matches(label_selector: dict, labels: dict) -> bool:
    """LabelSelector semantics; an empty selector matches everything (callers decide if that is allowed)."""
    if not labels_match(label_selector.get("matchLabels") or {}, labels):
        return False
    return all(_expression_matches(expr, labels) for expr in label_selector.get("matchExpressions") or ())


def _expression_matches(expr: dict, labels: dict) -> bool:
    key, operator = expr.get("key"), expr.get("operator")
    values = expr.get("values") or ()
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False  # an unknown operator selects nothing, as an invalid selector would
