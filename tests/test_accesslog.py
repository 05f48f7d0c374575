"""Access log lines: ingress-nginx's log-format-upstream and the JSON variant."""

import io
import json

from ingressd.accesslog import AccessLog, AccessRecord

REC = AccessRecord("127.0.0.1", "GET /x HTTP/1.1", 200, 12, "", "curl/8", 80, 0.0123, "default-web-80", "",
                   "127.1.0.1:8080", "12", "0.011", "200", "rid", "a.test", "GET", "/x")


def test_nginx_format_fills_dashes():
    out = io.StringIO()
    log = AccessLog(out, clock=lambda: 0.0)
    log.log(REC._replace(upstream_addr="", upstream_response_length="", upstream_response_time="",
                         upstream_status="", upstream_name=""))
    log.flush()
    line = out.getvalue().rstrip("\n")
    assert line.endswith('"GET /x HTTP/1.1" 200 12 "-" "curl/8" 80 0.012 [] [] - - - - rid')


def test_json_format_has_the_same_fields():
    out = io.StringIO()
    log = AccessLog(out, fmt="json", clock=lambda: 0.0)
    log.log(REC)
    log.flush()
    entry = json.loads(out.getvalue())
    assert entry["status"] == 200
    assert entry["proxy_upstream_name"] == "default-web-80"
    assert entry["upstream_addr"] == "127.1.0.1:8080"
    assert entry["req_id"] == "rid"
    assert entry["request_time"] == 0.012
