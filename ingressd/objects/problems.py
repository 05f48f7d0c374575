"""Problems found in manifests, printed the way compilers print errors so editors can jump to them.

    FILE:LINE: Kind namespace/name: field.path: message
    FILE:LINE: Kind namespace/name: field.path: warning: message
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


class Key(str):
    """A map key inside a field path (labels, annotations, data): printed as `data[tls.crt]`.

    It compares and hashes like the plain string, so it still finds the line recorded for that key.
    """

    __slots__ = ()


_FIELD_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")


def format_field(path: tuple) -> str:
    """("spec", "rules", 0, "host") -> "spec.rules[0].host", the way kube-apiserver names fields."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out.append(f"[{part}]")
        elif isinstance(part, Key) or not _FIELD_NAME.match(str(part)):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else str(part))
    return "".join(out)


def show_value(value: object, limit: int = 80) -> str:
    """A value as kube-apiserver quotes it in "Invalid value: ..." (JSON, shortened)."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):  # non-string keys in a nested map
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    kind: str
    namespace: str
    name: str
    field: str
    message: str
    severity: str = ERROR  # "error" | "warning"

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        # A cluster-scoped object has namespace "" and prints as "Kind name".
        who = f"{self.namespace}/{self.name}" if self.namespace else self.name
        prefix = "warning: " if self.severity == WARNING else ""
        return f"{self.file}:{self.line}: {self.kind} {who}: {self.field}: {prefix}{self.message}"
