"""The `nginx.ingress.kubernetes.io/*` annotations: one table of parsers, defaults and docs.

Like ingress-nginx (internal/ingress/annotations/*/main.go) each annotation is data: a parser that
validates, the default used when it is missing or invalid, a documentation string, and whether
ingressd implements it yet. Validation (check_annotations) and route building
(parse_location_config) read the same table, so they cannot disagree.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Callable

PREFIX = "nginx.ingress.kubernetes.io/"


class AnnotationError(ValueError):
    """An annotation value that cannot be used; `severity` "warning" means "valid, but ignored"."""

    def __init__(self, message: str, severity: str = "error") -> None:
        super().__init__(message)
        self.severity = severity


@dataclass(frozen=True)
class LocationConfig:
    """Per-location settings that ingressd implements, already parsed."""

    use_regex: bool = False
    rewrite_target: str | None = None
    app_root: str | None = None
    proxy_body_size: int = 1048576  # bytes; 0 = unlimited
    proxy_connect_timeout: float = 5.0
    proxy_read_timeout: float = 60.0
    proxy_send_timeout: float = 60.0
    proxy_next_upstream: frozenset[str] = frozenset({"error", "timeout"})
    proxy_next_upstream_tries: int = 3  # 0 = unlimited
    load_balance: str = "round_robin"  # "round_robin" | "ewma"


@dataclass(frozen=True)
class AnnotationSpec:
    name: str  # the part after PREFIX
    doc: str
    supported: bool = True
    default: str | None = None  # as a user would write it; None = unset
    parse: Callable[[str], Any] | None = None  # raises AnnotationError
    field: str | None = None  # the LocationConfig field it sets

    @property
    def key(self) -> str:
        return PREFIX + self.name


# --- value parsers (nginx / ingress-nginx syntax) -------------------------------------------

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_bool(value: str) -> bool:
    """Go's strconv.ParseBool, which ingress-nginx uses."""
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    raise AnnotationError(f'invalid value {value!r}: must be "true" or "false"')


_SIZE = re.compile(r"([0-9]+)([kmg]?)", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(value: str) -> int:
    """nginx size syntax ("512", "8k", "1m", "1g", units case-insensitive) in bytes."""
    m = _SIZE.fullmatch(value.replace(" ", ""))
    if m is None:
        raise AnnotationError(
            f"invalid size {value!r}: must be a number of bytes with an optional unit k, m or g"
            ' (e.g. "512", "8k", "1m", "1g"); "0" means unlimited'
        )
    return int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]


_SECONDS = re.compile(r"([0-9]+)s?")


def parse_seconds(value: str) -> float:
    """Whole seconds as ingress-nginx validates them ("5"); nginx's "5s" is accepted too."""
    m = _SECONDS.fullmatch(value.strip())
    if m is None:
        raise AnnotationError(f'invalid timeout {value!r}: must be whole seconds, e.g. "5" or "5s"')
    return float(m.group(1))


_COUNT = re.compile(r"[0-9]+")


def parse_count(value: str) -> int:
    if _COUNT.fullmatch(value.strip()) is None:
        raise AnnotationError(f'invalid value {value!r}: must be a whole number >= 0 (e.g. "3"; "0" = unlimited)')
    return int(value.strip())


NEXT_UPSTREAM_CONDITIONS = (
    "error", "timeout", "invalid_header", "http_500", "http_502", "http_503", "http_504",
    "http_403", "http_404", "http_429", "non_idempotent", "off",
)


def parse_next_upstream(value: str) -> frozenset[str]:
    words = value.split()
    bad = [w for w in words if w not in NEXT_UPSTREAM_CONDITIONS]
    if not words or bad:
        raise AnnotationError(
            f"invalid value {value!r}: must be space-separated conditions out of "
            + " ".join(NEXT_UPSTREAM_CONDITIONS)
        )
    return frozenset(words)


LOAD_BALANCE_METHODS = ("round_robin", "ewma")
_LOAD_BALANCE_NOT_YET = ("chash", "chashsubset", "sticky_balanced", "sticky_persistent")


def parse_load_balance(value: str) -> str:
    method = value.strip().lower()
    if method in LOAD_BALANCE_METHODS:
        return method
    if method in _LOAD_BALANCE_NOT_YET:
        raise AnnotationError(f"{method} is not implemented by ingressd yet; round_robin is used", "warning")
    raise AnnotationError(f"invalid value {value!r}: must be one of " + ", ".join(LOAD_BALANCE_METHODS))


# ingress-nginx's parser.RegexPathWithCapture: a path that may hold $1..$9.
_PATH_WITH_CAPTURE = re.compile(r"/?[-._~a-zA-Z0-9/:$]*")


def parse_rewrite_target(value: str) -> str:
    target = value.strip()
    if not target or _PATH_WITH_CAPTURE.fullmatch(target) is None:
        raise AnnotationError(
            f'invalid rewrite target {value!r}: must be a path of letters, digits, "-._~/:" and'
            ' capture groups $1..$9, e.g. "/$2"'
        )
    return target


def parse_app_root(value: str) -> str:
    root = value.strip()
    if not root.startswith("/") or _PATH_WITH_CAPTURE.fullmatch(root) is None:
        raise AnnotationError(f'invalid app root {value!r}: must be a path starting with "/", e.g. "/app"')
    return root


# --- the table --------------------------------------------------------------------------------

_IMPLEMENTED = (
    AnnotationSpec(
        "use-regex", "Treat every path of the host as a case-insensitive regex anchored at the start.",
        default="false", parse=parse_bool, field="use_regex"),
    AnnotationSpec(
        "rewrite-target", "Replace the request path sent upstream; $1..$9 are the path regex's groups."
        " Turns on regex paths for the host.",
        parse=parse_rewrite_target, field="rewrite_target"),
    AnnotationSpec(
        "app-root", 'Redirect "/" to this path with 302.', parse=parse_app_root, field="app_root"),
    AnnotationSpec(
        "proxy-body-size", 'Largest request body accepted (nginx size, "0" = unlimited); larger gets 413.',
        default="1m", parse=parse_size, field="proxy_body_size"),
    AnnotationSpec(
        "proxy-connect-timeout", "Seconds to wait for a connection to the pod.",
        default="5", parse=parse_seconds, field="proxy_connect_timeout"),
    AnnotationSpec(
        "proxy-read-timeout", "Seconds to wait between two reads of the response; then 504.",
        default="60", parse=parse_seconds, field="proxy_read_timeout"),
    AnnotationSpec(
        "proxy-send-timeout", "Seconds to wait between two writes of the request.",
        default="60", parse=parse_seconds, field="proxy_send_timeout"),
    AnnotationSpec(
        "proxy-next-upstream", "When to retry on another endpoint: " + " ".join(NEXT_UPSTREAM_CONDITIONS) + ".",
        default="error timeout", parse=parse_next_upstream, field="proxy_next_upstream"),
    AnnotationSpec(
        "proxy-next-upstream-tries", "Most attempts per request, the first included (0 = unlimited).",
        default="3", parse=parse_count, field="proxy_next_upstream_tries"),
    AnnotationSpec(
        "load-balance", "Endpoint choice: round_robin or ewma (least latency of two random endpoints).",
        default="round_robin", parse=parse_load_balance, field="load_balance"),
)

# Known to ingress-nginx, not (yet) implemented by ingressd: a warning, never an error.
_NOT_YET = {
    "canary": "Mark this Ingress as the canary of the Ingress with the same host and path.",
    "canary-weight": "Percentage of requests sent to the canary.",
    "canary-weight-total": "Total weight that canary-weight is a share of (default 100).",
    "canary-by-header": "Request header that forces the canary (always) or the main backend (never).",
    "canary-by-header-value": "Header value that selects the canary.",
    "canary-by-header-pattern": "Header value regex that selects the canary.",
    "canary-by-cookie": "Cookie that forces the canary (always) or the main backend (never).",
    "affinity": "Session affinity type (cookie).",
    "affinity-mode": "balanced or persistent affinity.",
    "affinity-canary-behavior": "sticky or legacy: whether affinity applies to the canary.",
    "session-cookie-name": "Name of the affinity cookie (INGRESSCOOKIE).",
    "session-cookie-path": "Path of the affinity cookie.",
    "session-cookie-domain": "Domain of the affinity cookie.",
    "session-cookie-expires": "Expires of the affinity cookie, in seconds.",
    "session-cookie-max-age": "Max-Age of the affinity cookie, in seconds.",
    "session-cookie-secure": "Secure flag of the affinity cookie.",
    "session-cookie-samesite": "SameSite of the affinity cookie.",
    "session-cookie-conditional-samesite-none": "Omit SameSite=None for clients that mishandle it.",
    "session-cookie-change-on-failure": "Pick a new endpoint when the pinned one fails.",
    "upstream-hash-by": "Consistent hashing key (nginx variables).",
    "upstream-hash-by-subset": "Hash onto a subset of endpoints.",
    "upstream-hash-by-subset-size": "Size of the hashed subset.",
    "upstream-vhost": "Host header sent upstream.",
    "service-upstream": "Proxy to the Service cluster IP instead of the endpoints.",
    "ssl-redirect": "Redirect HTTP to HTTPS for TLS hosts (default true).",
    "force-ssl-redirect": "Redirect HTTP to HTTPS even without TLS.",
    "preserve-trailing-slash": "Keep the trailing slash in the HTTPS redirect.",
    "ssl-passthrough": "Pass TLS through to the pod unterminated.",
    "ssl-ciphers": "TLS ciphers of the server.",
    "ssl-prefer-server-ciphers": "Prefer the server's cipher order.",
    "backend-protocol": "Protocol spoken to the pod: HTTP, HTTPS, GRPC, GRPCS, FCGI, AUTO_HTTP.",
    "proxy-ssl-secret": "Client certificate for HTTPS to the pod.",
    "proxy-ssl-verify": "Verify the pod's certificate.",
    "proxy-ssl-verify-depth": "Certificate chain depth when verifying the pod.",
    "proxy-ssl-name": "Server name used to verify the pod's certificate.",
    "proxy-ssl-server-name": "Send SNI to the pod.",
    "proxy-ssl-ciphers": "TLS ciphers towards the pod.",
    "proxy-ssl-protocols": "TLS protocols towards the pod.",
    "proxy-next-upstream-timeout": "Time limit for retries on other endpoints.",
    "proxy-buffering": "Buffer responses.",
    "proxy-buffer-size": "Size of the first response buffer.",
    "proxy-buffers-number": "Number of response buffers.",
    "proxy-busy-buffers-size": "Buffers busy sending to the client.",
    "proxy-max-temp-file-size": "Largest temporary file for buffered responses.",
    "proxy-request-buffering": "Buffer request bodies.",
    "proxy-http-version": "HTTP version spoken to the pod.",
    "proxy-cookie-domain": "Rewrite the domain of Set-Cookie.",
    "proxy-cookie-path": "Rewrite the path of Set-Cookie.",
    "proxy-redirect-from": "Rewrite Location headers from this.",
    "proxy-redirect-to": "Rewrite Location headers to this.",
    "client-body-buffer-size": "Buffer size for request bodies.",
    "connection-proxy-header": "Connection header sent upstream.",
    "x-forwarded-prefix": "X-Forwarded-Prefix header sent upstream.",
    "custom-headers": "Extra response headers from a ConfigMap.",
    "custom-http-errors": "Status codes answered by the default backend.",
    "default-backend": "Service that answers custom-http-errors.",
    "disable-proxy-intercept-errors": "Do not intercept custom-http-errors.",
    "permanent-redirect": "Redirect every request with 301 to this URL.",
    "permanent-redirect-code": "Status code of permanent-redirect.",
    "temporal-redirect": "Redirect every request with 302 to this URL.",
    "temporal-redirect-code": "Status code of temporal-redirect.",
    "from-to-www-redirect": "Redirect between www.host and host.",
    "relative-redirects": "Relative Location headers in redirects.",
    "use-port-in-redirects": "Keep the port in redirects.",
    "server-alias": "Extra host names of the server.",
    "enable-cors": "Answer CORS preflight requests and add CORS headers.",
    "cors-allow-origin": "Access-Control-Allow-Origin.",
    "cors-allow-methods": "Access-Control-Allow-Methods.",
    "cors-allow-headers": "Access-Control-Allow-Headers.",
    "cors-allow-credentials": "Access-Control-Allow-Credentials.",
    "cors-expose-headers": "Access-Control-Expose-Headers.",
    "cors-max-age": "Access-Control-Max-Age.",
    "limit-rps": "Requests per second per client address.",
    "limit-rpm": "Requests per minute per client address.",
    "limit-connections": "Concurrent connections per client address.",
    "limit-burst-multiplier": "Burst size as a multiple of the limit.",
    "limit-rate": "Response rate limit in bytes per second.",
    "limit-rate-after": "Bytes sent before limit-rate starts.",
    "limit-allowlist": "Client addresses exempt from rate limits.",
    "limit-whitelist": "Old name of limit-allowlist.",
    "allowlist-source-range": "Only these client CIDRs are allowed.",
    "whitelist-source-range": "Old name of allowlist-source-range.",
    "denylist-source-range": "These client CIDRs are refused.",
    "auth-type": "Basic or digest authentication.",
    "auth-secret": "Secret with the htpasswd users.",
    "auth-secret-type": "auth-file or auth-map.",
    "auth-realm": "Authentication realm.",
    "auth-url": "External authentication service.",
    "auth-method": "HTTP method for auth-url.",
    "auth-signin": "Where unauthenticated users are sent.",
    "auth-signin-redirect-param": "Query parameter naming the original URL.",
    "auth-response-headers": "Headers copied from the auth response.",
    "auth-request-redirect": "X-Auth-Request-Redirect header.",
    "auth-proxy-set-headers": "ConfigMap of headers sent to auth-url.",
    "auth-snippet": "nginx snippet for the auth location.",
    "auth-cache-key": "Cache key of auth responses.",
    "auth-cache-duration": "Cache durations of auth responses.",
    "auth-keepalive": "Keepalive connections to auth-url.",
    "auth-keepalive-requests": "Requests per auth keepalive connection.",
    "auth-keepalive-timeout": "Idle timeout of auth keepalive connections.",
    "auth-keepalive-share-vars": "Share variables with the auth subrequest.",
    "auth-always-set-cookie": "Set cookies from auth even on failure.",
    "auth-tls-secret": "CA for client certificate authentication.",
    "auth-tls-verify-client": "Client certificate verification mode.",
    "auth-tls-verify-depth": "Client certificate chain depth.",
    "auth-tls-error-page": "Page for failed client certificates.",
    "auth-tls-pass-certificate-to-upstream": "Send the client certificate upstream.",
    "auth-tls-match-cn": "Required client certificate CN.",
    "enable-global-auth": "Apply the global external authentication.",
    "satisfy": "any or all of the access checks.",
    "configuration-snippet": "Raw nginx configuration for the location.",
    "server-snippet": "Raw nginx configuration for the server.",
    "stream-snippet": "Raw nginx stream configuration.",
    "modsecurity-snippet": "ModSecurity rules.",
    "enable-modsecurity": "Enable ModSecurity.",
    "enable-owasp-core-rules": "Enable the OWASP core rule set.",
    "modsecurity-transaction-id": "ModSecurity transaction id.",
    "enable-access-log": "Write access log lines for this location.",
    "enable-rewrite-log": "Log rewrites.",
    "enable-opentelemetry": "OpenTelemetry tracing.",
    "opentelemetry-trust-incoming-span": "Continue incoming traces.",
    "opentelemetry-operation-name": "Name of the traced operation.",
    "mirror-target": "Mirror requests to this URL.",
    "mirror-host": "Host header of mirrored requests.",
    "mirror-request-body": "Mirror request bodies.",
    "fastcgi-index": "FastCGI index.",
    "fastcgi-params-configmap": "FastCGI parameters.",
    "http2-push-preload": "HTTP/2 server push of preload links.",
}

ANNOTATIONS: dict[str, AnnotationSpec] = {spec.name: spec for spec in _IMPLEMENTED}
ANNOTATIONS.update(
    (name, AnnotationSpec(name, doc, supported=False)) for name, doc in _NOT_YET.items()
)


def annotation_docs() -> list[tuple[str, bool, str | None, str]]:
    """(full annotation key, supported, default as written, doc), implemented ones first."""
    return [(spec.key, spec.supported, spec.default, spec.doc) for spec in ANNOTATIONS.values()]


def check_annotations(annotations: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(annotation key, "error" | "warning", message) for every nginx annotation worth a word."""
    problems: list[tuple[str, str, str]] = []
    for key, value in annotations.items():
        if not isinstance(key, str) or not key.startswith(PREFIX):
            continue
        spec = ANNOTATIONS.get(key[len(PREFIX):])
        if spec is None:
            message = "unknown annotation"
            close = difflib.get_close_matches(key[len(PREFIX):], ANNOTATIONS, n=1)
            if close:
                message += f' (did you mean "{PREFIX}{close[0]}"?)'
            problems.append((key, "warning", message))
        elif not spec.supported:
            problems.append((key, "warning", "not implemented by ingressd yet"))
        elif not isinstance(value, str):
            problems.append((key, "error", f"annotation values are strings: quote {value!r}"))
        elif spec.parse is not None:
            try:
                spec.parse(value)
            except AnnotationError as err:
                problems.append((key, err.severity, str(err)))
    return problems


def parse_location_config(annotations: dict[str, Any]) -> LocationConfig:
    """The implemented annotations of one Ingress; missing or invalid ones keep the default."""
    values: dict[str, Any] = {}
    for spec in _IMPLEMENTED:
        value = annotations.get(spec.key)
        if not isinstance(value, str) or spec.parse is None or spec.field is None:
            continue
        try:
            values[spec.field] = spec.parse(value)
        except AnnotationError:
            continue
    return LocationConfig(**values) if values else _DEFAULT_CONFIG


_DEFAULT_CONFIG = LocationConfig()
