"""The controller ConfigMap's client limits and location defaults (ingress-nginx's keys)."""

from __future__ import annotations

import pytest

from ingressd.routing.annotations import LocationConfig, parse_location_config
from ingressd.routing.controller_config import ClientLimits, controller_config


def test_no_configmap_means_ingress_nginx_defaults():
    config, warnings = controller_config(None)
    assert warnings == []
    assert config.limits == ClientLimits(60.0, 60.0, 4, 8192)
    assert (config.limits.max_request_line, config.limits.max_header_line, config.limits.max_head) == (8192, 8192, 32768)
    assert config.location_defaults == LocationConfig()
    assert (config.location_defaults.proxy_body_size, config.location_defaults.client_body_buffer_size,
            config.location_defaults.proxy_request_buffering) == (1048576, 8192, True)


@pytest.mark.parametrize("data, field, value", [
    ({"client-header-timeout": "10"}, "client_header_timeout", 10.0),
    ({"client-body-timeout": "5s"}, "client_body_timeout", 5.0),
    ({"large-client-header-buffers": "8 16k"}, "header_buffer_size", 16384),
    ({"large-client-header-buffers": "8 16k"}, "header_buffers", 8),
])
def test_client_limits(data, field, value):
    config, warnings = controller_config(data)
    assert warnings == [] and getattr(config.limits, field) == value


@pytest.mark.parametrize("data, field, value", [
    ({"proxy-body-size": "8m"}, "proxy_body_size", 8 * 1024 * 1024),
    ({"proxy-body-size": "0"}, "proxy_body_size", 0),
    ({"client-body-buffer-size": "64k"}, "client_body_buffer_size", 65536),
    ({"proxy-request-buffering": "off"}, "proxy_request_buffering", False),
    ({"proxy-read-timeout": "120"}, "proxy_read_timeout", 120.0),
    ({"proxy-next-upstream-tries": "5"}, "proxy_next_upstream_tries", 5),
    ({"load-balance": "ewma"}, "load_balance", "ewma"),
    ({"ssl-redirect": "false"}, "ssl_redirect", False),
])
def test_location_defaults(data, field, value):
    config, warnings = controller_config(data)
    assert warnings == [] and getattr(config.location_defaults, field) == value


@pytest.mark.parametrize("data, key", [
    ({"client-header-timeout": "soon"}, "client-header-timeout"),
    ({"client-body-timeout": "0"}, "client-body-timeout"),
    ({"large-client-header-buffers": "4"}, "large-client-header-buffers"),
    ({"large-client-header-buffers": "0 8k"}, "large-client-header-buffers"),
    ({"large-client-header-buffers": "4 100"}, "large-client-header-buffers"),
    ({"proxy-body-size": "lots"}, "proxy-body-size"),
    ({"proxy-request-buffering": "maybe"}, "proxy-request-buffering"),
])
def test_a_value_not_understood_keeps_the_default_and_is_reported(data, key):
    config, warnings = controller_config(data)
    assert len(warnings) == 1 and warnings[0].startswith(key + ":")
    assert config == controller_config(None)[0]


def test_an_annotation_overrides_the_configmap_default():
    defaults = controller_config({"proxy-body-size": "8m", "client-body-buffer-size": "64k"})[0].location_defaults
    config = parse_location_config({"nginx.ingress.kubernetes.io/proxy-body-size": "2k"}, defaults)
    assert (config.proxy_body_size, config.client_body_buffer_size) == (2048, 65536)
    assert parse_location_config({}, defaults) is defaults
