"""What reconcilers return: changes to make, as plain tuples, so tests compare them directly.

    ("apply", obj)                                  create or replace obj
    ("delete", kind, namespace, name)               delete (graceful for running pods)
    ("status", kind, namespace, name, status)       replace status only
"""

from __future__ import annotations

from typing import Any

Action = tuple[Any, ...]


def apply_object(obj: dict) -> Action:
    return ("apply", obj)


def delete_object(obj: dict) -> Action:
    meta = obj["metadata"]
    return ("delete", obj["kind"], meta.get("namespace", ""), meta["name"])


def set_status(obj: dict, status: dict) -> Action:
    meta = obj["metadata"]
    return ("status", obj["kind"], meta.get("namespace", ""), meta["name"], status)


def execute(store, action: Action) -> None:
    verb = action[0]
    if verb == "apply":
        store.apply(action[1])
    elif verb == "delete":
        store.delete(*action[1:4])
    elif verb == "status":
        store.update_status(*action[1:5])
    else:
        raise ValueError(f"unknown action {verb!r}")
