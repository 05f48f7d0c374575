"""Typed reads of one manifest's fields that turn every wrong type or missing field into a Problem.

Messages follow kube-apiserver's field errors ("Required value", "Invalid value: X: ...",
"Unsupported value: X: supported values: ..."), so they read like `kubectl apply` output.
A JSON null counts as absent, as it does for the API server.
"""

from __future__ import annotations

from collections.abc import Iterable

from ingressd.objects.load import Manifest
from ingressd.objects.problems import WARNING, Key, Problem, show_value

_MISSING = object()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Report:
    __slots__ = ("manifest", "out")

    def __init__(self, manifest: Manifest, out: list[Problem]) -> None:
        self.manifest = manifest
        self.out = out

    # -- problems -------------------------------------------------------------------------------

    def error(self, path: tuple, message: str) -> None:
        self.out.append(self.manifest.problem(path, message))

    def warn(self, path: tuple, message: str) -> None:
        self.out.append(self.manifest.problem(path, message, WARNING))

    def required(self, path: tuple, detail: str = "") -> None:
        self.error(path, "Required value" + (f": {detail}" if detail else ""))

    def invalid(self, path: tuple, value: object, message: str) -> None:
        self.error(path, f"Invalid value: {show_value(value)}: {message}")

    def unsupported(self, path: tuple, value: object, supported: Iterable[str]) -> None:
        choices = ", ".join(f'"{s}"' for s in sorted(supported))
        self.error(path, f"Unsupported value: {show_value(value)}: supported values: {choices}")

    def check(self, path: tuple, value: object, messages: list[str]) -> bool:
        """One "Invalid value" per message of a names.* rule; True when there were none."""
        for message in messages:
            self.invalid(path, value, message)
        return not messages

    def unknown_fields(self, obj: dict, path: tuple, known: frozenset[str]) -> None:
        """Nothing: unknown fields are the schema pass's (objects/schema_check.py), which knows
        every field of the upstream schema and reports each once, as an error with a suggestion.
        Kept so the checks can still say which fields they read."""

    # -- typed reads: None when absent or of the wrong type (the problem is recorded) -----------

    def _get(self, parent: dict, path: tuple, key: str, required: bool, detail: str) -> object:
        value = parent.get(key)
        if value is None:
            if required:
                self.required(path + (key,), detail)
            return _MISSING
        return value

    def mapping(self, parent: dict, path: tuple, key: str, required: bool = False, detail: str = "") -> dict | None:
        value = self._get(parent, path, key, required, detail)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.invalid(path + (key,), value, "must be an object")
            return None
        return value

    def list(self, parent: dict, path: tuple, key: str, required: bool = False, detail: str = "") -> list | None:
        value = self._get(parent, path, key, required, detail)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.invalid(path + (key,), value, "must be a list")
            return None
        if required and not value:
            self.required(path + (key,), detail)
        return value

    def string(self, parent: dict, path: tuple, key: str, required: bool = False, detail: str = "") -> str | None:
        """A string; "" counts as missing when required (the API's zero value)."""
        value = self._get(parent, path, key, required, detail)
        if value is _MISSING:
            return None
        if not self.is_string(path + (key,), value):
            return None
        if required and value == "":
            self.required(path + (key,), detail)
            return None
        return value

    def is_string(self, path: tuple, value: object) -> bool:
        if isinstance(value, str):
            return True
        hint = ""
        if isinstance(value, (bool, int, float)):
            hint = f" (quote it: \"{show_value(value)}\")"
        self.invalid(path, value, "must be a string" + hint)
        return False

    def integer(self, parent: dict, path: tuple, key: str, required: bool = False, minimum: int | None = None,
                detail: str = "") -> int | None:
        value = self._get(parent, path, key, required, detail)
        if value is _MISSING:
            return None
        if not _is_int(value):
            self.invalid(path + (key,), value, "must be an integer")
            return None
        if minimum is not None and value < minimum:
            self.invalid(path + (key,), value, f"must be greater than or equal to {minimum}")
        return value

    def boolean(self, parent: dict, path: tuple, key: str) -> bool | None:
        value = parent.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.invalid(path + (key,), value, "must be a boolean (true or false)")
            return None
        return value

    def string_map(self, parent: dict, path: tuple, key: str) -> dict[str, str] | None:
        """A map of string to string (labels, selector, data); entries of other types are reported."""
        value = self.mapping(parent, path, key)
        if value is None:
            return None
        out: dict[str, str] = {}
        for k, v in value.items():
            where = path + (key, _key(k))
            if not isinstance(k, str):
                self.invalid(where, k, "keys must be strings")
            elif v is None:
                out[k] = ""
            elif self.is_string(where, v):
                out[k] = v
        return out

    def mappings(self, items: list, path: tuple) -> Iterable[tuple[int, dict, tuple]]:
        """(index, item, item path) for the items of a list that are objects; the others are reported."""
        for i, item in enumerate(items):
            if isinstance(item, dict):
                yield i, item, path + (i,)
            else:
                self.invalid(path + (i,), item, "must be an object")


def _key(k: object) -> object:
    return Key(k) if isinstance(k, str) else k
