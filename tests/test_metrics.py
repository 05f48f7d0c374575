"""The metric families' arithmetic and exposition, against prometheus-client's own parser."""

from prometheus_client.parser import text_string_to_metric_families

from ingressd.metrics import LABELS, ProxyMetrics, exposition

LBL = ("200", "GET", "/", "default", "web", "web", "", "app.test")


def test_histogram_buckets_are_cumulative_and_inclusive():
    m = ProxyMetrics()
    for seconds in (0.004, 0.005, 0.3, 20.0):
        m.observe(LBL, seconds, None, 50, 1000)
    r = m.registry
    hist = dict(zip(LABELS[1:], LBL[1:]))
    bucket = "nginx_ingress_controller_request_duration_seconds_bucket"
    assert r.get_sample_value(bucket, {**hist, "le": "0.005"}) == 2  # le is inclusive
    assert r.get_sample_value(bucket, {**hist, "le": "0.25"}) == 2
    assert r.get_sample_value(bucket, {**hist, "le": "0.5"}) == 3
    assert r.get_sample_value(bucket, {**hist, "le": "+Inf"}) == 4
    assert r.get_sample_value("nginx_ingress_controller_request_duration_seconds_count", hist) == 4
    assert abs(r.get_sample_value("nginx_ingress_controller_request_duration_seconds_sum", hist) - 20.309) < 1e-9
    assert r.get_sample_value("nginx_ingress_controller_response_duration_seconds_count", hist) is None
    assert r.get_sample_value("nginx_ingress_controller_requests", dict(zip(LABELS, LBL))) == 4


def test_exposition_parses_with_ingress_nginx_names():
    m = ProxyMetrics()
    m.observe(LBL, 0.01, 0.009, 50, 1000)
    text = exposition(m.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["nginx_ingress_controller_requests"].type == "counter"
    assert "# TYPE nginx_ingress_controller_requests counter" in text
    assert families["nginx_ingress_controller_request_size"].type == "histogram"
    assert families["nginx_ingress_controller_config_last_reload_successful"].samples[0].value == 1
    assert "_total" not in text and "_created" not in text


def test_container_metrics_as_cadvisor_names_them():
    from prometheus_client import CollectorRegistry

    from ingressd.cluster.metrics_server import PodStats
    from ingressd.metrics import ContainerMetrics, exposition

    registry = CollectorRegistry()
    registry.register(ContainerMetrics(lambda: [PodStats("shop", "web-0", "u", "ingressd", {"app": (1.5, 2048)})]))
    text = exposition(registry).decode()
    labels = 'container="app",namespace="shop",node="ingressd",pod="web-0"'
    assert f"container_cpu_usage_seconds_total{{{labels}}} 1.5" in text
    assert f"container_memory_working_set_bytes{{{labels}}} 2048.0" in text
    assert "# TYPE container_cpu_usage_seconds_total counter" in text
