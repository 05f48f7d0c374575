import pytest

from ingressd.routing.endpoints import build_endpoint_index
from ingressd.routing.routes_view import CanaryView, RouteRow, describe_route, route_changes, route_documents, route_rows
from ingressd.routing.table import build_route_table
from ingressd.routing.tls import TlsTable, build_tls_table

from .builders import backend, endpoint_slice, http_path, ingress, rule, service, service_port, slice_endpoint

WEB = service("web", service_port(80, name="http", target_port=8080))
WEB_SLICE = endpoint_slice("web", [{"name": "http", "port": 8080}], [
    slice_endpoint("10.0.0.1", pod="web-1"), slice_endpoint("10.0.0.2", pod="web-2"),
    slice_endpoint("10.0.0.3", ready=False, pod="web-3"),  # counted in total only
    slice_endpoint("10.0.0.4", ready=False, terminating=True, pod="web-4"),  # in neither
])
CANARY = service("web-v2", service_port(80, target_port=8080))
CANARY_SLICE = endpoint_slice("web-v2", [{"port": 8080}], [slice_endpoint("10.0.1.1")])


def rows_of(ingresses, services=(WEB, CANARY), slices=(WEB_SLICE, CANARY_SLICE), tls_hosts=()):
    table = build_route_table(list(ingresses))
    ready = build_endpoint_index(list(services), list(slices), [])
    every = build_endpoint_index(list(services), list(slices), [], not_ready=True)
    return route_rows(table, ready, TlsTable(tls_hosts=frozenset(tls_hosts)), every)


def summary(rows):
    return [(r.host, r.path, r.path_type, r.ingress, r.service, r.port, r.ready, r.total, r.tls,
             r.canary and (r.canary.kind, r.canary.weight, r.canary.service)) for r in rows]


def test_rows_are_ordered_by_host_then_as_nginx_orders_locations_with_the_catch_all_last():
    rows = rows_of([
        ingress("b", rule("b.test", http_path("/", service="web"), http_path("/long/path", "Exact", "web"),
                          http_path("/x", "Prefix", "web"))),
        ingress("a", rule("a.test", http_path("/", service="web"))),
        ingress("any", rule(None, http_path("/h", service="nope"))),
    ])
    assert [(r.host, r.path) for r in rows] == [
        ("a.test", "/"), ("b.test", "/long/path"), ("b.test", "/x"), ("b.test", "/"), ("", "/h")]


@pytest.mark.parametrize("name, ingresses, tls_hosts, expected", [
    ("ready out of total, not-ready counted, terminating not",
     [ingress("web", rule("demo.test", http_path("/", service="web", port=80)))], (),
     [("demo.test", "/", "Prefix", "default/web", "web", 80, 2, 3, False, None)]),
    ("a port by name resolves like the proxy does",
     [ingress("web", rule("demo.test", http_path("/", service="web", port="http")))], (),
     [("demo.test", "/", "Prefix", "default/web", "web", "http", 2, 3, False, None)]),
    ("a missing Service has 0/0",
     [ingress("web", rule("demo.test", http_path("/", service="gone")))], (),
     [("demo.test", "/", "Prefix", "default/web", "gone", 80, 0, 0, False, None)]),
    ("a TLS host, and a wildcard TLS host",
     [ingress("web", rule("demo.test", http_path("/", service="web")), rule("a.wild.test", http_path("/", service="web")))],
     ("demo.test", "*.wild.test"),
     [("a.wild.test", "/", "Prefix", "default/web", "web", 80, 2, 3, True, None),
      ("demo.test", "/", "Prefix", "default/web", "web", 80, 2, 3, True, None)]),
    ("a host's defaultBackend is its / Prefix fallback row",
     [ingress("web", rule("demo.test", http_path("/api", "Exact", "web")), default_backend=backend("web-v2"))], (),
     [("demo.test", "/api", "Exact", "default/web", "web", 80, 2, 3, False, None),
      ("demo.test", "/", "Prefix", "default/web", "web-v2", 80, 1, 1, False, None)]),
    ("a rule-less defaultBackend is the catch-all row, never TLS",
     [ingress("fallback", default_backend=backend("web"))], ("demo.test",),
     [("", "/", "Prefix", "default/fallback", "web", 80, 2, 3, False, None)]),
    ("canary by header, cookie and weight",
     [ingress("web", rule("demo.test", http_path("/", service="web"))),
      ingress("can", rule("demo.test", http_path("/", service="web-v2")), created="2024-01-02T00:00:00Z",
              annotations={"canary": "true", "canary-weight": "10", "canary-by-header": "X-Canary",
                           "canary-by-cookie": "canary"})], (),
     [("demo.test", "/", "Prefix", "default/web", "web", 80, 2, 3, False, ("header+cookie+weight", 10, "web-v2"))]),
    ("canary by weight only; a canary never makes a row of its own",
     [ingress("web", rule("demo.test", http_path("/", service="web"))),
      ingress("can", rule("demo.test", http_path("/", service="web-v2"), http_path("/other", service="web-v2")),
              created="2024-01-02T00:00:00Z", annotations={"canary": "true", "canary-weight": "30"})], (),
     [("demo.test", "/", "Prefix", "default/web", "web", 80, 2, 3, False, ("weight", 30, "web-v2"))]),
    ("canary by header alone, weight 0",
     [ingress("web", rule("demo.test", http_path("/", service="web"))),
      ingress("can", rule("demo.test", http_path("/", service="web-v2")), created="2024-01-02T00:00:00Z",
              annotations={"canary": "true", "canary-by-header": "X-Canary"})], (),
     [("demo.test", "/", "Prefix", "default/web", "web", 80, 2, 3, False, ("header", 0, "web-v2"))]),
])
def test_route_rows(name, ingresses, tls_hosts, expected):
    assert summary(rows_of(ingresses, tls_hosts=tls_hosts)) == expected


def test_without_a_total_index_total_is_ready():
    table = build_route_table([ingress("web", rule("demo.test", http_path("/", service="web")))])
    rows = route_rows(table, build_endpoint_index([WEB], [WEB_SLICE], []), TlsTable())
    assert (rows[0].ready, rows[0].total) == (2, 2)


def test_tls_from_an_ingress_spec_tls_without_its_secret():
    ing = ingress("web", rule("demo.test", http_path("/", service="web")))
    ing["spec"]["tls"] = [{"hosts": ["demo.test"], "secretName": "missing"}]
    rows = route_rows(build_route_table([ing]), build_endpoint_index([WEB], [WEB_SLICE], []), build_tls_table([ing], []))
    assert rows[0].tls is True


def test_documents_have_stable_keys():
    rows = rows_of([ingress("web", rule("demo.test", http_path("/", service="web"))),
                    ingress("can", rule("demo.test", http_path("/", service="web-v2")), created="2024-01-02T00:00:00Z",
                            annotations={"canary": "true", "canary-weight": "10"})])
    assert route_documents(rows) == [{
        "host": "demo.test", "path": "/", "pathType": "Prefix", "ingress": "default/web", "service": "web", "port": 80,
        "canary": {"kind": "weight", "weight": 10, "weightTotal": 100, "ingress": "default/can", "service": "web-v2",
                   "port": 80, "ready": 1, "total": 1, "header": None, "cookie": None},
        "ready": 2, "total": 3, "tls": False,
    }]


# --- the reload diff -----------------------------------------------------------------------------


def row(host="demo.test", path="/", path_type="Prefix", service="web", port=80, ready=2, total=2, canary=None,
        ingress_name="default/web", tls=False):
    return RouteRow(host, path, path_type, ingress_name, "default", service, port, canary, ready, total, tls)


CAN = CanaryView("header+weight", 10, 100, "default/can", "web-v2", 80, 1, 1, "X-Canary")


@pytest.mark.parametrize("name, old, new, expected", [
    ("nothing", (), (), []),
    ("start: everything is added, with endpoint counts",
     (), (row(), row("", service="fallback", ready=0, total=1)),
     ["+ demo.test/ Prefix → default/web:80 (2/2 ready)", "+ */ Prefix → default/fallback:80 (0/1 ready)"]),
    ("endpoint counts alone are no change", (row(ready=0, total=2),), (row(ready=2, total=2),), []),
    ("canary endpoint counts alone are no change",
     (row(canary=CAN),), (row(canary=CanaryView("header+weight", 10, 100, "default/can", "web-v2", 80, 0, 3, "X-Canary")),),
     []),
    ("removed: no counts", (row(), row(path="/api", path_type="Exact")), (row(),),
     ["− demo.test/api Exact → default/web:80"]),
    ("same path, other pathType: one removed, one added",
     (row(path_type="Prefix"),), (row(path_type="ImplementationSpecific"),),
     ["− demo.test/ Prefix → default/web:80", "+ demo.test/ ImplementationSpecific → default/web:80 (2/2 ready)"]),
    ("backend changed", (row(),), (row(service="web2", port=8080, ready=1, total=1),),
     ["~ demo.test/ Prefix → default/web2:8080 (1/1 ready) (backend was default/web:80)"]),
    ("canary attached", (row(),), (row(canary=CAN),),
     ["~ demo.test/ Prefix → default/web:80 (2/2 ready), canary default/web-v2:80 (1/1 ready) by header+weight 10/100"
      " (canary was none)"]),
    ("canary weight changed", (row(canary=CAN),), (row(canary=CanaryView("weight", 50, 100, "default/can", "web-v2", 80, 1, 1)),),
     ["~ demo.test/ Prefix → default/web:80 (2/2 ready), canary default/web-v2:80 (1/1 ready) by weight 50/100"
      " (canary was default/web-v2:80 by header+weight 10/100)"]),
    ("canary removed", (row(canary=CAN),), (row(),),
     ["~ demo.test/ Prefix → default/web:80 (2/2 ready) (canary was default/web-v2:80 by header+weight 10/100)"]),
    ("TLS and owner changed", (row(),), (row(tls=True, ingress_name="default/other"),),
     ["~ demo.test/ Prefix → default/web:80 (2/2 ready), TLS (Ingress was default/web; TLS was off)"]),
    ("a resource backend", (), (row(service=None, port=None, ready=0, total=0),),
     ["+ demo.test/ Prefix → default/web (not a Service backend: 503)"]),
])
def test_route_changes(name, old, new, expected):
    assert route_changes(old, new) == expected


def test_describe_route_of_a_built_table():
    rows = rows_of([ingress("web", rule("demo.test", http_path("/", service="web")))], tls_hosts=("demo.test",))
    assert describe_route(rows[0]) == "demo.test/ Prefix → default/web:80 (2/3 ready), TLS"


def test_diff_of_two_built_tables_for_an_edited_ingress():
    before = rows_of([ingress("web", rule("demo.test", http_path("/", service="web"), http_path("/old", service="web")))])
    after = rows_of([ingress("web", rule("demo.test", http_path("/", service="web-v2"), http_path("/new", service="web")))])
    assert route_changes(before, after) == [
        "− demo.test/old Prefix → default/web:80",
        "+ demo.test/new Prefix → default/web:80 (2/3 ready)",
        "~ demo.test/ Prefix → default/web-v2:80 (1/1 ready) (backend was default/web:80)",
    ]
