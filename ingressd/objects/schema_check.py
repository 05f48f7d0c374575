"""The schema pass of `ingressd validate`: every field of a served object checked against the
upstream Kubernetes 1.32 OpenAPI schema (ingressd.apimachinery.schema), as kube-apiserver's
strict decoding would: unknown fields anywhere are errors naming the field path with a "did you
mean", values of the wrong JSON type and quantities that do not parse are errors; a kind nobody
serves that is a typo of a known one (`Servce`) is an error with the kind it probably means.

The hand-written checks (objects/core.py, apps.py, ...) run first; a schema problem at a field
they already reported is not repeated.
"""

from __future__ import annotations

from ingressd.apimachinery import schema
from ingressd.objects.problems import Key
from ingressd.objects.report import Report


def _path(path: tuple) -> tuple:
    return tuple(Key(part) if isinstance(part, schema.MapKey) else part for part in path)


def check_schema(r: Report, start: int) -> None:
    """Add the schema's problems of `r`'s object; `start` is where its problems begin in r.out."""
    reported = {p.field for p in r.out[start:] if p.is_error}
    for error in schema.check(r.manifest.obj):
        if error.field in reported:
            continue
        r.error(_path(error.path), error.message)


def unknown_kind(r: Report, kind: str) -> bool:
    """An error for a kind that is a typo of a known one (True), else nothing (False: the caller
    says the kind is not served)."""
    near = schema.suggest_kind(kind)
    if near is None:
        return False
    api_version = r.manifest.obj.get("apiVersion")
    versions = schema.known_kinds()[near]
    r.error(("kind",), f'no matches for kind "{kind}" in version "{api_version}": '
                       f'did you mean "{near}" ({", ".join(versions)})?')
    return True
