"""Reading a pod's state the way controllers do (podutil in Kubernetes). Pure."""

from __future__ import annotations

from ingressd.cluster.clock import parse_timestamp

TERMINAL_PHASES = ("Succeeded", "Failed")


def condition(pod: dict, condition_type: str) -> dict | None:
    for cond in (pod.get("status") or {}).get("conditions") or ():
        if cond.get("type") == condition_type:
            return cond
    return None


def is_ready(pod: dict) -> bool:
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: dict) -> float | None:
    """When the pod last became Ready (epoch seconds), None if not ready or unknown."""
    cond = condition(pod, "Ready")
    if cond is None or cond.get("status") != "True" or not cond.get("lastTransitionTime"):
        return None
    return parse_timestamp(cond["lastTransitionTime"])


def is_available(pod: dict, min_ready_seconds: float, now: float) -> bool:
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and now - since >= min_ready_seconds


def is_terminating(pod: dict) -> bool:
    return bool(pod.get("metadata", {}).get("deletionTimestamp"))


def is_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def is_active(pod: dict) -> bool:
    """Counts toward a controller's replicas: neither terminating nor finished."""
    return not is_terminating(pod) and not is_terminal(pod)


def max_restarts(pod: dict) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or ()
    return max((int(cs.get("restartCount") or 0) for cs in statuses), default=0)
