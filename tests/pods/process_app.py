"""A user's app for the process-container tests: an HTTP server on $POD_IP:$PORT.

GET / answers JSON with its argv, cwd and environment. Knobs (env): APP_EXIT_CODE exits at once
with that code; APP_IGNORE_TERM ignores SIGTERM; APP_CHILD_PID_FILE starts a `sleep` child in the
same process group and writes its pid there; APP_DAEMON_PID_FILE daemonizes a `sleep` grandchild
(double fork + setsid: another session, re-parented, SIGTERM ignored) and writes its pid there.
"""

import json
import os
import signal
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

print(f"starting {os.environ.get('POD_NAME')} argv={sys.argv[1:]}", flush=True)
print("to stderr", file=sys.stderr, flush=True)
if "APP_EXIT_CODE" in os.environ:
    sys.exit(int(os.environ["APP_EXIT_CODE"]))
if os.environ.get("APP_IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.environ.get("APP_CHILD_PID_FILE"):
    child = subprocess.Popen(["sleep", "300"])
    with open(os.environ["APP_CHILD_PID_FILE"], "w") as f:
        f.write(str(child.pid))

if os.environ.get("APP_DAEMON_PID_FILE"):
    path = os.environ["APP_DAEMON_PID_FILE"]
    first = os.fork()
    if first == 0:  # the classic daemon: leave the session, fork again, the middle one exits
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stays ignored across exec
            with open(f"{path}.tmp", "w") as f:
                f.write(str(os.getpid()))
            os.replace(f"{path}.tmp", path)
            os.execvp("sleep", ["sleep", "300"])
        os._exit(0)
    os.waitpid(first, 0)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("request", self.path, flush=True)


HTTPServer((os.environ["POD_IP"], int(os.environ["PORT"])), Handler).serve_forever()
