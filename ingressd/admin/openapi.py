"""`/openapi/v2`, `/openapi/v3` and `/openapi/v3/{api/v1|apis/GROUP/VERSION}` on the admin port, as
kube-apiserver (kube-openapi's handlers) serves them: v2 as JSON or as gnostic protobuf (what
client-go's OpenAPISchema() asks for), v3 as JSON (a protobuf-only Accept is 406), an
ETag of the document's hash with If-None-Match → 304, and for v3 documents the `?hash=` query:
the current hash is cached `public, immutable` (Expires a year ahead), another hash redirects
(301) to the current one.

The documents come from ingressd.apimachinery.openapi (the upstream 1.32 schema of the served kinds).
"""

from __future__ import annotations

import time
from email.utils import formatdate

from aiohttp import web

from ingressd.admin.http import json_response, path_not_found, status_response
from ingressd.apimachinery import openapi
from ingressd.apimachinery.version import KUBERNETES_GIT_VERSION

_YEAR = 365 * 24 * 3600


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/openapi/v2", _v2)
    r.add_get("/openapi/v3", _v3_index)
    r.add_get("/openapi/v3/", _v3_index)
    r.add_get("/openapi/v3/{path:.+}", _v3)


def _not_acceptable() -> web.Response:
    return status_response(406, "NotAcceptable",
                           "only the following media types are accepted: application/json")


def _document(request: web.Request, served: openapi.Served, cache_control: str | None = None,
              content_type: str = "application/json") -> web.Response:
    headers = {"ETag": served.etag, "Vary": "Accept", "X-Varied-Accept": request.headers.get("Accept", "")}
    if cache_control:
        headers["Cache-Control"] = cache_control
    if cache_control:
        headers["Expires"] = formatdate(time.time() + _YEAR, usegmt=True)
    match = request.headers.get("If-None-Match")
    if match and served.etag in [tag.strip() for tag in match.split(",")]:
        return web.Response(status=304, headers=headers)
    return web.Response(body=served.body, headers={**headers, "Content-Type": content_type})


async def _v2(request: web.Request) -> web.Response:
    media = openapi.v2_media(request.headers.get("Accept"))
    if media is None:
        return _not_acceptable()
    if media == openapi.V2_PROTOBUF:
        # kube-openapi answers protobuf as application/octet-stream (the @ of the media type is not
        # a MIME token: client-go could not parse it back)
        return _document(request, openapi.v2_protobuf(KUBERNETES_GIT_VERSION), content_type="application/octet-stream")
    return _document(request, openapi.v2(KUBERNETES_GIT_VERSION))


async def _v3_index(request: web.Request) -> web.Response:
    if not openapi.accepts_json(request.headers.get("Accept")):
        return _not_acceptable()
    return json_response(openapi.v3_index(KUBERNETES_GIT_VERSION))


async def _v3(request: web.Request) -> web.Response:
    path = request.match_info["path"].strip("/")
    try:
        served = openapi.v3(path, KUBERNETES_GIT_VERSION)
    except KeyError:
        return path_not_found()
    if not openapi.accepts_json(request.headers.get("Accept")):
        return _not_acceptable()
    wanted = request.query.get("hash")
    if not wanted:
        return _document(request, served)
    if wanted != served.hash:
        raise web.HTTPMovedPermanently(f"/openapi/v3/{path}?hash={served.hash}")
    return _document(request, served, "public, immutable")
