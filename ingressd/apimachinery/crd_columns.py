"""A CustomResourceDefinition's additionalPrinterColumns, evaluated as apiextensions-apiserver's
table convertor does (pkg/registry/customresource/tableconvertor): each column's JSONPath against
the object, its FIRST result only; no result is a null cell (kubectl prints <none>); a `string`
column prints the value as client-go's jsonpath prints it (maps and lists as compact JSON); a
`date` column is the human age. Only the JSONPath subset the served CRDs use: fields, `[n]`, `[*]`
and `[?(@.field=="value")]`. Pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

_STEP = re.compile(r"""\.([A-Za-z0-9_-]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_-]+)\s*==\s*(?:"([^"]*)"|'([^']*)')\)\]""")


@dataclass(frozen=True)
class PrinterColumn:
    name: str  # as the CRD spells it ("Programmed"); kubectl upper-cases headers
    type: str  # string, integer, number, boolean, date
    json_path: str
    priority: int = 0
    description: str = ""

    @property
    def column_description(self) -> str:
        return self.description or f"Custom resource definition column (in JSONPath format): {self.json_path}"


def _steps(path: str) -> list[tuple]:
    steps, pos = [], 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            raise ValueError(f"unsupported JSONPath {path!r} at {pos}")
        steps.append(m.groups())
        pos = m.end()
    return steps


def find(obj: object, path: str) -> list:
    """Every value `path` selects in `obj`, in order."""
    values = [obj]
    for field, index, key, dq, sq in _steps(path):
        out = []
        for value in values:
            if field is not None:
                if isinstance(value, dict) and field in value:
                    out.append(value[field])
            elif index is not None:
                if isinstance(value, list):
                    if index == "*":
                        out.extend(value)
                    elif int(index) < len(value):
                        out.append(value[int(index)])
                elif isinstance(value, dict) and index == "*":
                    out.extend(value.values())
            else:
                wanted = dq if dq is not None else sq
                if isinstance(value, list):
                    out.extend(item for item in value if isinstance(item, dict) and item.get(key) == wanted)
        values = out
    return values


def print_value(value: object) -> str:
    """client-go jsonpath PrintResults of one value: maps and lists as compact JSON, else as Go's
    fmt.Fprint prints it."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return str(value)


def cell(obj: dict, column: PrinterColumn, now: float, age: Callable[[str, float], str]) -> object:
    """The column's cell for `obj`; `age(timestamp, now)` formats a `date` column."""
    results = find(obj, column.json_path)
    if not results:
        return None
    value = results[0]
    if column.type == "string":
        return print_value(value)
    if column.type == "date":  # an unparsable string is "<invalid>" (age's business)
        return age(value, now) if isinstance(value, str) else None
    if column.type == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if column.type == "number":
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if column.type == "boolean":
        return value if isinstance(value, bool) else None
    return print_value(value)


# The Gateway API v1.2.1 standard CRDs' additionalPrinterColumns (their storage versions').
GATEWAY_COLUMNS: dict[str, tuple[PrinterColumn, ...]] = {
    "GatewayClass": (
        PrinterColumn("Controller", "string", ".spec.controllerName"),
        PrinterColumn("Accepted", "string", '.status.conditions[?(@.type=="Accepted")].status'),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        PrinterColumn("Description", "string", ".spec.description", priority=1),
    ),
    "Gateway": (
        PrinterColumn("Class", "string", ".spec.gatewayClassName"),
        PrinterColumn("Address", "string", ".status.addresses[*].value"),
        PrinterColumn("Programmed", "string", '.status.conditions[?(@.type=="Programmed")].status'),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    ),
    "HTTPRoute": (
        PrinterColumn("Hostnames", "string", ".spec.hostnames"),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    ),
    "ReferenceGrant": (
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    ),
}
