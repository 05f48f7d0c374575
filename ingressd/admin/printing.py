"""How a resource read answers: the object (list, watch event) as JSON, the server-side Table
kubectl asks for (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), or the metadata alone
(`as=PartialObjectMetadata` / `PartialObjectMetadataList`, as metadata informers ask), negotiated
from the request as kube-apiserver does. The printers themselves are the pure
ingressd.apimachinery.tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web

from ingressd.admin.http import render_object, status_response
from ingressd.admin.resources import APIResource
from ingressd.apimachinery.negotiation import NotAcceptable, conversion_mismatch, internal_type, negotiate
from ingressd.apimachinery.tables import (
    TableOptionsError, check_include_object, partial_object_metadata, partial_object_metadata_list, table)
from ingressd.kinds import CUSTOM_RESOURCE_GROUPS as _CRD_GROUPS

# Served as custom resources upstream (a CRD): kube-apiserver converts them as unstructured objects.
CUSTOM_RESOURCE_GROUPS = _CRD_GROUPS  # autoscaling.k8s.io, gateway.networking.k8s.io


@dataclass
class ReadView:
    """One read request's answer shape. For a watch, the first Table carries the column
    definitions and later ones leave them null, as kube-apiserver's watch encoder does."""

    resource: APIResource
    convert: str | None = None  # "Table", "PartialObjectMetadata", "PartialObjectMetadataList"
    version: str = "v1"  # of meta.k8s.io, for a conversion
    include_object: str = "Metadata"
    now: Callable[[], float] = time.time
    _headers_sent: bool = field(default=False, repr=False)

    @property
    def is_table(self) -> bool:
        return self.convert == "Table"

    @property
    def converts(self) -> bool:
        return self.convert is not None

    def _render(self, obj: dict) -> dict:
        return render_object(self.resource, obj)

    def _table(self, objects: Iterable[dict], resource_version: str | None, headers: bool = True) -> dict:
        return table(self.resource.kind, objects, self.now(), include_object=self.include_object,
                     table_version=self.version, resource_version=resource_version,
                     headers=headers, render=self._render)

    def list_body(self, objects: list[dict], resource_version: str) -> dict:
        """A list read's converted answer (call only when `converts`)."""
        if self.is_table:
            return self._table(objects, resource_version)
        return partial_object_metadata_list(objects, self.version, resource_version=resource_version,
                                            render=self._render)

    def object_body(self, obj: dict) -> dict:
        if self.is_table:
            return self._table([obj], (obj.get("metadata") or {}).get("resourceVersion"))
        if self.convert == "PartialObjectMetadata":
            return partial_object_metadata(self._render(obj), self.version)
        return self._render(obj)

    def event_object(self, obj: dict) -> dict:
        """A watch event's object: the object, a one-row Table, or its PartialObjectMetadata.
        (`as=PartialObjectMetadataList` does not fit one object: kube-apiserver's watch then sends
        the object unconverted, and so does this.)"""
        if not self.is_table:
            return self.object_body(obj)
        body = self._table([obj], (obj.get("metadata") or {}).get("resourceVersion"), headers=not self._headers_sent)
        self._headers_sent = True
        return body

    def bookmark_object(self, resource_version: str) -> dict:
        if not self.is_table:
            return {"kind": self.resource.kind, "apiVersion": self.resource.api_version,
                    "metadata": {"resourceVersion": resource_version}}
        body = self._table([], resource_version, headers=not self._headers_sent)
        self._headers_sent = True
        return body


def read_view(request: web.Request, resource: APIResource) -> tuple[ReadView | None, web.Response | None]:
    """The view a GET asks for, or the error to answer instead: 406 NotAcceptable when the Accept
    header names nothing ingressd serves (or metadata of one object for a list, and the reverse),
    400 for an unknown `includeObject`."""
    try:
        choice = negotiate(request.headers.get("Accept"))
    except NotAcceptable as e:
        return None, status_response(406, "NotAcceptable", str(e))
    if choice.convert is None:
        return ReadView(resource), None
    watch = request.query.get("watch", "").lower() in ("true", "1")
    if not watch:
        is_list = request.match_info.get("name") is None
        type_name = internal_type(resource.group, resource.kind, custom=resource.group in CUSTOM_RESOURCE_GROUPS,
                                  is_list=is_list)
        mismatch = conversion_mismatch(choice, is_list=is_list, type_name=type_name)
        if mismatch is not None:
            return None, status_response(406, "NotAcceptable", mismatch)
    include = "Metadata"
    if choice.is_table:
        try:
            include = check_include_object(request.query.get("includeObject"))
        except TableOptionsError as e:
            return None, status_response(400, "BadRequest", str(e))
    return ReadView(resource, choice.convert, choice.version or "v1", include), None
