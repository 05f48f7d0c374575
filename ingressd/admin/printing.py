"""How a resource read answers: the object (list, watch event) as JSON, or the server-side Table
kubectl asks for (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), negotiated from the
request as kube-apiserver does. The printers themselves are the pure ingressd.apimachinery.tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web

from ingressd.admin.http import render_object, status_response
from ingressd.admin.resources import APIResource
from ingressd.apimachinery.negotiation import NotAcceptable, negotiate
from ingressd.apimachinery.tables import TableOptionsError, check_include_object, table


@dataclass
class ReadView:
    """One read request's answer shape. For a watch, the first Table carries the column
    definitions and later ones leave them null, as kube-apiserver's watch encoder does."""

    resource: APIResource
    table_version: str | None = None
    include_object: str = "Metadata"
    now: Callable[[], float] = time.time
    _headers_sent: bool = field(default=False, repr=False)

    @property
    def is_table(self) -> bool:
        return self.table_version is not None

    def _table(self, objects: Iterable[dict], resource_version: str | None, headers: bool = True) -> dict:
        return table(self.resource.kind, objects, self.now(), include_object=self.include_object,
                     table_version=self.table_version or "v1", resource_version=resource_version,
                     headers=headers, render=lambda obj: render_object(self.resource, obj))

    def list_table(self, objects: list[dict], resource_version: str) -> dict:
        return self._table(objects, resource_version)

    def object_body(self, obj: dict) -> dict:
        if not self.is_table:
            return render_object(self.resource, obj)
        return self._table([obj], (obj.get("metadata") or {}).get("resourceVersion"))

    def event_object(self, obj: dict) -> dict:
        """A watch event's object: the object, or a one-row Table."""
        if not self.is_table:
            return render_object(self.resource, obj)
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
    header names nothing ingressd serves, 400 for an unknown `includeObject`."""
    try:
        choice = negotiate(request.headers.get("Accept"))
    except NotAcceptable as e:
        return None, status_response(406, "NotAcceptable", str(e))
    if not choice.is_table:
        return ReadView(resource), None
    try:
        include = check_include_object(request.query.get("includeObject"))
    except TableOptionsError as e:
        return None, status_response(400, "BadRequest", str(e))
    return ReadView(resource, choice.table_version, include), None
