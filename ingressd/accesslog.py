"""Access log in ingress-nginx's default `log-format-upstream`, or JSON lines.

Lines are queued and written in batches when flushed by the caller's timer (or at once on a
terminal). The proxy builds its nginx-format line itself as bytes with one %-format (`line()`; see
Exchange.record): its inputs are bytes already (the request as read), so nothing is decoded and
encoded again per request, and the result is the text `format()` gives for an AccessRecord. JSON
lines and records from elsewhere go through `log()`.

Values from the request are escaped as nginx escapes variables in a log line (escape=default):
`"`, `\\`, control bytes and bytes from 0x7f up become \\xHH, so no value can end its quoted field
(forging the fields after it) or put raw bytes or terminal escapes into the log. Every line is
therefore ASCII.

`open_access_log` turns `--access-log stdout|stderr|off|FILE` into an AccessLog (None for `off`: the
proxy then builds no record at all).
"""

from __future__ import annotations

import binascii
import json
import os
import sys
import time
from typing import NamedTuple, TextIO

ACCESS_LOG_TARGETS = ("stdout", "stderr", "off")  # any other value is a file path (`./off` for a file called off)

# b"%.3f" % seconds for 0.000 to 9.999 s by whole milliseconds: a list index is a fraction of the cost
# of formatting a float, and the proxy formats two per request ($request_time, $upstream_response_time).
MS3 = [b"%d.%03d" % (ms // 1000, ms % 1000) for ms in range(10000)]
STATUS = [b"%d" % n for n in range(1000)]  # an HTTP status as bytes, by number


def seconds3(seconds: float) -> bytes:
    """Exactly b"%.3f" % seconds. The table is used only when seconds*1000 is clearly inside the
    rounding interval of its nearest integer (never near a tie, where the float product's own
    rounding could matter); the exchange inlines the same test."""
    y = seconds * 1000.0
    ms = int(y + 0.5)
    if -0.49999 < y - ms < 0.49999 and y >= 0.0 and ms < 10000:
        return MS3[ms]
    return b"%.3f" % seconds


# nginx's ngx_http_log_escape: what a byte becomes inside a logged variable's value.
_ESCAPED = [bytes([c]) if 0x20 <= c < 0x7f and c not in b'"\\' else b"\\x%02X" % c for c in range(256)]
_PLAIN = bytes(c for c in range(0x20, 0x7f) if c not in b'"\\')


def escape(value: bytes) -> bytes:
    """`value` as nginx writes a variable into an access-log line (escape=default): `"`, `\\`,
    control bytes and bytes from 0x7f up as \\xHH."""
    if not value.translate(None, _PLAIN):  # nothing left once the plain bytes are gone
        return value
    return b"".join([_ESCAPED[c] for c in value])


def escape_parsed(value: bytes) -> bytes:
    """escape() of a request target or header value as llhttp hands it over. llhttp refuses every
    control byte but tab in those (tests/proxy/test_access_line.py pins it), so ASCII without `"`,
    `\\` and tab needs nothing: three byte searches instead of escape()'s full pass, per request."""
    if value.isascii() and 34 not in value and 92 not in value and 9 not in value:
        return value
    return escape(value)


def escape_text(value: str) -> str:
    """escape() of a value held as text decoded from latin-1 (the request's bytes, one to one)."""
    return escape(value.encode("latin-1", "backslashreplace")).decode("ascii")


_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def basic_user(authorization: bytes | None) -> bytes | None:
    """nginx's $remote_user: the user name in an `Authorization: Basic` header, None when there is
    none. As nginx 1.22 logs it (ngx_http_auth_basic_user): "Basic " in any case, then spaces, then
    base64 up to the first "=" or the end (a byte outside the standard alphabet, or 4n+1 of them:
    none), decoded; the name is what comes before the first colon (no colon, or nothing before
    it: none)."""
    if authorization is None or authorization[:6].lower() != b"basic ":
        return None
    encoded = authorization[6:].lstrip(b" ").partition(b"=")[0]
    if not encoded or len(encoded) % 4 == 1 or not _BASE64.issuperset(encoded):
        return None
    user, colon, _ = binascii.a2b_base64(encoded + b"=" * (-len(encoded) % 4)).partition(b":")
    return user if colon and user else None


class AccessRecord(NamedTuple):
    """One request, as the variables of ingress-nginx's log format."""

    remote_addr: str
    request_line: str
    status: int
    body_bytes_sent: int
    referer: str
    user_agent: str
    request_length: int
    request_time: float
    upstream_name: str
    alternative_upstream_name: str
    upstream_addr: str
    upstream_response_length: str
    upstream_response_time: str
    upstream_status: str
    req_id: str
    host: str
    method: str
    path: str
    remote_user: str = ""  # $remote_user (basic_user), decoded from latin-1; "" without one


class AccessLog:
    """Formats records as nginx does and writes them in batches."""

    def __init__(self, stream: TextIO | None = None, fmt: str = "nginx", clock=time.time,
                 path: str | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.path = path  # the file `stream` was opened from (owned: reopened and closed here), else None
        self.fmt = fmt
        self.json = fmt == "json"  # else ingress-nginx's log-format-upstream, which the proxy formats inline
        self.clock = clock
        self._buffer: list[bytes] = []  # formatted lines (ASCII, no newline) until the next flush
        self._time_second = -1
        self._time_local = ""
        self._time_local_b = b""
        self.on_reopen: list = []  # called after reopen() (ingressd.workers.pool hands workers the new file)
        try:
            self._tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self._tty = False

    def _local_time(self, now: float) -> str:
        second = int(now)
        if second != self._time_second:
            self._set_second(second)
        return self._time_local

    def _set_second(self, second: int) -> None:
        self._time_second = second
        self._time_local = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second))
        self._time_local_b = self._time_local.encode("ascii")

    def time_local(self) -> bytes:
        """nginx's $time_local now (by `clock`), for a line built by the caller."""
        second = int(self.clock())
        if second != self._time_second:
            self._set_second(second)
        return self._time_local_b

    def format(self, r: AccessRecord, now: float | None = None) -> str:
        """One line for one record."""
        return self._format_batch([(self.clock() if now is None else now, r)])[0]

    def _format_batch(self, entries: list[tuple[float, tuple]]) -> list[str]:
        if self.fmt == "json":
            return [self._json(now, AccessRecord(*r)) for now, r in entries]
        local_time = self._local_time
        lines = []
        for now, record in entries:
            (remote_addr, request_line, status, body_bytes_sent, referer, user_agent, request_length, request_time,
             upstream_name, alternative_upstream_name, upstream_addr, upstream_response_length,
             upstream_response_time, upstream_status, req_id, _, _, _, remote_user) = AccessRecord(*record)
            lines.append(
                f'{remote_addr} - {escape_text(remote_user) or "-"} [{local_time(now)}] '
                f'"{escape_text(request_line)}" {status} '
                f'{body_bytes_sent} "{escape_text(referer) or "-"}" "{escape_text(user_agent) or "-"}" '
                f"{request_length} {request_time:.3f} [{upstream_name}] [{alternative_upstream_name}] "
                f"{upstream_addr or '-'} {upstream_response_length or '-'} "
                f"{upstream_response_time or '-'} {upstream_status or '-'} {escape_text(req_id)}"
            )
        return lines

    @staticmethod
    def _json(now: float, r: AccessRecord) -> str:
        return json.dumps(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)),
                "remote_addr": r.remote_addr,
                "remote_user": r.remote_user,
                "request": r.request_line,
                "method": r.method,
                "host": r.host,
                "path": r.path,
                "status": r.status,
                "body_bytes_sent": r.body_bytes_sent,
                "http_referer": r.referer,
                "http_user_agent": r.user_agent,
                "request_length": r.request_length,
                "request_time": round(r.request_time, 3),
                "proxy_upstream_name": r.upstream_name,
                "proxy_alternative_upstream_name": r.alternative_upstream_name,
                "upstream_addr": r.upstream_addr,
                "upstream_response_length": r.upstream_response_length,
                "upstream_response_time": r.upstream_response_time,
                "upstream_status": r.upstream_status,
                "req_id": r.req_id,
            },
            separators=(",", ":"),
        )

    def log(self, record: tuple) -> None:
        """Queue one record (an AccessRecord or a plain tuple in its field order), formatted now."""
        self.line(self.format(record).encode("ascii", "backslashreplace"))

    def line(self, line: bytes) -> None:
        """Queue one formatted line (ASCII, no newline): what `format()` gives for the request's record."""
        buffer = self._buffer
        buffer.append(line)
        if self._tty or len(buffer) >= 256:
            self.flush()

    def flush(self) -> None:
        lines = self._buffer
        if not lines:
            return
        self._buffer = []
        data = b"\n".join(lines) + b"\n"
        stream = self.stream
        try:
            raw = getattr(stream, "buffer", None)
            if raw is not None:  # a text file (stdout, --access-log FILE): its bytes, after its text
                stream.flush()
                raw.write(data)
                raw.flush()
            elif hasattr(stream, "write_bytes"):  # a worker's (ingressd.workers.worker.ReportStream)
                stream.write_bytes(data)
            else:
                stream.write(data.decode("ascii", "backslashreplace"))
                stream.flush()
        except (OSError, ValueError):
            pass  # a closed stdout must not take the proxy down

    def reopen(self) -> None:
        """Write what is queued, then append to `path` anew (after logrotate moved the file away).

        The new file is opened first: when that fails (OSError), logging carries on into the old one."""
        if self.path is None:
            return
        stream = _open_append(self.path)
        self.flush()
        old, self.stream = self.stream, stream
        old.close()
        for callback in self.on_reopen:
            callback()

    def close(self) -> None:
        """Write what is queued; close the file when this log opened it."""
        self.flush()
        if self.path is not None:
            self.stream.close()


def _open_append(path: str) -> TextIO:
    return open(path, "a", encoding="utf-8", errors="backslashreplace")


def open_access_log(target: str, fmt: str, stdout: TextIO, stderr: TextIO) -> AccessLog | None:
    """`--access-log`: stdout, stderr, off (None) or a file appended to (created if missing; its
    directory must exist). Raises OSError with a sentence naming the path when the file cannot be
    opened."""
    if target == "off":
        return None
    if target in ("stdout", "stderr"):
        return AccessLog(stdout if target == "stdout" else stderr, fmt)
    try:
        stream = _open_append(target)
    except OSError as exc:
        parent = os.path.dirname(target) or "."
        if isinstance(exc, FileNotFoundError) and not os.path.isdir(parent):
            raise OSError(f"cannot create {target}: directory {parent} does not exist") from None
        raise OSError(f"cannot open {target} for appending: {exc.strerror or exc}") from None
    return AccessLog(stream, fmt, path=target)
