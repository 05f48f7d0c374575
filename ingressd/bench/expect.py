"""Expected backend shares for a bench run: from the admin API's canary list, or `--expect`.

Pure: the canary document comes in as parsed JSON. The per-request decision is re-derived here
from the reference (`route_to_alternative_balancer` in ingress-nginx's balancer.lua) rather than
imported from ingressd.routing, so the bench checks the proxy against the semantics instead of
against itself. A bench run sends the same headers and cookies every time, so the header and
cookie steps are all or nothing and only the weight step is a split.
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
    """The canary item serving host+path: exact host over wildcard over hostless, then the
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

    resolved: dict[str, float] = {}
    for name, share in overrides.items():
        if name in ALIASES:
            if not base:
                raise ValueError(
                    f"--expect {name}=… needs the admin API to say which upstream is the {name}; "
                    "name the upstream (<namespace>-<service>-<port>) instead"
                )
            name = item[name]
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
            shares[name] = remainder * (base[name] / weight if weight > 0 else 1.0 / len(rest))
    elif abs(remainder) > 1e-6:
        raise ValueError(f"--expect shares add up to {given:g}, not 1; name every backend or use the admin API")
    source = "admin and --expect" if base else "--expect"
    return Expectation(shares, source, dict(item) if item is not None else None, decision)
