"""Authentication of the admin API, and the reviews clients ask about themselves.

`require_token` refuses every request without `Authorization: Bearer <the instance's token>` with
kube-apiserver's 401 Status, except the public paths (ingressd.apimachinery.access.PUBLIC_PATHS).
The token is the app's TOKEN_KEY; None turns authentication off (unit tests of other handlers).
`add_routes` serves SelfSubjectAccessReview, SelfSubjectRulesReview and SelfSubjectReview
(ingressd.apimachinery.reviews); register it before the generic resource routes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ingressd.admin.http import (
    json_response,
    method_not_allowed,
    read_json_body,
    status_response,
)
from ingressd.apimachinery.access import (
    bearer_token,
    is_public_path,
    token_matches,
    unauthorized_status,
)
from ingressd.apimachinery.protobuf import ProtobufError, decode_object
from ingressd.apimachinery.reviews import (
    AUTHENTICATION,
    AUTHORIZATION,
    ReviewError,
    self_subject_access_review,
    self_subject_review,
    self_subject_rules_review,
)

__all__ = ["TOKEN_KEY", "add_routes", "require_token"]

TOKEN_KEY: web.AppKey[str | None] = web.AppKey("admin_token", object)
PROTOBUF = "application/vnd.kubernetes.protobuf"


@web.middleware
async def require_token(request: web.Request, handler) -> web.StreamResponse:
    """401 Unauthorized, as kube-apiserver answers a request it cannot authenticate."""
    expected = request.app.get(TOKEN_KEY)
    if expected is None or is_public_path(request.path):
        return await handler(request)
    if token_matches(bearer_token(request.headers.get("Authorization")), expected):
        return await handler(request)
    return json_response(unauthorized_status(), status=401)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_REVIEWS = {
    f"/apis/{AUTHORIZATION}/v1/selfsubjectaccessreviews": self_subject_access_review,
    f"/apis/{AUTHORIZATION}/v1/selfsubjectrulesreviews": self_subject_rules_review,
    f"/apis/{AUTHENTICATION}/v1/selfsubjectreviews": lambda body: self_subject_review(body, _now()),
}


def add_routes(app: web.Application) -> None:
    for path in _REVIEWS:
        app.router.add_route("*", path, _review)


async def _review(request: web.Request) -> web.Response:
    if request.method != "POST":
        return method_not_allowed(("POST",))
    if request.content_type == PROTOBUF:  # kubectl's typed clients send their reviews so
        try:
            body = decode_object(await request.read())
        except ProtobufError as exc:
            return status_response(400, "BadRequest", f"the request body is not valid protobuf: {exc}")
    else:
        body, error = await read_json_body(request)
        if error is not None:
            return error
    try:
        answer = _REVIEWS[request.path](body)
    except ReviewError as exc:
        return status_response(exc.code, exc.reason, exc.message, exc.details)
    # Nothing is stored, so dryRun changes nothing; the reviews are created (201), as upstream answers.
    return json_response(answer, status=201)
