"""The load generator: real HTTP(S) requests over keep-alive connections, each response attributed
to the backend that served it, latencies in HDR histograms.

Closed loop (`concurrency`): N workers, each sends its next request when the previous answered.
Open loop (`rate`): requests are due at fixed times (or Poisson arrivals) whatever the server does,
and latency counts from the time a request was due, not when it went out, so a stalled server shows
up as queueing instead of being hidden by the client slowing down (coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from hdrh.histogram import HdrHistogram
from yarl import URL

from ingressd import __version__
from ingressd.bench.stats import status_class

UPSTREAM_HEADER = "X-Ingressd-Upstream"
CANARIES_PATH = "/ingressd/v1/canaries"
EXPLAIN_PATH = "/ingressd/v1/explain"
UNKNOWN = "(unknown)"  # a response nothing names a backend for
PROXY = "(ingressd)"   # a response ingressd answered itself (its own 404/502/503/504 page): no backend
ERROR = "(error)"      # no response at all: connection refused, reset, timeout
UNNAMED = (UNKNOWN, PROXY, ERROR)  # rows that are not backends, in the order the table ends with them
# The signature of the pages the proxy answers itself (ingressd/proxy/errors.py error_page).
PROXY_PAGE_MARK = b"<hr><center>ingressd</center>"
OPEN_LOOP_MAX_IN_FLIGHT = 1000  # open loop: past this many unanswered requests, new ones queue (and count it)

_LATENCY_MAX_US = 3_600_000_000  # one hour; slower values are clamped
_PROGRESS_INTERVAL = 0.1


class AdminError(Exception):
    """The admin API could not tell the canaries (down, not ingressd, or a bad answer)."""


def attribute(upstream: str | None, content_type: str, body: bytes) -> str:
    """The backend a response came from: the proxy's X-Ingressd-Upstream header, else PROXY for a
    page ingressd answered itself, else the echo app's JSON `version` (then `pod`), else UNKNOWN."""
    if upstream:
        return upstream.strip()
    if content_type == "text/html" and body.rstrip().endswith(b"</html>") and PROXY_PAGE_MARK in body[-64:]:
        return PROXY
    if "json" in content_type and body:
        try:
            doc = json.loads(body)
        except ValueError:
            return UNKNOWN
        if isinstance(doc, dict):
            for key in ("version", "pod"):
                value = doc.get(key)
                if isinstance(value, str) and value:
                    return value
    return UNKNOWN


def new_histogram() -> HdrHistogram:
    """Microseconds from 1 µs to an hour at 3 significant digits."""
    return HdrHistogram(1, _LATENCY_MAX_US, 3)


def record_latency(histogram: HdrHistogram, seconds: float) -> None:
    histogram.record_value(min(max(1, round(seconds * 1e6)), _LATENCY_MAX_US))


@dataclass
class BackendStats:
    name: str
    count: int = 0
    statuses: Counter = field(default_factory=Counter)  # "2xx".."5xx", "errors"
    latency: HdrHistogram = field(default_factory=new_histogram)
    latency_sum: float = 0.0  # seconds; hdrh's own mean walks every bucket in Python

    def record(self, seconds: float) -> None:
        record_latency(self.latency, seconds)
        self.latency_sum += seconds


@dataclass
class LoadSpec:
    url: str
    host: str
    headers: Sequence[tuple[str, str]] = ()
    cookies: Sequence[tuple[str, str]] = ()
    requests: int | None = None     # stop after this many requests ...
    duration: float | None = None   # ... or after this many seconds, whichever comes first
    concurrency: int = 16           # closed loop: workers (and connections)
    rate: float | None = None       # open loop: requests per second; overrides concurrency
    arrival: str = "constant"       # open loop: "constant" spacing or "poisson" arrivals
    seed: int | None = None         # the Poisson arrivals' random source
    timeout: float = 10.0           # per request, connect to last body byte
    ssl: ssl.SSLContext | bool = False  # https: False = do not verify (self-signed local certs)

    def __post_init__(self) -> None:
        if self.requests is None and self.duration is None:
            raise ValueError("a run needs a request count or a duration, or it would never stop")
        if self.requests is not None and self.requests < 1:
            raise ValueError("requests must be >= 1")
        if self.duration is not None and self.duration <= 0:
            raise ValueError("duration must be > 0")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be > 0")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self.timeout <= 0:
            raise ValueError("timeout must be > 0")
        if self.arrival not in ("constant", "poisson"):
            raise ValueError(f"arrival must be constant or poisson, got {self.arrival!r}")

    @property
    def mode(self) -> str:
        return "open" if self.rate is not None else "closed"

    def request_headers(self) -> dict[str, str]:
        headers = {"Host": self.host, "User-Agent": f"ingressd-bench/{__version__}"}
        for name, value in self.headers:
            headers[name] = value
        if self.cookies:
            sent = "; ".join(f"{name}={value}" for name, value in self.cookies)
            headers["Cookie"] = f"{headers['Cookie']}; {sent}" if "Cookie" in headers else sent
        return headers


@dataclass(frozen=True)
class Progress:
    done: int
    target: int | None       # requests to send, when bounded by count
    elapsed: float
    duration: float | None   # seconds, when bounded by time


@dataclass
class LoadResult:
    spec: LoadSpec
    backends: dict[str, BackendStats] = field(default_factory=dict)
    overall: BackendStats = field(default_factory=lambda: BackendStats("all"))  # every response
    sent: int = 0
    done: int = 0
    error_kinds: Counter = field(default_factory=Counter)  # "ClientConnectorError: ..." -> count
    elapsed: float = 0.0
    max_send_lag: float = 0.0  # open loop: how far behind schedule the client itself fell

    def backend(self, name: str) -> BackendStats:
        stats = self.backends.get(name)
        if stats is None:
            stats = self.backends[name] = BackendStats(name)
        return stats

    def record(self, name: str, status: int, seconds: float) -> None:
        stats = self.backend(name)
        stats.count += 1
        stats.statuses[status_class(status)] += 1
        stats.record(seconds)
        self.overall.count += 1
        self.overall.statuses[status_class(status)] += 1
        self.overall.record(seconds)
        self.done += 1

    def record_error(self, exc: BaseException) -> None:
        stats = self.backend(ERROR)
        stats.count += 1
        stats.statuses["errors"] += 1
        self.error_kinds[_describe(exc)] += 1
        self.done += 1

    @property
    def responses(self) -> int:
        return self.done - self.errors

    @property
    def errors(self) -> int:
        stats = self.backends.get(ERROR)
        return stats.count if stats else 0

    def attributed(self) -> dict[str, int]:
        """Counts per named backend: what the shares and the goodness-of-fit test are about."""
        return {name: s.count for name, s in self.backends.items() if name not in UNNAMED}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"


def _client_session(spec: LoadSpec, limit: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=spec.timeout),
        cookie_jar=aiohttp.DummyCookieJar(),  # never replay a Set-Cookie: affinity would skew the split
    )


async def run_load(spec: LoadSpec, on_progress: Callable[[Progress], None] | None = None) -> LoadResult:
    """Run the load and return what it observed; stops by itself (count, duration, timeouts)."""
    result = LoadResult(spec)
    url = URL(spec.url, encoded=True)  # send the path and query byte for byte
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"--url must be an http:// or https:// URL, got {spec.url!r}")
    https = url.scheme == "https"
    headers = spec.request_headers()
    limit = OPEN_LOOP_MAX_IN_FLIGHT if spec.mode == "open" else spec.concurrency
    start = time.perf_counter()
    deadline = start + spec.duration if spec.duration is not None else None

    async with _client_session(spec, limit) as session:

        async def one(due: float) -> None:
            try:
                async with session.get(
                    url,
                    headers=headers,
                    allow_redirects=False,
                    ssl=spec.ssl if https else True,
                    server_hostname=spec.host if https else None,
                ) as response:
                    body = await response.read()
                    seconds = time.perf_counter() - due
                    name = attribute(response.headers.get(UPSTREAM_HEADER), response.content_type, body)
                    result.record(name, response.status, seconds)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                result.record_error(exc)

        def more() -> bool:
            if spec.requests is not None and result.sent >= spec.requests:
                return False
            return deadline is None or time.perf_counter() < deadline

        async def closed_worker() -> None:
            while more():
                result.sent += 1
                await one(time.perf_counter())

        async def open_dispatcher() -> None:
            rng = random.Random(spec.seed)
            offset = 0.0  # Poisson: running sum of exponential gaps
            tasks: set[asyncio.Task] = set()
            while spec.requests is None or result.sent < spec.requests:
                # Constant spacing from the index, not a running sum, so float error cannot add up.
                due = start + (offset if spec.arrival == "poisson" else result.sent / spec.rate)
                if deadline is not None and due >= deadline:
                    break
                now = time.perf_counter()
                if due > now:
                    await asyncio.sleep(due - now)
                    now = time.perf_counter()
                result.max_send_lag = max(result.max_send_lag, now - due)
                result.sent += 1
                task = asyncio.create_task(one(due))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                offset += rng.expovariate(spec.rate)
            if tasks:
                await asyncio.gather(*tasks)

        async def report_progress() -> None:
            while True:
                on_progress(Progress(result.done, spec.requests, time.perf_counter() - start, spec.duration))
                await asyncio.sleep(_PROGRESS_INTERVAL)

        ticker = asyncio.create_task(report_progress()) if on_progress else None
        try:
            if spec.mode == "open":
                await open_dispatcher()
            else:
                workers = spec.concurrency if spec.requests is None else min(spec.concurrency, spec.requests)
                await asyncio.gather(*(closed_worker() for _ in range(workers)))
        finally:
            result.elapsed = time.perf_counter() - start
            if ticker is not None:
                ticker.cancel()
                try:
                    await ticker
                except asyncio.CancelledError:
                    pass
                on_progress(Progress(result.done, spec.requests, result.elapsed, spec.duration))
    return result


async def _admin_get(admin_url: str, path: str, params, timeout: float, token: str | None,
                     unauthorized: str | None, missing_ok: bool = False) -> dict | None:
    """GET a JSON object from the admin API; AdminError if unavailable (its message `unauthorized`
    when the token is refused); None for a 404 when `missing_ok` (an ingressd without that path)."""
    url = admin_url.rstrip("/") + path
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url, headers=headers, params=params) as response,
        ):
            if response.status == 401:
                raise AdminError(unauthorized or f"{url} answered HTTP 401 Unauthorized (no valid token)")
            if response.status == 404 and missing_ok:
                return None
            if response.status != 200:
                raise AdminError(f"{url} answered HTTP {response.status}")
            doc = await response.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise AdminError(f"cannot read {url}: {_describe(exc)}") from None
    except ValueError:
        raise AdminError(f"{url} did not answer JSON") from None
    if not isinstance(doc, dict):
        raise AdminError(f"{url} did not answer a JSON object")
    return doc


async def fetch_canaries(admin_url: str, timeout: float = 5.0, token: str | None = None,
                         unauthorized: str | None = None) -> list[dict]:
    """The admin API's canary list (`GET <admin>/ingressd/v1/canaries`, with the admin API's bearer
    `token`); AdminError if unavailable, its message `unauthorized` when the token is refused."""
    url = admin_url.rstrip("/") + CANARIES_PATH
    doc = await _admin_get(admin_url, CANARIES_PATH, None, timeout, token, unauthorized)
    items = doc.get("items")
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise AdminError(f"{url} answered JSON without an items list")
    return [dict(item) for item in items]


def explain_params(spec: LoadSpec, listener_port: int | None = None) -> list[tuple[str, str]]:
    """GET /ingressd/v1/explain's query for the request this spec sends: host, path and query,
    method, scheme, every header (cookies in Cookie, as sent) and the Gateway listener port when given."""
    parts = urlsplit(spec.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    params = [("host", spec.host), ("path", target), ("method", "GET"), ("scheme", parts.scheme or "http")]
    params += [("header", f"{name}: {value}") for name, value in spec.request_headers().items()
               if name.lower() != "host"]
    if listener_port is not None:
        params.append(("port", str(listener_port)))
    return params


async def fetch_explain(admin_url: str, spec: LoadSpec, timeout: float = 5.0, token: str | None = None,
                        unauthorized: str | None = None, listener_port: int | None = None) -> dict | None:
    """The running instance's explanation of the request `spec` sends (`GET <admin>/ingressd/v1/explain`:
    the proxy's own decide()); None when that ingressd has no explain endpoint; AdminError if unavailable."""
    return await _admin_get(admin_url, EXPLAIN_PATH, explain_params(spec, listener_port), timeout, token,
                            unauthorized, missing_ok=True)
