"""Label selection, the one implementation (pure): controllers, validation and the admin API.

Two shapes exist in the API: a Service's `spec.selector` is a plain map (equality on every key);
workloads use a LabelSelector (`matchLabels` plus `matchExpressions`), all terms ANDed. The
`labelSelector` query string compiles into a LabelSelector (admin/label_selector.py). A null label
value is the empty string, as the API server's decoding makes it.
"""

from __future__ import annotations


def labels_match(selector: dict, labels: dict) -> bool:
    """Map selector semantics: every key present in `labels` with the same value."""
    return all(key in labels and (labels[key] or "") == (value or "") for key, value in selector.items())


def selector_matches(label_selector: dict, labels: dict) -> bool:
    """LabelSelector semantics; an empty selector matches everything (callers decide if that is allowed)."""
    if not labels_match(label_selector.get("matchLabels") or {}, labels):
        return False
    return all(_expression_matches(expr, labels) for expr in label_selector.get("matchExpressions") or ())


def _expression_matches(expr: dict, labels: dict) -> bool:
    key, operator = expr.get("key"), expr.get("operator")
    values = [value or "" for value in expr.get("values") or ()]
    if operator == "In":
        return key in labels and (labels[key] or "") in values
    if operator == "NotIn":
        return key not in labels or (labels[key] or "") not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False  # an unknown operator selects nothing, as an invalid selector would


def format_label_selector(label_selector: dict | None) -> str:
    """metav1.FormatLabelSelector: "app=web,tier in (a,b),!debug", requirements sorted by key;
    "<none>" when empty. What a scale subresource's status.selector and kubectl print."""
    requirements = [(key, f"{key}={value}") for key, value in ((label_selector or {}).get("matchLabels") or {}).items()]
    for expr in (label_selector or {}).get("matchExpressions") or ():
        key, operator, values = expr.get("key", ""), expr.get("operator"), sorted(expr.get("values") or ())
        text = {"In": f"{key} in ({','.join(values)})", "NotIn": f"{key} notin ({','.join(values)})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(operator, f"{key} {operator}")
        requirements.append((key, text))
    return ",".join(text for _, text in sorted(requirements, key=lambda r: r[0])) or "<none>"
