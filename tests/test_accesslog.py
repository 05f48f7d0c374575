"""Access log lines: ingress-nginx's log-format-upstream and the JSON variant; --access-log targets."""

import base64
import io
import json
import math
import random

import pytest

from ingressd.accesslog import AccessLog, AccessRecord, basic_user, open_access_log, seconds3
from ingressd.cli import build_parser, main

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


def _b64(text: bytes) -> bytes:
    return base64.b64encode(text)


# What nginx 1.22 logged as $remote_user for each Authorization header (sent to it, one by one).
REMOTE_USER = [
    (b"Basic " + _b64(b"alice:secret"), b"alice"),
    (b"basic " + _b64(b"bob:pw"), b"bob"),
    (b"BASIC    " + _b64(b"carol:x"), b"carol"),
    (b"Basic " + _b64(b"dave:x").rstrip(b"="), b"dave"),
    (b"Basic ZGF2ZTp4ZQ", b"dave"),  # 10 characters: decodes
    (b"Basic ZGF2ZTp4Z", None),  # 9 (4n+1): no
    (b"Basic " + _b64(b"nocolon"), None),
    (b"Basic " + _b64(b":emptyuser"), None),
    (b"Basic !!!notbase64", None),
    (b"Basic -_8=", None),  # the URL-safe alphabet is not base64 here
    (b"Basic ZGF2ZTp4 junk", None),
    (b"Basic " + _b64(b"eve:x") + b" trailing", b"eve"),  # up to the first "="
    (b"Basic YTpi==garbage!!", b"a"),
    (b"Basic ZXZl=Ong", None),
    (b"Basic " + _b64(b"x:y:z"), b"x"),
    (b"Basic " + _b64(b'q"u\\o\xc3\xa9:x'), b'q"u\\o\xc3\xa9'),  # logged escaped: q\x22u\x5Co\xC3\xA9
    (b"Basic", None),
    (b"Basic   ", None),
    (b"Basic\t" + _b64(b"tab:x"), None),
    (b"Bearer abc", None),
    (None, None),
]


@pytest.mark.parametrize(("authorization", "user"), REMOTE_USER)
def test_remote_user_is_the_basic_user_as_nginx_reads_it(authorization, user):
    assert basic_user(authorization) == user


def _near_ties():
    """Values at and within a few ulps of every half millisecond below 10 s, and whole ones."""
    for ms in range(0, 10001):
        for base in (ms / 1000, (ms + 0.5) / 1000):
            value = base
            for _ in range(3):
                yield value
                value = math.nextafter(value, 1.0)
            value = base
            for _ in range(3):
                value = math.nextafter(value, -1.0)
                yield value


def test_seconds3_is_exactly_the_float_format():
    rand = random.Random(14)
    values = [*_near_ties(), *(rand.random() * 12 for _ in range(20000)), *(rand.expovariate(200) for _ in range(20000)),
              0.0, 1e-9, 10.0, 123.4565, 1e6]
    for value in values:
        assert seconds3(value) == b"%.3f" % value == f"{value:.3f}".encode(), value


# ---- --access-log stdout|stderr|off|FILE ----------------------------------------------------------


def test_access_log_targets():
    out, err = io.StringIO(), io.StringIO()
    assert open_access_log("off", "nginx", out, err) is None
    assert open_access_log("stdout", "json", out, err).stream is out
    assert open_access_log("stderr", "nginx", out, err).stream is err
    assert build_parser().parse_args(["run"]).access_log == "stdout"
    assert build_parser().parse_args(["run", "--access-log", "./off"]).access_log == "./off"


def test_access_log_file_is_appended_to_and_reopened(tmp_path):
    path = tmp_path / "access.log"
    path.write_text("earlier\n")
    log = open_access_log(str(path), "nginx", io.StringIO(), io.StringIO())
    log.log(REC)
    log.flush()
    path.rename(tmp_path / "access.log.1")  # as logrotate does, then SIGUSR1
    log.log(REC._replace(req_id="after"))  # queued before the reopen: belongs to the old file
    log.reopen()
    log.log(REC._replace(req_id="new"))
    log.close()
    old = (tmp_path / "access.log.1").read_text().splitlines()
    assert old[0] == "earlier" and old[1].endswith(" rid") and old[2].endswith(" after") and len(old) == 3
    assert [line.rsplit(" ", 1)[1] for line in path.read_text().splitlines()] == ["new"]


def test_access_log_in_a_missing_directory_is_a_startup_error(tmp_path, capsys):
    target = tmp_path / "nowhere" / "access.log"
    status = main(["run", "--access-log", str(target), "--state-dir", str(tmp_path / "state"),
                   "--http-port", "0", "--https-port", "0", "--admin-port", "0"])
    assert status == 2
    err = capsys.readouterr().err
    assert f"--access-log {target}: cannot create {target}: directory {target.parent} does not exist" in err
    assert not target.parent.exists()


def test_access_log_must_not_be_empty(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["run", "--access-log", ""])
    assert exit_.value.code == 2
    assert "--access-log" in capsys.readouterr().err
