"""One bench run as a library call: expected shares from the admin API (or overrides), the load,
and the goodness-of-fit test. `ingressd bench` and benchmarks/canary_split.py both use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from ingressd.bench import DEFAULT_ADMIN
from ingressd.bench.expect import (
    ALIASES,
    Expectation,
    canary_for_rule,
    expectation,
    find_canary,
    http_route_split,
    parse_cookie_header,
    route_expectation,
)
from ingressd.bench.loadgen import (
    AdminError,
    LoadSpec,
    Progress,
    fetch_canaries,
    fetch_explain,
    run_load,
)
from ingressd.bench.report import BenchReport
from ingressd.bench.stats import chi_square_gof


class BenchError(Exception):
    """A run that cannot mean anything: unusable overrides, or an admin API that was required."""


async def plan(spec: LoadSpec, admin_url: str | None, overrides: Mapping[str, float] | None = None,
               admin_required: bool = False, token: str | None = None,
               unauthorized: str | None = None, listener_port: int | None = None,
               ) -> tuple[Expectation | None, list[str]]:
    """What the split should be for this spec's requests, and notes on why it is unknown.

    The admin API at `admin_url` (DEFAULT_ADMIN when None) explains the request the spec sends
    (GET /ingressd/v1/explain: the proxy's own decision, on the Gateway listener `listener_port`
    when given); when an HTTPRoute rule routes it, its backendRefs' weights are the split. Else the
    canary list gives the canary attached to the Ingress rule that decision picks (without the
    explain endpoint: the one find_canary picks for the spec's host and path). Failing to reach the admin API
    is a BenchError when `admin_required` or when an override uses the main/canary aliases, else a
    note. `token` is the admin API's bearer token, `unauthorized` what to say when it is refused.
    """
    overrides = dict(overrides or {})
    notes: list[str] = []
    path = urlsplit(spec.url).path or "/"
    admin = admin_url or DEFAULT_ADMIN
    timeout = min(spec.timeout, 5.0)
    item = None
    try:
        explained = await fetch_explain(admin, spec, timeout=timeout, token=token, unauthorized=unauthorized,
                                        listener_port=listener_port)
        split = http_route_split(explained) if explained is not None else None
        if split is None:
            items = await fetch_canaries(admin, timeout=timeout, token=token, unauthorized=unauthorized)
    except AdminError as exc:
        if admin_required or any(name in ALIASES for name in overrides):
            if unauthorized is not None and str(exc) == unauthorized:
                raise BenchError(unauthorized) from None  # it runs: the token is what is missing
            raise BenchError(f"{exc} (is `ingressd run` serving its admin port there?)") from None
        if not overrides:
            notes.append(f"no expected shares: {exc}; pass --admin URL or --expect NAME=SHARE")
    else:
        if split is not None:
            notes.extend(split.notes)
            known = {ref.get("upstream") for ref in split.route.get("backendRefs") or ()} | set(ALIASES)
            strangers = sorted(name for name in overrides if name not in known)
            if split.base and strangers:
                notes.append(f"--expect names {', '.join(strangers)}, not an upstream of the HTTPRoute rule's "
                             f"backendRefs ({', '.join(sorted(u for u in known - set(ALIASES) if u))})")
            try:
                return route_expectation(split, overrides), notes
            except ValueError as exc:
                raise BenchError(str(exc)) from None
        if explained is not None and "rule" in explained:
            rule = explained["rule"]  # the Ingress rule the proxy's decision picks; None: 404 or a per-pod name
            item = canary_for_rule(items, rule) if isinstance(rule, Mapping) else None
        else:
            item = find_canary(items, spec.host, path)
        if item is None and not overrides:
            notes.append(f"the admin API lists no canary for {spec.host}{path}: nothing to test against")

    headers = dict(spec.headers)
    cookies = dict(spec.cookies)
    for name, value in spec.headers:
        if name.lower() == "cookie":
            cookies = {**parse_cookie_header(value), **cookies}
    try:
        return expectation(item, headers, cookies, overrides), notes
    except ValueError as exc:
        raise BenchError(str(exc)) from None


def judge(result, expected: Expectation | None, notes: list[str]) -> BenchReport:
    """The report: the chi-square test when the responses and the expectation speak of the same
    backends, else a note saying why there is no test."""
    test = None
    observed = result.attributed()
    if expected is not None:
        if not result.responses:
            notes.append(f"no response at all from {result.spec.url}: no test")
        elif not observed:
            notes.append("no response named its backend (start `ingressd run` with --expose-upstream): no test")
        elif not set(observed) & {name for name, share in expected.shares.items() if share > 0}:
            notes.append(f"responses name {', '.join(sorted(observed))} but the expectation names "
                         f"{', '.join(sorted(expected.shares))}: no test (start `ingressd run` with "
                         "--expose-upstream, or --expect by these names)")
        else:
            test = chi_square_gof(observed, expected.shares)
    return BenchReport(result, expected, test, tuple(notes))


async def bench(spec: LoadSpec, admin_url: str | None = None, overrides: Mapping[str, float] | None = None,
                admin_required: bool = False,
                on_progress: Callable[[Progress], None] | None = None, token: str | None = None,
                unauthorized: str | None = None, listener_port: int | None = None) -> BenchReport:
    """Plan, load, judge. Raises BenchError before sending anything when the plan is unusable."""
    expected, notes = await plan(spec, admin_url, overrides, admin_required, token, unauthorized, listener_port)
    result = await run_load(spec, on_progress)
    return judge(result, expected, notes)
