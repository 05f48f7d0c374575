"""Client.watch (get -w): a stream that ends unasked-for or carries an ERROR event is an error."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ingressd.kubectl import Client, CLIError

ADDED = {"type": "ADDED", "object": {"kind": "Pod", "metadata": {"name": "web-0"}}}
ERROR = {"type": "ERROR", "object": {"kind": "Status", "status": "Failure", "reason": "Expired", "code": 410,
                                     "message": "too old resource version: 1 (5)"}}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        events = [ADDED, ERROR] if self.path.startswith("/error") else [ADDED]
        body = b"".join(json.dumps(e).encode() + b"\n" for e in events)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_an_error_event_ends_the_watch_with_its_status(server):
    events = Client(server).watch("/error")
    assert next(events) == ADDED
    with pytest.raises(CLIError, match=r"^Error from server \(Expired\): too old resource version: 1 \(5\)$"):
        next(events)


def test_a_stream_that_ends_unasked_for_says_the_server_went_away(server):
    events = Client(server).watch("/plain")
    assert next(events) == ADDED
    with pytest.raises(CLIError, match=r"ended the watch \(the server stopped\?\); is `ingressd run` still running\?"):
        next(events)


def test_a_stream_that_ends_after_the_timeout_asked_for_is_fine(server):
    assert list(Client(server).watch("/plain", {"timeoutSeconds": "1"})) == [ADDED]
