"""Expected backend shares for a bench run: from the admin API (an HTTPRoute rule's backendRef
weights, or an Ingress canary), or `--expect`.

Pure: the admin documents come in as parsed JSON. Which rule serves the benchmarked request is the
running instance's own decision (GET /ingressd/v1/explain), never matched again here. For an
HTTPRoute rule the split is its weights (`http_route_split`). For an Ingress canary the
per-request canary decision is re-derived here from the reference (`route_to_alternative_balancer`
in ingress-nginx's balancer.lua) rather than imported from ingressd.routing, so the bench checks
the proxy against the semantics instead of against itself. A bench run sends the same headers and
cookies every time, so the header and cookie steps are all or nothing and only the weight step is
a split.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ingressd.routing.hosts import is_wildcard, match_host, normalize_host
from ingressd.routing.paths import EXACT, match_exact, match_prefix

ALIASES = ("main", "canary")


@dataclass(frozen=True)
class CanaryShare:
    share: float  # expected fraction of requests the canary serves
    step: str     # "header" | "cookie" | "weight": the reference's step that decides
    reason: str


@dataclass(frozen=True)
class Expectation:
    shares: dict[str, float]          # backend name -> expected share; adds up to 1
    source: str                       # "admin", "--expect" or "admin and --expect"
    route: dict | None = None         # the canaries item the shares came from
    decision: CanaryShare | None = None
    notes: tuple[str, ...] = field(default=())


def parse_pair(text: str, flag: str) -> tuple[str, str]:
    """"K=V" -> ("K", "V"); the value may itself contain "="."""
    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise ValueError(f"{flag} takes NAME=VALUE, got {text!r}")
    return key.strip(), value


def parse_share(text: str) -> float:
    """"0.1" or "10%" -> 0.1."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"not a share: {text!r} (use 0.1 or 10%)") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a share must be between 0 and 1 (0 % and 100 %), got {text!r}")
    return value


def parse_expect(values: Sequence[str]) -> dict[str, float]:
    shares: dict[str, float] = {}
    for text in values:
        name, value = parse_pair(text, "--expect")
        if name in shares:
            raise ValueError(f"--expect names {name!r} twice")
        shares[name] = parse_share(value)
    return shares


def parse_cookie_header(value: str) -> dict[str, str]:
    """"a=1; b=2" -> {"a": "1", "b": "2"}; the first occurrence of a name wins, as in nginx."""
    cookies: dict[str, str] = {}
    for part in value.split(";"):
        name, eq, val = part.strip().partition("=")
        if eq and name and name not in cookies:
            cookies[name] = val
    return cookies


def find_canary(items: Sequence[Mapping], host: str, path: str) -> Mapping | None:
    """For an ingressd without GET /ingressd/v1/explain (canary_for_rule otherwise): the canary item serving host+path: exact host over wildcard over hostless, then the
    longest matching path, Exact before Prefix on a tie (ImplementationSpecific matches as Prefix).

    Approximate where the proxy would pick a more specific route that has no canary: the canary
    list only holds routes that have one.
    """

    def host_rank(item_host: str) -> int:
        if not item_host:
            return 0
        return 1 if is_wildcard(item_host) else 2

    request_host = normalize_host(host)
    candidates = []
    for item in items:
        item_host = normalize_host(item.get("host") or "")
        rule_path = item.get("path") or "/"
        path_type = item.get("pathType") or "Prefix"
        if not match_host(item_host, request_host):
            continue
        matched = match_exact(rule_path, path) if path_type == EXACT else match_prefix(rule_path, path)
        if matched:
            candidates.append(((host_rank(item_host), len(rule_path.rstrip("/")), path_type == EXACT), item))
    if not candidates:
        return None
    return max(candidates, key=lambda pair: pair[0])[1]


def canary_for_rule(items: Sequence[Mapping], rule: Mapping) -> Mapping | None:
    """The canary item attached to the Ingress rule an explanation says serves (`rule`: its host,
    path and pathType, as GET /ingressd/v1/explain names them); None when that rule has none."""
    key = (rule.get("host") or "", rule.get("path"), rule.get("pathType"))
    return next((item for item in items
                 if ((item.get("host") or ""), item.get("path"), item.get("pathType")) == key), None)


_PCRE_NAMED_GROUP = re.compile(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>")


def _header_key(name: str) -> str:
    return name.lower().replace("_", "-")


def _cookie(cookies: Mapping[str, str], name: str) -> str | None:
    """nginx's $cookie_NAME: the first cookie whose name matches case-insensitively."""
    wanted = name.lower()
    return next((value for key, value in cookies.items() if key.lower() == wanted), None)


def canary_share(item: Mapping, headers: Mapping[str, str], cookies: Mapping[str, str]) -> CanaryShare:
    """The canary's expected share for requests carrying these headers and cookies.

    Names match as nginx's $http_/$cookie_ variables do: case-insensitively, and for headers
    "-" and "_" alike. The reference's order: header (value → exact match, else pattern → unanchored search with an
    invalid pattern meaning main, else always/never), then cookie (always/never), then weight,
    where a weight total <= 100 counts as 100. Affinity is not modelled: bench sends no cookie
    the proxy set.
    """
    sent_headers = {_header_key(name): value for name, value in headers.items()}
    by_header = item.get("byHeader") or ""
    if by_header and _header_key(by_header) in sent_headers:
        sent = sent_headers[_header_key(by_header)]
        said = f'header "{by_header}: {sent}"'
        if item.get("byHeaderValue"):
            if sent == item["byHeaderValue"]:
                return CanaryShare(1.0, "header", f"{said} equals canary-by-header-value")
        elif item.get("byHeaderPattern"):
            try:
                # PCRE spells a named group (?<name>...), Python (?P<name>...).
                found = re.search(_PCRE_NAMED_GROUP.sub(r"(?P<\1>", item["byHeaderPattern"]), sent)
            except (re.error, OverflowError, RecursionError):
                return CanaryShare(0.0, "header", f"canary-by-header-pattern is not a valid regex: {said} goes to main")
            if found:
                return CanaryShare(1.0, "header", f"{said} matches canary-by-header-pattern")
        elif sent == "always":
            return CanaryShare(1.0, "header", f"{said} forces the canary")
        elif sent == "never":
            return CanaryShare(0.0, "header", f"{said} forces the main backend")
    by_cookie = item.get("byCookie") or ""
    sent = _cookie(cookies, by_cookie) if by_cookie else None
    if sent is not None:
        if sent == "always":
            return CanaryShare(1.0, "cookie", f'cookie "{by_cookie}=always" forces the canary')
        if sent == "never":
            return CanaryShare(0.0, "cookie", f'cookie "{by_cookie}=never" forces the main backend')
    weight = int(item.get("weight") or 0)
    total = int(item.get("weightTotal") or 100)
    total = max(100, total)
    share = min(max(weight, 0), total) / total
    return CanaryShare(share, "weight", f"canary-weight {weight} of {total}")


def expectation(
    item: Mapping | None,
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
    overrides: Mapping[str, float],
) -> Expectation | None:
    """Shares from the canary item, with `--expect` overrides; None when nothing is known.

    Overrides name upstreams or the aliases "main"/"canary" (which need the item). Backends the
    overrides leave out share the remainder in proportion to what the item gave them (equally when
    it gave them nothing); without an item the overrides must add up to 1 by themselves.
    Raises ValueError for overrides that cannot be resolved or do not add up.
    """
    base: dict[str, float] = {}
    decision = None
    if item is not None and item.get("main") and item.get("canary"):
        decision = canary_share(item, headers, cookies)
        base = {item["main"]: 1.0 - decision.share, item["canary"]: decision.share}
        if item["main"] == item["canary"]:
            base = {item["main"]: 1.0}
    if not overrides:
        return Expectation(dict(base), "admin", dict(item), decision) if base else None
    aliases = {alias: item[alias] for alias in ALIASES} if base else {}

    def no_alias(alias: str) -> str:
        return (f"--expect {alias}=… needs the admin API to say which upstream is the {alias}; "
                "name the upstream (<namespace>-<service>-<port>) instead")

    shares = _combine(base, aliases, overrides, no_alias, keep_zero=True)
    source = "admin and --expect" if base else "--expect"
    return Expectation(shares, source, dict(item) if item is not None else None, decision)


def _combine(base: Mapping[str, float], aliases: Mapping[str, str], overrides: Mapping[str, float],
             no_alias, keep_zero: bool) -> dict[str, float]:
    """`overrides` (names or aliases) over `base`: backends the overrides leave out share the
    remainder in proportion to `base` (equally when it gave them nothing); without a base the
    overrides must add up to 1. `no_alias(alias)` says why an alias cannot be used; `keep_zero`
    keeps left-out backends whose derived share is 0 (the test treats a backend not named as 0)."""
    resolved: dict[str, float] = {}
    for name, share in overrides.items():
        if name in ALIASES:
            if name not in aliases:
                raise ValueError(no_alias(name))
            name = aliases[name]
        if name in resolved:
            raise ValueError(f"--expect gives {name!r} twice (once through an alias)")
        resolved[name] = share
    given = sum(resolved.values())
    if given > 1.0 + 1e-9:
        raise ValueError(f"--expect shares add up to {given:g}, more than 1")
    rest = [name for name in base if name not in resolved]
    remainder = max(0.0, 1.0 - given)
    shares = dict(resolved)
    if rest:
        weight = sum(base[name] for name in rest)
        for name in rest:
            share = remainder * (base[name] / weight if weight > 0 else 1.0 / len(rest))
            if share > 1e-12 or keep_zero:
                shares[name] = share
    elif abs(remainder) > 1e-6:
        raise ValueError(f"--expect shares add up to {given:g}, not 1; name every backend or use the admin API")
    return shares


# ---- HTTPRoute rules ------------------------------------------------------------------------

@dataclass(frozen=True)
class RouteSplit:
    """What the running instance's decision (GET /ingressd/v1/explain) says about the benchmarked
    request when an HTTPRoute routes it: the expected shares of the upstreams that name themselves
    in responses (`base`, empty when no backend serves), the main/canary aliases, and notes."""

    route: dict                   # for the report: kind, route, rule, match, matches, hostname, backendRefs
    base: dict[str, float]
    aliases: dict[str, str]       # "main"/"canary" -> upstream
    alias_problem: str            # why an alias missing from `aliases` cannot be used
    decision: CanaryShare | None
    notes: tuple[str, ...]


def _pct(p: float) -> str:
    return f"{p * 100:.4g} %"


def http_route_split(doc: Mapping) -> RouteSplit | None:
    """The split of the HTTPRoute rule an explanation names; None when no HTTPRoute routes the
    request (an Ingress may: the canary list applies).

    Shares follow the backendRefs' weights. A backendRef that cannot be resolved (RefNotPermitted,
    BackendNotFound, InvalidKind, ...) answers 500 for its share, and ingressd's own answers name no
    backend, so the split is expected among the resolvable ones and a note says so; a weight 0
    expects nothing (a response from it is a mismatch without a row for it). A redirect, a rule
    without backendRefs, every weight 0, or no matching rule: nothing to test, said in a note.
    Aliases need a rule with exactly two backendRefs: main the first, canary the second (as
    `ingressd convert` writes a canary).
    """
    route = doc.get("httpRoute")
    if not isinstance(route, Mapping):
        return None
    if "route" not in route:
        return RouteSplit({"kind": "HTTPRoute", "hostname": route.get("hostname")}, {}, {},
                          "no HTTPRoute rule matches the request", None,
                          (f"{route.get('why')}: nothing to test against",))
    name = f"HTTPRoute {route['route']} rule {route['rule']}"
    refs = [ref for ref in route.get("backendRefs") or () if isinstance(ref, Mapping)]
    summary = {"kind": "HTTPRoute", "route": route["route"], "rule": route["rule"], "match": route.get("match"),
               "ruleName": route.get("ruleName"), "matches": route.get("matches"), "hostname": route.get("hostname"),
               "backendRefs": [{key: ref.get(key) for key in ("backend", "weight", "probability", "upstream")}
                               | ({"problem": ref["problem"]} if ref.get("problem") else {}) for ref in refs]}
    outcome = doc.get("outcome") or {}

    def nothing(why: str) -> RouteSplit:
        return RouteSplit(summary, {}, {}, f"{name} has no backend that serves: {why}", None,
                          (f"{name}: {why}: nothing to test against",))

    status = outcome.get("status")
    if outcome.get("action") == "answer" and isinstance(status, int) and 300 <= status < 400:
        where = next((v for k, v in outcome.get("headers") or () if k == "Location"), None)
        return nothing(f"RequestRedirect answers {status}" + (f" to {where}" if where else "") + ", no backend")
    if not refs:
        return nothing("the rule has no backendRefs: every request answers 500")
    total = sum(ref.get("weight") or 0 for ref in refs)
    if total <= 0:
        return nothing("every backendRef has weight 0: every request answers 500")

    notes = []
    serving: dict[str, int] = {}
    for ref in refs:
        weight, upstream = ref.get("weight") or 0, ref.get("upstream")
        if weight <= 0:
            notes.append(f"{name}: backendRef {ref.get('backend')} has weight 0: it should serve nothing")
        elif upstream is None:
            problem = ref.get("problem") or {}
            notes.append(f"{name}: backendRef {ref.get('backend')} (weight {weight}, {_pct(weight / total)} of "
                         f"requests) cannot be resolved ({problem.get('reason')}: {problem.get('message')}): "
                         "those requests answer 500, which names no backend; the split is expected among the others")
        else:
            serving[upstream] = serving.get(upstream, 0) + weight
            if ref.get("found") is False or ref.get("endpoints") == []:
                notes.append(f"{name}: backendRef {ref.get('backend')} has no ready endpoints now: its share "
                             "answers 503, which names no backend, until it has")
    served = sum(serving.values())
    if not served:
        return nothing("no weighted backendRef can be resolved: every request answers 500")
    base = {upstream: weight / served for upstream, weight in serving.items()}

    aliases: dict[str, str] = {}
    alias_problem = ""
    if len(refs) == 2 and all(ref.get("upstream") for ref in refs) and refs[0]["upstream"] != refs[1]["upstream"]:
        aliases = {"main": refs[0]["upstream"], "canary": refs[1]["upstream"]}
    elif len(refs) == 1 and refs[0].get("upstream"):
        aliases = {"main": refs[0]["upstream"]}
        alias_problem = f"{name} has one backendRef: there is no canary"
    elif len(refs) == 2:
        alias_problem = f"{name}: main and canary need two resolvable backendRefs to different Services"
    else:
        alias_problem = (f"{name} has {len(refs)} backendRefs: main and canary are ambiguous; name the upstreams "
                         f"({', '.join(ref.get('upstream') or str(ref.get('backend')) for ref in refs)})")

    where = f"match {route.get('match')} ({route.get('matches')})"
    if len(serving) == 1:
        only = next(iter(serving))
        decision = CanaryShare(0.0 if aliases.get("canary") != only else 1.0, "backendRef",
                               f"{where}: backendRef {only} serves every request")
    else:
        weights = ", ".join(f"{ref.get('backend')} {ref.get('weight')}" for ref in refs)
        decision = CanaryShare(base.get(aliases.get("canary", ""), 0.0), "weight",
                               f"{where}: backendRef weights {weights} (of {total})")
    return RouteSplit(summary, base, aliases, alias_problem, decision, tuple(notes))


def route_expectation(split: RouteSplit, overrides: Mapping[str, float]) -> Expectation | None:
    """Shares from an HTTPRoute rule with `--expect` overrides (names, or main/canary); None when
    the rule has no backend to test and nothing overrides. Left-out backends share the remainder
    by weight; one left out with nothing left is not listed (no 0 % row: the test counts any
    response from a backend not listed as a mismatch). Raises ValueError as `expectation` does."""
    if not overrides:
        return Expectation(dict(split.base), "admin", split.route, split.decision) if split.base else None

    def no_alias(alias: str) -> str:
        return f"--expect {alias}=…: {split.alias_problem}; name the upstream (<namespace>-<service>-<port>) instead"

    shares = _combine(split.base, split.aliases, overrides, no_alias, keep_zero=False)
    source = "admin and --expect" if split.base else "--expect"
    return Expectation(shares, source, split.route, split.decision if split.base else None)
