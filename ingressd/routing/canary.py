"""The canary decision of ingress-nginx (balancer.lua `route_to_alternative_balancer`), per request.

Order and quirks, all from the Lua source: an affinity cookie already pinning the request wins;
then the header: with `canary-by-header-value` only an exact match counts (anything else falls
through), else with `canary-by-header-pattern` an unanchored PCRE search (no match falls through,
a regex that fails means the main backend at once), else `always`/`never` (`never` stops);
then the cookie (`always`/`never`); then `random(1..total) <= weight`, where a total <= 100
counts as 100. The header and cookie are looked at only when present in the request.

Everything that does not depend on the request (header key, compiled pattern, effective total,
the decision objects themselves) is computed once per CanaryConfig, so a decision allocates
nothing but, at most, one random draw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from collections.abc import Callable

STEPS = ("affinity", "header", "cookie", "weight")


@dataclass(frozen=True)
class CanaryDecision:
    canary: bool
    step: str  # one of STEPS
    reason: str  # a sentence for `ingressd explain`


_NAMED_GROUP = re.compile(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>")


def compile_header_pattern(pattern: str) -> re.Pattern[str] | None:
    """ngx.re.match's PCRE as Python regex (`(?<n>` spelled `(?P<n>`); None when it does not compile,
    which is the case where ingress-nginx logs an error and keeps the main backend."""
    try:
        return re.compile(_NAMED_GROUP.sub(r"(?P<\1>", pattern))
    except (re.error, OverflowError, RecursionError, ValueError):
        return None


@dataclass(frozen=True)
class CanaryConfig:
    """The traffic policy of one canary Ingress, as ingress-nginx's TrafficShapingPolicy.

    Empty strings count as unset, as they do in the Lua code (`#value > 0`).
    """

    weight: int = 0
    weight_total: int = 100  # a total <= 100 is ignored and 100 used
    by_header: str | None = None  # compared case-insensitively; "_" and "-" are the same to nginx
    by_header_value: str | None = None
    by_header_pattern: str | None = None  # raw text; an invalid regex sends the request to main
    by_cookie: str | None = None

    header_key: str | None = field(init=False, repr=False, compare=False)  # lowercase, "-" separated
    pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    total: int = field(init=False, repr=False, compare=False)  # the total actually used
    decisions: dict[str, CanaryDecision] = field(init=False, repr=False, compare=False)  # every outcome, prebuilt

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        # lua: ngx.var["http_" .. header:gsub("-", "_")]; nginx lowercases and treats "-" as "_".
        setattr_(self, "header_key", self.by_header.lower().replace("_", "-") if self.by_header else None)
        setattr_(self, "pattern", compile_header_pattern(self.by_header_pattern) if self.by_header_pattern else None)
        total = max(self.weight_total, 100)
        setattr_(self, "total", total)
        header, cookie = self.by_header, self.by_cookie
        main = "the main backend"
        setattr_(self, "decisions", {
            "pinned-canary": CanaryDecision(True, "affinity", "the affinity cookie pins the request to the canary"),
            "pinned-main": CanaryDecision(False, "affinity", f"the affinity cookie pins the request to {main}"),
            "header-value": CanaryDecision(
                True, "header", f'header "{header}: {self.by_header_value}" matches canary-by-header-value'),
            "header-pattern": CanaryDecision(
                True, "header", f'header "{header}" matches canary-by-header-pattern "{self.by_header_pattern}"'),
            "header-bad-pattern": CanaryDecision(
                False, "header", f'canary-by-header-pattern "{self.by_header_pattern}" is not a valid regex, so a'
                f' request with header "{header}" goes to {main}'),
            "header-always": CanaryDecision(True, "header", f'header "{header}: always" forces the canary'),
            "header-never": CanaryDecision(False, "header", f'header "{header}: never" forces {main}'),
            "cookie-always": CanaryDecision(True, "cookie", f'cookie "{cookie}=always" forces the canary'),
            "cookie-never": CanaryDecision(False, "cookie", f'cookie "{cookie}=never" forces {main}'),
            "weight-none": CanaryDecision(False, "weight", f"canary-weight {self.weight} of {total}: {main}"),
            "weight-all": CanaryDecision(True, "weight", f"canary-weight {self.weight} of {total}: always the canary"),
            "weight-canary": CanaryDecision(
                True, "weight", f"canary-weight {self.weight} of {total}: the random draw picked the canary"),
            "weight-main": CanaryDecision(
                False, "weight", f"canary-weight {self.weight} of {total}: the random draw picked {main}"),
        })


def decide_canary(
    cfg: CanaryConfig,
    header: Callable[[str], str | None],
    cookie: Callable[[str], str | None],
    randint: Callable[[int, int], int],
    pinned: str | None = None,
) -> CanaryDecision:
    """Main or canary for one request.

    `header(name)` gets the lowercase header name and returns its value or None when absent;
    `cookie(name)` the cookie's value or None (nginx's $cookie_ matches names case-insensitively);
    `randint(a, b)` is inclusive like random.randint and is called only when the weight is not
    0 and below the total; `pinned` is "main" or "canary" when an affinity cookie already pins
    the request (see affinity.pinned_backend), else None.
    """
    decisions = cfg.decisions
    if pinned is not None:
        if pinned == "canary":
            return decisions["pinned-canary"]
        if pinned == "main":
            return decisions["pinned-main"]
    key = cfg.header_key
    if key is not None:
        value = header(key)
        if value is not None:
            if cfg.by_header_value:
                if value == cfg.by_header_value:
                    return decisions["header-value"]
            elif cfg.by_header_pattern:
                pattern = cfg.pattern
                if pattern is None:
                    return decisions["header-bad-pattern"]
                if pattern.search(value) is not None:
                    return decisions["header-pattern"]
            elif value == "always":
                return decisions["header-always"]
            elif value == "never":
                return decisions["header-never"]
    if cfg.by_cookie:
        value = cookie(cfg.by_cookie)
        if value == "always":
            return decisions["cookie-always"]
        if value == "never":
            return decisions["cookie-never"]
    weight = cfg.weight
    if weight <= 0:
        return decisions["weight-none"]
    total = cfg.total
    if weight >= total:
        return decisions["weight-all"]
    return decisions["weight-canary"] if randint(1, total) <= weight else decisions["weight-main"]
