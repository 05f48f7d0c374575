"""The request, as nginx variables and cookies: what upstream-hash-by, canary-by-* and affinity read.

Pure functions over a request view (ingressd.routing.decide.RequestView); used only on routes that
configure them.
"""

from __future__ import annotations

import re

_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def parse_cookies(header: bytes | None) -> dict[str, str]:
    """`Cookie: a=1; B=2` -> {"a": "1", "b": "2"}: names lowercased, since nginx's $cookie_NAME matches
    them case-insensitively; the first of a repeated name wins."""
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for part in header.decode("latin-1").split(";"):
        name, eq, value = part.strip().partition("=")
        name = name.lower()
        if eq and name and name not in cookies:
            cookies[name] = value.strip().strip('"')
    return cookies


def request_variable(name: str, request) -> str:
    """One nginx variable's value for `request` (a RequestView); "" when unknown or absent, as
    nginx renders it."""
    if name == "remote_addr" or name == "binary_remote_addr":
        return request.client_ip
    target = request.path
    if name == "request_uri":
        return target
    if name == "uri":
        return target.partition("?")[0]
    if name == "args" or name == "query_string":
        return target.partition("?")[2]
    if name == "host":
        return request.host.partition(":")[0].lower()
    if name == "scheme":
        return request.scheme
    if name.startswith("http_"):
        value = request.header(name[5:].replace("_", "-").lower())
        return value if value is not None else ""
    if name.startswith("cookie_"):
        value = request.cookie(name[7:])
        return value if value is not None else ""
    if name.startswith("arg_"):
        wanted = name[4:]
        for pair in target.partition("?")[2].split("&"):
            key, _, value = pair.partition("=")
            if key == wanted:
                return value
        return ""
    return ""


def expand(expression: str, request) -> str:
    """An nginx expression such as "$remote_addr" or "$host$request_uri" for this request."""
    return _VARIABLE.sub(lambda m: request_variable(m.group(1) or m.group(2), request), expression)
