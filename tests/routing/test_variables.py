"""nginx variables and cookies, table-style."""

import pytest

from ingressd.routing.decide import Request
from ingressd.routing.variables import expand, parse_cookies

REQ = Request("App.test:8080", "/a/b?x=1&y=2", headers={"X-User": "alice", "user-agent": "curl"},
              client_ip="127.0.0.9", cookies={"sid": "42"})


@pytest.mark.parametrize("expression, value", [
    ("$remote_addr", "127.0.0.9"),
    ("$request_uri", "/a/b?x=1&y=2"),
    ("$uri", "/a/b"),
    ("$args", "x=1&y=2"),
    ("$arg_y", "2"),
    ("$arg_missing", ""),
    ("$host", "app.test"),
    ("$http_x_user", "alice"),
    ("$http_user_agent", "curl"),
    ("$cookie_sid", "42"),
    ("$cookie_SID", "42"),
    ("$host$request_uri", "app.test/a/b?x=1&y=2"),
    ("${remote_addr}-fixed", "127.0.0.9-fixed"),
    ("$unknown", ""),
    ("literal", "literal"),
])
def test_expand(expression, value):
    assert expand(expression, REQ) == value


@pytest.mark.parametrize("header, cookies", [
    (None, {}),
    (b"a=1", {"a": "1"}),
    (b"a=1; b=two ;c=\"q\"", {"a": "1", "b": "two", "c": "q"}),
    (b"a=1; A=2", {"a": "1"}),
    (b"Sid=X", {"sid": "X"}),
    (b"novalue; =x; d=", {"d": ""}),
])
def test_parse_cookies(header, cookies):
    assert parse_cookies(header) == cookies
