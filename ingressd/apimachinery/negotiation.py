"""Accept-header negotiation for resource reads, as kube-apiserver's (apiserver/pkg/endpoints/
handlers/negotiation): the clauses in order of preference (q, then specificity, then as written),
the first one ingressd can serve wins. ingressd serves JSON only, as the object itself or
converted (`;as=Table|PartialObjectMetadata|PartialObjectMetadataList;g=meta.k8s.io;v=v1|v1beta1`:
the server-side Table kubectl prints, or the metadata alone as metadata informers ask); a clause
asking for any other conversion or another media type (YAML, protobuf) is skipped, and when none
is left the answer is 406 NotAcceptable.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingressd.apimachinery.tables import TABLE_GROUP, TABLE_VERSIONS

SERVED_MEDIA_TYPES = ("application/json",)


CONVERSIONS = ("Table", "PartialObjectMetadata", "PartialObjectMetadataList")


@dataclass(frozen=True)
class MediaChoice:
    media_type: str = "application/json"
    convert: str | None = None  # one of CONVERSIONS, None for the object itself
    version: str | None = None  # the meta.k8s.io version of the conversion: "v1" or "v1beta1"

    @property
    def is_table(self) -> bool:
        return self.convert == "Table"

    @property
    def table_version(self) -> str | None:
        return self.version if self.is_table else None


class NotAcceptable(ValueError):
    def __init__(self) -> None:
        super().__init__(f"only the following media types are accepted: {', '.join(SERVED_MEDIA_TYPES)}")


def _clauses(accept: str) -> list[tuple[float, int, int, str, str, dict[str, str]]]:
    found = []
    for position, clause in enumerate(accept.split(",")):
        parts = [p.strip() for p in clause.split(";")]
        media = parts[0].lower()
        if not media:
            continue
        kind, _, subtype = media.partition("/")
        params: dict[str, str] = {}
        q = 1.0
        for param in parts[1:]:
            key, _, value = param.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            elif key:
                params[key] = value
        specificity = 0 if kind == "*" else 1 if subtype == "*" else 2
        found.append((q, specificity, position, kind, subtype or "*", params))
    found.sort(key=lambda c: (-c[0], -c[1], c[2]))
    return found


def negotiate(accept: str | None, *, tables: bool = True) -> MediaChoice:
    """What to answer a read whose Accept header is `accept`. `tables=False` for a resource that
    has no Table conversion. Raises NotAcceptable when no clause can be served."""
    if accept is None or not accept.strip():
        return MediaChoice()
    for q, _, _, kind, subtype, params in _clauses(accept):
        if q <= 0:
            continue
        if kind not in ("*", "application") or subtype not in ("*", "json"):
            continue
        convert = params.get("as")
        if convert is None:
            return MediaChoice()
        if (convert in CONVERSIONS and (tables or convert != "Table") and params.get("g") == TABLE_GROUP
                and params.get("v") in TABLE_VERSIONS):
            return MediaChoice(convert=convert, version=params["v"])
    raise NotAcceptable()


def internal_type(group: str, kind: str, *, custom: bool = False, is_list: bool = False) -> str:
    """How kube-apiserver names the object it converts in a NotAcceptable message (a Go type:
    `*core.PodList`, `*apps.Deployment`; a custom resource's is unstructured)."""
    if custom:
        return "*unstructured.UnstructuredList" if is_list else "*unstructured.Unstructured"
    package = group.split(".")[0] if group else "core"
    return f"*{package}.{kind}{'List' if is_list else ''}"


def conversion_mismatch(choice: MediaChoice, *, is_list: bool, type_name: str) -> str | None:
    """kube-apiserver's 406 message when the PartialObjectMetadata conversion asked for does not fit
    what is read (one object, or a list); None when it fits."""
    if choice.convert == "PartialObjectMetadata" and is_list:
        return f"you requested PartialObjectMetadata, but the requested object is a list ({type_name})"
    if choice.convert == "PartialObjectMetadataList" and not is_list:
        return f"you requested PartialObjectMetadataList, but the requested object is not a list ({type_name})"
    return None
