"""`fieldValidation` on API writes, as kube-apiserver 1.32 decodes a request body with the schema
(ingressd.apimachinery.schema):

- a wrong JSON type or a quantity that does not parse: 400 BadRequest whatever the directive
  (`Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal ...`);
- unknown fields, `Strict`: 400 BadRequest listing every one (`... strict decoding error: unknown
  field "spec.replica"`); `Warn` (the default when the parameter is absent): dropped, one
  `Warning: unknown field "spec.replica"` each; `Ignore`: dropped silently.

ingressd adds a "did you mean" for each unknown field as a Warning of its own (kubectl prints
Warnings even when the request fails), so the Status message stays the API server's.

`admit` is the one hook admin/writes.py calls, on the object about to be stored.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from aiohttp import web

from ingressd.admin.http import status_response
from ingressd.apimachinery import schema

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"
DEFAULT = WARN  # kube-apiserver's when the request names none


def admit(obj: dict, field_validation: str | None, warnings: list[str],
          current: dict | None = None, patch: bool = False) -> web.Response | None:
    """Check `obj` (changed in place: unknown fields dropped unless Strict fails), add Warnings to
    `warnings`; the error to answer, or None. Unknown fields the stored `current` object already
    has (written by ingressd itself) are not the request's and are left alone.

    `patch`: `obj` is the patched object of a PATCH, whose errors kube-apiserver words as its
    patchers do: Strict is 400 `strict decoding error: ...` without the "cannot be handled"
    prefix, and a value that does not decode is 422 Invalid on the field `patch`."""
    directive = field_validation or DEFAULT
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    version = api_version.rsplit("/", 1)[-1]
    errors = schema.check(obj)
    if current is not None and errors:
        old = {e.path for e in schema.unknown_fields(schema.check(current, api_version, kind))}
        errors = [e for e in errors if not (e.reason == schema.UNKNOWN_FIELD and e.path in old)]
    if not errors:
        return None
    broken = schema.decode_errors(errors)
    if broken and patch:
        return _invalid_patch(obj, api_version, kind, broken[0])
    if broken:
        return status_response(400, "BadRequest", schema.decode_error_message(kind, version, broken[0]))
    unknown = schema.unknown_fields(errors)
    hints = [f"{e.strict_message}: did you mean \"{e.suggestion}\"?" for e in unknown if e.suggestion]
    if directive == STRICT:
        message = schema.strict_decoding_message(kind, version, unknown)
        if patch:
            message = message[message.index("strict decoding error: "):]
        response = status_response(400, "BadRequest", message)
        for hint in hints:
            response.headers.add("Warning", f'299 - "{warning_text(hint)}"')
        return response
    if directive == WARN:
        warnings.extend(e.strict_message for e in unknown)
        warnings.extend(hints)
    schema.drop_fields(obj, [e.path for e in unknown])
    return None


def _invalid_patch(obj: dict, api_version: str, kind: str, error: schema.FieldError) -> web.Response:
    """The patchers' NewInvalid(kind, "", patch: Invalid value: <patched JSON>: <decode error>)."""
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    patched = json.dumps(json.dumps(obj, separators=(",", ":"), sort_keys=True))
    message = f"Invalid value: {patched}: {error.decode_message}"
    qualified = f"{kind}.{group}" if group else kind
    details = {**({"group": group} if group else {}), "kind": kind,
               "causes": [{"reason": "FieldValueInvalid", "message": message, "field": "patch"}]}
    return status_response(422, "Invalid", f'{qualified} "" is invalid: patch: {message}', details)


def warning_text(text: str) -> str:
    """`text` inside a Warning header's quoted-string: `"` and `\\` escaped with a backslash as
    the API server writes them, a newline as a space; non-ASCII text percent-encoded (a header
    is Latin-1)."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return text if text.isascii() else quote(text, safe=" !#$%&'()*+,-./:;<=>?@[]^_`{|}~\\\"")
