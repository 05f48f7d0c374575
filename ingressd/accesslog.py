"""Access log in ingress-nginx's default `log-format-upstream`, or JSON lines.

Lines are buffered and flushed by the caller's timer (or at once on a terminal), so logging costs
one format and one list append on the hot path.
"""

from __future__ import annotations

import json
import sys
import time
from typing import NamedTuple, TextIO


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


class AccessLog:
    """Formats records as nginx does and writes them in batches."""

    def __init__(self, stream: TextIO | None = None, fmt: str = "nginx", clock=time.time) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.fmt = fmt
        self.clock = clock
        self._buffer: list[str] = []
        self._time_second = -1
        self._time_local = ""
        try:
            self._tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self._tty = False

    def _local_time(self, now: float) -> str:
        second = int(now)
        if second != self._time_second:
            self._time_second = second
            self._time_local = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second))
        return self._time_local

    def format(self, r: AccessRecord) -> str:
        now = self.clock()
        if self.fmt == "json":
            return json.dumps(
                {
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)),
                    "remote_addr": r.remote_addr,
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
        return (
            f'{r.remote_addr} - - [{self._local_time(now)}] "{r.request_line}" {r.status} '
            f'{r.body_bytes_sent} "{r.referer or "-"}" "{r.user_agent or "-"}" {r.request_length} '
            f"{r.request_time:.3f} [{r.upstream_name}] [{r.alternative_upstream_name}] "
            f"{r.upstream_addr or '-'} {r.upstream_response_length or '-'} "
            f"{r.upstream_response_time or '-'} {r.upstream_status or '-'} {r.req_id}"
        )

    def log(self, record: AccessRecord) -> None:
        self._buffer.append(self.format(record))
        if self._tty or len(self._buffer) >= 256:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        lines = self._buffer
        self._buffer = []
        try:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed stdout must not take the proxy down
