"""The reference's path table (../shared/reference/ingress.md, from the Kubernetes docs), shared by
the pure matcher tests and the real-socket proxy tests."""

# (pathType, rule path, request path, matches), one row per request.
REFERENCE_ROWS = [
    ("Prefix", "/", "/", True),
    ("Prefix", "/", "/anything", True),
    ("Prefix", "/", "/any/thing/", True),
    ("Exact", "/foo", "/foo", True),
    ("Exact", "/foo", "/bar", False),
    ("Exact", "/foo", "/foo/", False),
    ("Exact", "/foo/", "/foo", False),
    ("Prefix", "/foo", "/foo", True),
    ("Prefix", "/foo", "/foo/", True),
    ("Prefix", "/foo/", "/foo", True),
    ("Prefix", "/foo/", "/foo/", True),
    ("Prefix", "/aaa/bb", "/aaa/bbb", False),
    ("Prefix", "/aaa/bbb/", "/aaa/bbb", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbb/", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbb/ccc", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbbxyz", False),
]
