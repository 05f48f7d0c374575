"""The `nginx.ingress.kubernetes.io/*` annotations: one table of parsers, defaults and docs.

Like ingress-nginx (internal/ingress/annotations/*/main.go) each annotation is data: a parser that
validates, the default used when it is missing or invalid, a documentation string, and whether
ingressd implements it yet. Validation (check_annotations) and route building
(parse_location_config) read the same table, so they cannot disagree.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ingressd.routing.canary import CanaryConfig, compile_header_pattern

PREFIX = "nginx.ingress.kubernetes.io/"


class AnnotationError(ValueError):
    """An annotation value that cannot be used; `severity` "warning" means "valid, but ignored"."""

    def __init__(self, message: str, severity: str = "error") -> None:
        super().__init__(message)
        self.severity = severity


@dataclass(frozen=True)
class LocationConfig:
    """Per-location settings that ingressd implements, already parsed."""

    ssl_redirect: bool = True
    backend_protocol: str = "HTTP"  # "HTTP" | "HTTPS"
    proxy_ssl_verify: bool = False
    proxy_ssl_name: str | None = None
    proxy_ssl_server_name: bool = False
    force_ssl_redirect: bool = False
    use_regex: bool = False
    rewrite_target: str | None = None
    app_root: str | None = None
    proxy_body_size: int = 1048576  # bytes; 0 = unlimited
    proxy_request_buffering: bool = True  # read the whole body before choosing an upstream
    client_body_buffer_size: int = 8192  # body bytes kept in memory; the rest goes to a temp file
    proxy_connect_timeout: float = 5.0
    proxy_read_timeout: float = 60.0
    proxy_send_timeout: float = 60.0
    proxy_next_upstream: frozenset[str] = frozenset({"error", "timeout"})
    proxy_next_upstream_tries: int = 3  # 0 = unlimited
    load_balance: str = "round_robin"  # "round_robin" | "ewma"
    upstream_hash_by: str | None = None  # nginx variables and text, e.g. "$remote_addr", "${request_uri}-x"
    affinity: str | None = None  # "cookie" or None
    affinity_mode: str = "balanced"  # "balanced" | "persistent"
    affinity_canary_behavior: str = "sticky"  # "sticky" | "legacy"; read from the canary Ingress
    session_cookie_name: str = "INGRESSCOOKIE"
    session_cookie_path: str | None = None  # None: the Ingress path of the location
    session_cookie_domain: str | None = None
    session_cookie_expires: int | None = None  # seconds from now
    session_cookie_max_age: int | None = None  # seconds
    session_cookie_secure: bool = False  # True: always Secure; False: Secure over HTTPS only
    session_cookie_samesite: str | None = None  # as written; only Strict, Lax, None reach the cookie
    session_cookie_conditional_samesite_none: bool = False
    session_cookie_change_on_failure: bool = False  # a failed pinned endpoint gets the client a new cookie
    canary: CanaryConfig | None = None  # only on a canary Ingress (`canary: "true"`)

    @property
    def balancer(self) -> str:
        """What picks the endpoint, by ingress-nginx's precedence (balancer.lua get_implementation):
        "sticky" for cookie affinity, else "chash" for upstream-hash-by, else load-balance."""
        if self.affinity == "cookie":
            return "sticky"
        if self.upstream_hash_by:
            return "chash"
        return self.load_balance


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


BACKEND_PROTOCOLS = ("HTTP", "HTTPS")
_BACKEND_PROTOCOLS_NOT_YET = ("GRPC", "GRPCS", "FCGI", "AUTO_HTTP")


def parse_backend_protocol(value: str) -> str:
    protocol = value.strip().upper()
    if protocol in BACKEND_PROTOCOLS:
        return protocol
    if protocol in _BACKEND_PROTOCOLS_NOT_YET:
        raise AnnotationError(f"{protocol} is not implemented by ingressd yet; HTTP is used", "warning")
    raise AnnotationError(f"invalid value {value!r}: must be one of HTTP, HTTPS, GRPC, GRPCS, FCGI, AUTO_HTTP")


def parse_on_off(value: str) -> bool:
    """nginx's on/off (ingress-nginx also takes true/false here)."""
    word = value.strip().lower()
    if word in ("on", "true"):
        return True
    if word in ("off", "false"):
        return False
    raise AnnotationError(f'invalid value {value!r}: must be "on" or "off"')


def parse_server_name(value: str) -> str:
    name = value.strip()
    if not name or any(c in name for c in " /;$"):
        raise AnnotationError(f"invalid value {value!r}: must be a host name")
    return name


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


_INT = re.compile(r"[+-]?[0-9]+")


def parse_int(value: str) -> int:
    """Go's strconv.Atoi, which the canary annotations use (a sign is allowed, spaces are not)."""
    if _INT.fullmatch(value) is None:
        raise AnnotationError(f"invalid value {value!r}: must be a whole number, e.g. \"10\"")
    return int(value)


def _options(*options: str, case_sensitive: bool = True) -> Callable[[str], str]:
    """ingress-nginx's ValidateOptions (value trimmed); the value is kept as written."""

    def parse(value: str) -> str:
        text = value.strip()
        if (text if case_sensitive else text.lower()) not in options:
            raise AnnotationError(f"invalid value {value!r}: must be one of " + ", ".join(options))
        return text

    return parse


def _chars(pattern: str, allowed: str, example: str, remove_spaces: bool = True) -> Callable[[str], str]:
    """ingress-nginx's ValidateRegex over a character class; an empty value counts as unset (error)."""
    valid = re.compile(pattern)

    def parse(value: str) -> str:
        text = value.strip()
        checked = value.replace(" ", "") if remove_spaces else value
        if not text or valid.fullmatch(checked) is None:
            raise AnnotationError(f"invalid value {value!r}: must be {allowed}, e.g. {example}")
        return text

    return parse


# parser.BasicCharsRegex, URLIsValidRegex, IsValidRegex and upstreamhashby's hashByRegex.
_BASIC = r"[-._~a-zA-Z0-9/:]*"
parse_basic_name = _chars(_BASIC, 'letters, digits and "-._~/:"', '"X-Canary"')
parse_cookie_path = _chars(r"[-._~a-zA-Z0-9/:,?&=]*", 'a path of letters, digits and "-._~/:,?&="', '"/app"')
parse_header_pattern = _chars(r"[-._~a-zA-Z0-9/:^$\[\](){}*+?|&=\\]*",
                              'a regex of letters, digits and "-._~/:^$[](){}*+?|&=\\"', '"^v[23]$"',
                              remove_spaces=False)
parse_hash_by = _chars(r"[-A-Za-z0-9_${}]*", 'nginx variables and text of letters, digits and "-_${}"',
                       '"$remote_addr" or "${request_uri}-x"')

_COOKIE_SECONDS = re.compile(r"0|-?[1-9][0-9]*")


def parse_cookie_seconds(value: str) -> int:
    text = value.strip()
    if _COOKIE_SECONDS.fullmatch(text) is None:
        raise AnnotationError(f"invalid value {value!r}: must be whole seconds, e.g. \"3600\"")
    return int(text)


parse_affinity = _options("cookie")
parse_affinity_mode = _options("balanced", "persistent")
parse_canary_behavior = _options("sticky", "legacy")
parse_samesite = _options("none", "lax", "strict", case_sensitive=False)


# --- the table --------------------------------------------------------------------------------

_IMPLEMENTED = (
    AnnotationSpec(
        "backend-protocol", "Protocol spoken to the pod: HTTP, or HTTPS (TLS re-encrypted to the pod).",
        default="HTTP", parse=parse_backend_protocol, field="backend_protocol"),
    AnnotationSpec(
        "proxy-ssl-verify", "With backend-protocol HTTPS: verify the pod's certificate (system CAs).",
        default="off", parse=parse_on_off, field="proxy_ssl_verify"),
    AnnotationSpec(
        "proxy-ssl-name", "With backend-protocol HTTPS: the name the pod's certificate is verified against.",
        parse=parse_server_name, field="proxy_ssl_name"),
    AnnotationSpec(
        "proxy-ssl-server-name", "With backend-protocol HTTPS: send SNI (proxy-ssl-name) to the pod.",
        default="off", parse=parse_on_off, field="proxy_ssl_server_name"),
    AnnotationSpec(
        "ssl-redirect", "Answer HTTP requests for a host with TLS with a 308 to HTTPS.",
        default="true", parse=parse_bool, field="ssl_redirect"),
    AnnotationSpec(
        "force-ssl-redirect", "Redirect HTTP to HTTPS with 308 even for a host without TLS.",
        default="false", parse=parse_bool, field="force_ssl_redirect"),
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
        "proxy-request-buffering", "on: read the whole request body before connecting to the pod (a slow"
        " client never holds a pod connection); off: stream it.",
        default="on", parse=parse_on_off, field="proxy_request_buffering"),
    AnnotationSpec(
        "client-body-buffer-size", "Request body bytes kept in memory; a larger body is buffered in a"
        " temporary file under the state dir.",
        default="8k", parse=parse_size, field="client_body_buffer_size"),
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
    AnnotationSpec(
        "upstream-hash-by", 'Consistent hashing of requests onto endpoints by this nginx expression, e.g.'
        ' "$remote_addr" or "$request_uri" (ingress-nginx\'s chash ring).',
        parse=parse_hash_by, field="upstream_hash_by"),
    # Session affinity (internal/ingress/annotations/sessionaffinity).
    AnnotationSpec(
        "affinity", 'Session affinity: "cookie" pins a client to one endpoint with a cookie.',
        parse=parse_affinity, field="affinity"),
    AnnotationSpec(
        "affinity-mode", "balanced: sessions move when endpoints are added; persistent: they never do.",
        default="balanced", parse=parse_affinity_mode, field="affinity_mode"),
    AnnotationSpec(
        "affinity-canary-behavior", "On the canary Ingress: sticky (clients served by the canary stay"
        " there) or legacy (no affinity for the canary).",
        default="sticky", parse=parse_canary_behavior, field="affinity_canary_behavior"),
    AnnotationSpec(
        "session-cookie-name", "Name of the affinity cookie.",
        default="INGRESSCOOKIE", parse=parse_basic_name, field="session_cookie_name"),
    AnnotationSpec(
        "session-cookie-path", "Path of the affinity cookie (default: the Ingress path; set it with use-regex).",
        parse=parse_cookie_path, field="session_cookie_path"),
    AnnotationSpec(
        "session-cookie-domain", "Domain of the affinity cookie.", parse=parse_basic_name,
        field="session_cookie_domain"),
    AnnotationSpec(
        "session-cookie-expires", "Expires of the affinity cookie: now plus this many seconds.",
        parse=parse_cookie_seconds, field="session_cookie_expires"),
    AnnotationSpec(
        "session-cookie-max-age", "Max-Age of the affinity cookie, in seconds.",
        parse=parse_cookie_seconds, field="session_cookie_max_age"),
    AnnotationSpec(
        "session-cookie-secure", "Always mark the affinity cookie Secure (otherwise only over HTTPS).",
        default="false", parse=parse_bool, field="session_cookie_secure"),
    AnnotationSpec(
        "session-cookie-samesite", "SameSite of the affinity cookie: None, Lax or Strict.",
        parse=parse_samesite, field="session_cookie_samesite"),
    AnnotationSpec(
        "session-cookie-conditional-samesite-none", "Omit SameSite=None for browsers that reject it.",
        default="false", parse=parse_bool, field="session_cookie_conditional_samesite_none"),
    AnnotationSpec(
        "session-cookie-change-on-failure", "When the pinned endpoint fails, retry elsewhere and re-pin the"
        " client (otherwise retries go to the pinned endpoint).",
        default="false", parse=parse_bool, field="session_cookie_change_on_failure"),
    # Canary (internal/ingress/annotations/canary); "canary.*" fields are CanaryConfig's.
    AnnotationSpec(
        "canary", "Make this Ingress the canary of the main Ingress with the same host, path and pathType.",
        default="false", parse=parse_bool, field="canary"),
    AnnotationSpec(
        "canary-weight", "Requests sent to the canary at random, out of canary-weight-total.",
        default="0", parse=parse_int, field="canary.weight"),
    AnnotationSpec(
        "canary-weight-total", "What canary-weight is a share of; a total <= 100 counts as 100.",
        default="100", parse=parse_int, field="canary.weight_total"),
    AnnotationSpec(
        "canary-by-header", 'Request header that forces the canary ("always") or the main backend ("never").',
        parse=parse_basic_name, field="canary.by_header"),
    AnnotationSpec(
        "canary-by-header-value", "The canary-by-header value that selects the canary (exact match; any other"
        " value falls through to the cookie and weight).",
        parse=parse_basic_name, field="canary.by_header_value"),
    AnnotationSpec(
        "canary-by-header-pattern", "Regex searched in the canary-by-header value; a match selects the canary."
        " Ignored when canary-by-header-value is set.",
        parse=parse_header_pattern, field="canary.by_header_pattern"),
    AnnotationSpec(
        "canary-by-cookie", 'Cookie that forces the canary ("always") or the main backend ("never").',
        parse=parse_basic_name, field="canary.by_cookie"),
)

CANARY_FIELD = "canary."

# What a canary Ingress itself decides (controller.go createUpstreams / mergeAlternativeBackend):
# its upstream's balancing and its affinity behaviour. Everything else comes from the main Ingress.
CANARY_OWN = frozenset({
    "canary", "canary-weight", "canary-weight-total", "canary-by-header", "canary-by-header-value",
    "canary-by-header-pattern", "canary-by-cookie", "load-balance", "upstream-hash-by", "upstream-hash-by-subset",
    "upstream-hash-by-subset-size", "service-upstream", "affinity-canary-behavior",
})
_AFFINITY = frozenset({
    "affinity", "affinity-mode", "session-cookie-name", "session-cookie-path", "session-cookie-domain",
    "session-cookie-expires", "session-cookie-max-age", "session-cookie-secure", "session-cookie-samesite",
    "session-cookie-conditional-samesite-none", "session-cookie-change-on-failure",
})
IGNORED_ON_CANARY = "ignored on a canary Ingress: the main Ingress's setting applies"
IGNORED_AFFINITY_ON_CANARY = (
    "ignored on a canary Ingress: the canary takes the main Ingress's affinity settings"
    " (affinity-canary-behavior: sticky) or has no affinity (legacy)"
)

# Known to ingress-nginx, not (yet) implemented by ingressd: a warning, never an error.
_NOT_YET = {
    "upstream-hash-by-subset": "Hash onto a subset of endpoints.",
    "upstream-hash-by-subset-size": "Size of the hashed subset.",
    "upstream-vhost": "Host header sent upstream.",
    "service-upstream": "Proxy to the Service cluster IP instead of the endpoints.",
    "preserve-trailing-slash": "Keep the trailing slash in the HTTPS redirect.",
    "ssl-passthrough": "Pass TLS through to the pod unterminated.",
    "ssl-ciphers": "TLS ciphers of the server.",
    "ssl-prefer-server-ciphers": "Prefer the server's cipher order.",
    "proxy-ssl-secret": "Client certificate for HTTPS to the pod.",
    "proxy-ssl-verify-depth": "Certificate chain depth when verifying the pod.",
    "proxy-ssl-ciphers": "TLS ciphers towards the pod.",
    "proxy-ssl-protocols": "TLS protocols towards the pod.",
    "proxy-next-upstream-timeout": "Time limit for retries on other endpoints.",
    "proxy-buffering": "Buffer responses.",
    "proxy-buffer-size": "Size of the first response buffer.",
    "proxy-buffers-number": "Number of response buffers.",
    "proxy-busy-buffers-size": "Buffers busy sending to the client.",
    "proxy-max-temp-file-size": "Largest temporary file for buffered responses.",
    "proxy-http-version": "HTTP version spoken to the pod.",
    "proxy-cookie-domain": "Rewrite the domain of Set-Cookie.",
    "proxy-cookie-path": "Rewrite the path of Set-Cookie.",
    "proxy-redirect-from": "Rewrite Location headers from this.",
    "proxy-redirect-to": "Rewrite Location headers to this.",
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
    canary = _canary_enabled(annotations)
    ignored = dict(ignored_on_canary(annotations)) if canary else {}
    for key, value in annotations.items():
        if not isinstance(key, str) or not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX):]
        spec = ANNOTATIONS.get(name)
        if spec is None:
            message = "unknown annotation"
            close = difflib.get_close_matches(name, ANNOTATIONS, n=1)
            if close:
                message += f' (did you mean "{PREFIX}{close[0]}"?)'
            problems.append((key, "warning", message))
        elif key in ignored:
            problems.append((key, "warning", ignored[key]))
        elif not spec.supported:
            problems.append((key, "warning", "not implemented by ingressd yet"))
        elif not isinstance(value, str):
            problems.append((key, "error", f"annotation values are strings: quote {value!r}"))
        elif spec.parse is not None:
            try:
                spec.parse(value)
            except AnnotationError as err:
                problems.append((key, err.severity, str(err)))
    problems.extend(_check_canary(annotations, canary) if canary is not None else ())
    if not canary:
        problems.extend(_check_affinity(annotations))
    return problems


def ignored_on_canary(annotations: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, message) for the known nginx annotations a canary Ingress does not decide."""
    out = []
    for key in annotations:
        if isinstance(key, str) and key.startswith(PREFIX):
            name = key[len(PREFIX):]
            if name in ANNOTATIONS and name not in CANARY_OWN:
                out.append((key, IGNORED_AFFINITY_ON_CANARY if name in _AFFINITY else IGNORED_ON_CANARY))
    return out


def _value(annotations: dict[str, Any], name: str, default: Any = None) -> Any:
    """The parsed value of an implemented annotation; `default` when missing or invalid."""
    value = annotations.get(PREFIX + name)
    parse = ANNOTATIONS[name].parse
    if not isinstance(value, str) or parse is None:
        return default
    try:
        return parse(value)
    except AnnotationError:
        return default


def _canary_enabled(annotations: dict[str, Any]) -> bool | None:
    """True for a canary Ingress; False when canary-* annotations are set without `canary: "true"`
    (ingress-nginx's "configured but not enabled"); None when the Ingress is not about canaries."""
    if _value(annotations, "canary", False):
        return True
    if (_value(annotations, "canary-weight", 0) > 0 or any(
            _value(annotations, name) for name in
            ("canary-by-header", "canary-by-header-value", "canary-by-header-pattern", "canary-by-cookie"))):
        return False
    return None


def _check_canary(annotations: dict[str, Any], enabled: bool) -> list[tuple[str, str, str]]:
    if not enabled:
        configured = [key for key in annotations if isinstance(key, str) and key.startswith(PREFIX + "canary-")]
        key = PREFIX + "canary" if PREFIX + "canary" in annotations else configured[0]
        message = ("the annotation canary does not contain a valid configuration: configured but not enabled;"
                   f' add {PREFIX}canary: "true" to make this Ingress a canary (ingress-nginx ignores its'
                   " canary-* annotations and routes it as a main Ingress)")
        return [(key, "error", message)]
    problems: list[tuple[str, str, str]] = []

    def warn(name: str, message: str) -> None:
        problems.append((PREFIX + name, "warning", message))

    total = _value(annotations, "canary-weight-total")
    if total is not None and total < 100:
        warn("canary-weight-total", f"a total of {total} is ignored: ingress-nginx uses 100 for any total <= 100")
    header = _value(annotations, "canary-by-header")
    header_value = _value(annotations, "canary-by-header-value")
    pattern = _value(annotations, "canary-by-header-pattern")
    for name, value in (("canary-by-header-value", header_value), ("canary-by-header-pattern", pattern)):
        if value and not header:
            warn(name, f"has no effect without {PREFIX}canary-by-header")
    if pattern and header_value:
        warn("canary-by-header-pattern", "ignored: canary-by-header-value is set and takes precedence")
    elif pattern and header and compile_header_pattern(pattern) is None:
        warn("canary-by-header-pattern", (f"{pattern!r} is not a valid regex: every request carrying the {header}"
                                          " header goes to the main backend, whatever the cookie and weight say"))
    return problems


def _check_affinity(annotations: dict[str, Any]) -> list[tuple[str, str, str]]:
    if _value(annotations, "affinity") == "cookie":
        if _value(annotations, "use-regex", False) and not _value(annotations, "session-cookie-path"):
            message = ("session-cookie-path should be set when use-regex is true: otherwise the cookie path is"
                       " the path regex as written")
            return [(PREFIX + "affinity", "warning", message)]
        return []
    unused = _AFFINITY - {"affinity"}
    return [(key, "warning", f'has no effect without {PREFIX}affinity: "cookie"') for key in annotations
            if isinstance(key, str) and key.startswith(PREFIX) and key[len(PREFIX):] in unused]


def parse_location_config(annotations: dict[str, Any], defaults: LocationConfig | None = None) -> LocationConfig:
    """The implemented annotations of one Ingress; missing or invalid ones keep the default
    (`defaults`: the controller ConfigMap's, else ingress-nginx's).

    The canary-* annotations make `canary` a CanaryConfig only with `canary: "true"`.
    """
    values: dict[str, Any] = {}
    canary: dict[str, Any] = {}
    for spec in _IMPLEMENTED:
        value = annotations.get(spec.key)
        if not isinstance(value, str) or spec.parse is None or spec.field is None:
            continue
        try:
            parsed = spec.parse(value)
        except AnnotationError:
            continue
        if spec.field.startswith(CANARY_FIELD):
            canary[spec.field[len(CANARY_FIELD):]] = parsed
        else:
            values[spec.field] = parsed
    if values.pop("canary", False):
        values["canary"] = CanaryConfig(**canary)
    defaults = defaults or _DEFAULT_CONFIG
    return replace(defaults, **values) if values else defaults


_DEFAULT_CONFIG = LocationConfig()
