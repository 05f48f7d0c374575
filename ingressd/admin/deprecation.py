"""The deprecation Warning of a deprecated served version, as kube-apiserver adds it to every
request on a custom resource's deprecated version (apiextensions-apiserver's crdHandler: reads,
writes, watches, subresources, errors included): `Warning: 299 - "<text>"`, first among the
response's warnings, the text the registry's (ingressd.kinds.KindInfo.deprecation_warning: the
CRD's deprecationWarning or "<group>/<version> <Kind> is deprecated[; use <group>/<newer> <Kind>]").

Added when the response is prepared (aiohttp's on_response_prepare), so streamed answers (watch)
carry it too; discovery documents do not, as upstream.
"""

from __future__ import annotations

from aiohttp import web

from ingressd.admin.fieldvalidation import warning_text
from ingressd.admin.resources import find_resource

WARNING_HEADER = "Warning"


def add_warnings(app: web.Application) -> None:
    app.on_response_prepare.append(_add_deprecation_warning)


def deprecation_warning(group: str, version: str, plural: str) -> str | None:
    """The warning of a request to /apis/{group}/{version}/.../{plural}[/...], None if that
    version is not deprecated (or not served)."""
    resource = find_resource(group, version, plural)
    if resource is None or resource.info is None:
        return None
    return resource.info.deprecation_warning(version)


async def _add_deprecation_warning(request: web.Request, response: web.StreamResponse) -> None:
    info = request.match_info
    plural = info.get("resource")
    if plural is None:
        return  # not a resource path (discovery, /openapi, ingressd's own endpoints)
    text = deprecation_warning(info.get("group", ""), info.get("version", ""), plural)
    if text is None:
        return
    header = f'299 - "{warning_text(text)}"'
    others = [value for value in response.headers.getall(WARNING_HEADER, []) if value != header]
    response.headers.popall(WARNING_HEADER, None)
    for value in (header, *others):
        response.headers.add(WARNING_HEADER, value)
