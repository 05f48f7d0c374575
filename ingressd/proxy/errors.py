"""Responses the proxy answers itself (404 default backend, 413, 502, 503, 504, 400 ...)."""

from __future__ import annotations

from http import HTTPStatus

from ingressd.proxy.headers import date_line


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_page(status: int, title: str | None = None) -> bytes:
    """nginx's default error page shape, so scripts that grep for it keep working."""
    text = f"{status} {title or reason(status)}"
    return (
        f"<html>\r\n<head><title>{text}</title></head>\r\n<body>\r\n"
        f"<center><h1>{text}</h1></center>\r\n<hr><center>ingressd</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def simple_response(
    status: int,
    body: bytes | None = None,
    *,
    close: bool = False,
    headers: list[tuple[str, str]] | None = None,
    head_only: bool = False,
    title: str | None = None,
) -> bytes:
    """A complete HTTP/1.1 response with a Content-Length body."""
    if body is None:
        body = error_page(status, title)
    lines = [f"HTTP/1.1 {status} {reason(status)}", date_line()[:-2].decode("ascii"), "Content-Type: text/html",
             f"Content-Length: {len(body)}"]  # the Date as nginx writes on every response
    for name, value in headers or ():
        lines.append(f"{name}: {value}")
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body
