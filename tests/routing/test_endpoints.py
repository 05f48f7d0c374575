import pytest

from ingressd.routing.endpoints import Endpoint, build_endpoint_index
from ingressd.routing.table import BackendRef

from .builders import endpoint_slice, service, service_port, slice_endpoint


def ref(port, service_name="web", namespace="default"):
    return BackendRef(namespace, service_name, port)


def addresses(found):
    return None if found is None else [e.address for e in found]


SINGLE = service("web", service_port(80, target_port=8080), selector={"app": "web"})
SINGLE_SLICE = endpoint_slice(
    "web", [{"port": 8080, "protocol": "TCP"}],
    [slice_endpoint("10.0.0.1", pod="web-1"), slice_endpoint("10.0.0.2", pod="web-2")],
)


def test_port_by_number():
    index = build_endpoint_index([SINGLE], [SINGLE_SLICE], [])
    assert index.resolve(ref(80)) == (Endpoint("10.0.0.1", 8080, "web-1"), Endpoint("10.0.0.2", 8080, "web-2"))


def test_missing_service_or_port_is_none_and_no_endpoints_is_empty():
    index = build_endpoint_index([SINGLE], [], [])
    assert index.resolve(ref(80)) == ()
    assert index.resolve(ref(81)) is None
    assert index.resolve(ref("http")) is None
    assert index.resolve(ref(80, "nope")) is None
    assert index.resolve(ref(80, namespace="other")) is None


MULTI = service(
    "web",
    service_port(80, name="http", target_port="web"),  # named targetPort
    service_port(9090, name="metrics", target_port=9100),
    selector={"app": "web"},
)
MULTI_SLICE = endpoint_slice(
    "web",
    [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9100, "protocol": "TCP"}],
    [slice_endpoint("10.0.0.1")],
)


@pytest.mark.parametrize(
    "port, want",
    [
        (80, ["10.0.0.1:8080"]),  # named targetPort resolved through the slice port of the same name
        ("http", ["10.0.0.1:8080"]),  # by Service port name
        (9090, ["10.0.0.1:9100"]),
        ("metrics", ["10.0.0.1:9100"]),
        (8080, None),  # a targetPort is not a Service port
        ("web", None),
    ],
)
def test_multi_port_service(port, want):
    assert addresses(build_endpoint_index([MULTI], [MULTI_SLICE], []).resolve(ref(port))) == want


def test_numeric_target_port_used_when_no_slice_port_name_matches():
    svc = service("web", service_port(80, name="http", target_port=8080))
    sl = endpoint_slice("web", [{"name": "other", "port": 9999}], [slice_endpoint("10.0.0.1")])
    assert addresses(build_endpoint_index([svc], [sl], []).resolve(ref(80))) == ["10.0.0.1:8080"]


def test_named_target_port_without_matching_slice_port_has_no_endpoints():
    svc = service("web", service_port(80, name="http", target_port="web"))
    sl = endpoint_slice("web", [{"name": "other", "port": 9999}], [slice_endpoint("10.0.0.1")])
    assert build_endpoint_index([svc], [sl], []).resolve(ref(80)) == ()


def test_slice_without_ports_uses_numeric_target_port():
    sl = endpoint_slice("web", [], [slice_endpoint("10.0.0.1")])
    assert addresses(build_endpoint_index([SINGLE], [sl], []).resolve(ref(80))) == ["10.0.0.1:8080"]


def test_target_port_defaults_to_port():
    svc = service("web", service_port(80))
    sl = endpoint_slice("web", [], [slice_endpoint("10.0.0.1")])
    assert addresses(build_endpoint_index([svc], [sl], []).resolve(ref(80))) == ["10.0.0.1:80"]


@pytest.mark.parametrize(
    "endpoint, included",
    [
        (slice_endpoint("10.0.0.9", ready=True), True),
        (slice_endpoint("10.0.0.9", ready=None), True),  # absent means ready
        (slice_endpoint("10.0.0.9", ready=False), False),
        (slice_endpoint("10.0.0.9", ready=True, terminating=True), False),
        (slice_endpoint("10.0.0.9", ready=False, terminating=True), False),
        (slice_endpoint("10.0.0.9", ready=True, terminating=False), True),
        ({"addresses": ["10.0.0.9"]}, True),  # no conditions at all
        ({"addresses": ["10.0.0.9"], "conditions": {"ready": "true"}}, False),  # not a bool: not ready
    ],
)
def test_only_ready_endpoints(endpoint, included):
    sl = endpoint_slice("web", [{"port": 8080}], [endpoint])
    assert addresses(build_endpoint_index([SINGLE], [sl], []).resolve(ref(80))) == (["10.0.0.9:8080"] if included else [])


def test_several_slices_are_merged_and_deduplicated():
    slices = [
        endpoint_slice("web", [{"port": 8080}], [slice_endpoint("10.0.0.2"), slice_endpoint("10.0.0.1")], name="web-b"),
        endpoint_slice("web", [{"port": 8080}], [slice_endpoint("10.0.0.3"), slice_endpoint("10.0.0.2")], name="web-a"),
        endpoint_slice("other", [{"port": 8080}], [slice_endpoint("10.9.9.9")], name="other-a"),
        endpoint_slice("web", [{"port": 8080}], [slice_endpoint("10.8.8.8")], name="web-c", namespace="elsewhere"),
    ]
    found = build_endpoint_index([SINGLE], slices, []).resolve(ref(80))
    assert addresses(found) == ["10.0.0.3:8080", "10.0.0.2:8080", "10.0.0.1:8080"]  # slices by name, in order


def test_udp_ports_are_not_http_backends():
    svc = service("dns", service_port(53, name="dns", protocol="UDP"), service_port(53, name="dns-tcp", protocol="TCP"))
    sl = endpoint_slice(
        "dns", [{"name": "dns", "port": 5353, "protocol": "UDP"}, {"name": "dns-tcp", "port": 5354, "protocol": "TCP"}],
        [slice_endpoint("10.0.0.1")],
    )
    index = build_endpoint_index([svc], [sl], [])
    assert addresses(index.resolve(ref(53, "dns"))) == ["10.0.0.1:5354"]
    assert index.resolve(ref("dns", "dns")) is None
    assert addresses(index.resolve(ref("dns-tcp", "dns"))) == ["10.0.0.1:5354"]


SELECTORLESS = service("db", service_port(5432, name="pg"), service_port(80, name="http", target_port=8080))
LEGACY = {
    "apiVersion": "v1",
    "kind": "Endpoints",
    "metadata": {"name": "db", "namespace": "default"},
    "subsets": [
        {
            "addresses": [{"ip": "192.168.1.10", "targetRef": {"kind": "Pod", "name": "db-0"}}, {"ip": "192.168.1.11"}],
            "notReadyAddresses": [{"ip": "192.168.1.12"}],
            "ports": [{"name": "pg", "port": 6432}, {"name": "http", "port": 8081}],
        },
        {"addresses": [{"ip": "192.168.1.20"}], "ports": [{"name": "pg", "port": 5432}]},
    ],
}


def test_legacy_endpoints_for_selectorless_service():
    index = build_endpoint_index([SELECTORLESS], [], [LEGACY])
    assert index.resolve(ref("pg", "db")) == (
        Endpoint("192.168.1.10", 6432, "db-0"), Endpoint("192.168.1.11", 6432), Endpoint("192.168.1.20", 5432)
    )
    assert addresses(index.resolve(ref(80, "db"))) == ["192.168.1.10:8081", "192.168.1.11:8081", "192.168.1.20:8080"]


def test_not_ready_index_adds_not_ready_endpoints_but_never_terminating_ones():
    index = build_endpoint_index([SELECTORLESS], [], [LEGACY], not_ready=True)
    assert addresses(index.resolve(ref("pg", "db"))) == [
        "192.168.1.10:6432", "192.168.1.11:6432", "192.168.1.12:6432", "192.168.1.20:5432"]
    sl = endpoint_slice("web", [{"port": 8080}], [slice_endpoint("10.0.0.1"), slice_endpoint("10.0.0.2", ready=False),
                                                  slice_endpoint("10.0.0.3", ready=False, terminating=True)])
    index = build_endpoint_index([SINGLE], [sl], [], not_ready=True)
    assert addresses(index.resolve(ref(80))) == ["10.0.0.1:8080", "10.0.0.2:8080"]


def test_slices_are_preferred_over_legacy_endpoints():
    sl = endpoint_slice("db", [{"name": "pg", "port": 7000}], [slice_endpoint("10.1.1.1")])
    index = build_endpoint_index([SELECTORLESS], [sl], [LEGACY])
    assert addresses(index.resolve(ref("pg", "db"))) == ["10.1.1.1:7000"]


def test_external_name_service():
    with_port = service("ext", service_port(80, target_port=8443), type="ExternalName", externalName="api.example.com")
    without_port = service("bare", type="ExternalName", externalName="127.0.0.1")
    index = build_endpoint_index([with_port, without_port], [], [])
    assert addresses(index.resolve(ref(80, "ext"))) == ["api.example.com:8443"]
    assert index.resolve(ref(81, "ext")) is None
    assert addresses(index.resolve(ref(9000, "bare"))) == ["127.0.0.1:9000"]
    assert index.resolve(ref("http", "bare")) is None


def test_endpoint_address():
    assert Endpoint("10.0.0.1", 80).address == "10.0.0.1:80"
    assert Endpoint("fd00::1", 80).address == "[fd00::1]:80"
    assert Endpoint("10.0.0.1", 80, "a") == Endpoint("10.0.0.1", 80, "a")
    assert Endpoint("10.0.0.1", 80, "a") != Endpoint("10.0.0.1", 80, "b")


def test_malformed_objects_never_raise():
    index = build_endpoint_index(
        [None, {"metadata": {"name": "x"}, "spec": {"ports": [None, {"port": "80"}, {"port": 0}]}}, SINGLE],
        ["junk", {"metadata": {"labels": None}}, {"metadata": {"name": "s", "labels": {"kubernetes.io/service-name": "web"}},
                                                   "ports": None, "endpoints": [None, {"addresses": [None, 5, "10.0.0.7"]}]}],
        [None, {"metadata": {"name": "web"}, "subsets": "x"}],
    )
    assert addresses(index.resolve(ref(80))) == ["10.0.0.7:8080"]
    assert index.resolve(ref(80, "x")) is None
