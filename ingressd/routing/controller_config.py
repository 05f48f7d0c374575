"""The ingress-nginx controller ConfigMap (`--configmap`): client limits and location defaults.

Same keys, syntax and defaults as ingress-nginx's ConfigMap (internal/ingress/controller/config):
timeouts and header buffers of the client side, and the defaults of the per-location settings that
an Ingress annotation may override. A value that is not understood keeps the default and is
reported, as ingress-nginx logs and ignores it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingressd.routing.annotations import ANNOTATIONS, AnnotationError, LocationConfig, parse_seconds, parse_size

# ConfigMap keys that set a location default; each has an annotation of the same name and parser.
LOCATION_KEYS = (
    "proxy-body-size", "client-body-buffer-size", "proxy-request-buffering", "proxy-connect-timeout",
    "proxy-read-timeout", "proxy-send-timeout", "proxy-next-upstream", "proxy-next-upstream-tries",
    "load-balance", "ssl-redirect", "force-ssl-redirect",
)
_BUFFERS = re.compile(r"\s*([0-9]+)\s+([0-9]+[kKmM]?)\s*")


@dataclass(frozen=True)
class ClientLimits:
    """nginx's client-side limits: how long and how much a client may send before it is cut off."""

    client_header_timeout: float = 60.0  # a request head must arrive within this: else 408
    client_body_timeout: float = 60.0  # between two reads of the body: else 408
    header_buffers: int = 4  # large-client-header-buffers "4 8k"
    header_buffer_size: int = 8192

    @property
    def max_request_line(self) -> int:
        """A longer request line is a 414 (it must fit one large buffer)."""
        return self.header_buffer_size

    @property
    def max_header_line(self) -> int:
        """A longer header line is a 400 "Request Header Or Cookie Too Large"."""
        return self.header_buffer_size

    @property
    def max_head(self) -> int:
        """Bytes of request line and headers together (all large buffers)."""
        return self.header_buffers * self.header_buffer_size


@dataclass(frozen=True)
class ControllerConfig:
    limits: ClientLimits = field(default_factory=ClientLimits)
    location_defaults: LocationConfig = field(default_factory=LocationConfig)


def controller_config(data: dict | None) -> tuple[ControllerConfig, list[str]]:
    """The ConfigMap's `data` parsed, and one warning per value that was not understood."""
    data = data or {}
    warnings: list[str] = []
    limits: dict = {}
    for key, attr in (("client-header-timeout", "client_header_timeout"),
                      ("client-body-timeout", "client_body_timeout")):
        value = data.get(key)
        if value is None:
            continue
        try:
            seconds = parse_seconds(str(value))
            if seconds <= 0:
                raise AnnotationError(f"invalid timeout {value!r}: must be at least 1 second")
            limits[attr] = seconds
        except AnnotationError as exc:
            warnings.append(f"{key}: {exc}")
    value = data.get("large-client-header-buffers")
    if value is not None:
        m = _BUFFERS.fullmatch(str(value))
        try:
            if m is None:
                raise AnnotationError(f'invalid value {value!r}: must be "NUMBER SIZE", e.g. "4 8k"')
            count, size = int(m.group(1)), parse_size(m.group(2))
            if count < 1 or size < 1024:
                raise AnnotationError(f"invalid value {value!r}: at least 1 buffer of at least 1k")
            limits["header_buffers"], limits["header_buffer_size"] = count, size
        except AnnotationError as exc:
            warnings.append(f"large-client-header-buffers: {exc}")
    defaults: dict = {}
    for key in LOCATION_KEYS:
        value = data.get(key)
        if value is None:
            continue
        spec = ANNOTATIONS[key]
        try:
            defaults[spec.field] = spec.parse(str(value))
        except AnnotationError as exc:
            warnings.append(f"{key}: {exc}")
    return ControllerConfig(ClientLimits(**limits), LocationConfig(**defaults)), warnings
