"""Path matching: Kubernetes Exact/Prefix semantics, and ingress-nginx's per-host regex mode.

Without regex mode a lookup is one dict probe for Exact paths, then one probe per path segment
(at most as deep as the deepest Prefix rule) for Prefix paths: an Exact hit always wins because
it is at least as long as any Prefix hit, and wins ties. In regex mode every path becomes a
case-insensitive regex anchored at the start, tried longest path first (the order ingress-nginx
writes its `location ~*` blocks in); the first match wins, which is nginx's rule, not "longest".
"""

from __future__ import annotations

import re
from typing import Generic, Iterable, TypeVar

T = TypeVar("T")

EXACT = "Exact"
PREFIX = "Prefix"
IMPLEMENTATION_SPECIFIC = "ImplementationSpecific"
PATH_TYPES = (EXACT, PREFIX, IMPLEMENTATION_SPECIFIC)


def match_exact(rule_path: str, path: str) -> bool:
    return path == rule_path


def match_prefix(rule_path: str, path: str) -> bool:
    """Element-wise over "/"-separated segments; a trailing "/" on either side is ignored."""
    rule = rule_path.rstrip("/")
    if not rule:
        return True
    request = path.rstrip("/")
    return request == rule or request.startswith(rule + "/")


_NAMED_GROUP = re.compile(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>")


def compile_path_regex(path: str) -> re.Pattern[str] | None:
    """`~* "^<path>"` as Python regex; None when the path is not a valid regex.

    PCRE's `(?<name>...)` is spelled `(?P<name>...)` in Python.
    """
    try:
        return re.compile("^" + _NAMED_GROUP.sub(r"(?P<\1>", path), re.IGNORECASE)
    except (re.error, OverflowError, RecursionError, ValueError):
        return None


_CAPTURE = re.compile(r"\$([1-9])")


def expand_rewrite(target: str, match: re.Match[str], query: str) -> str:
    """nginx `rewrite <regex> <target> break;`: $1..$9 are the groups (unmatched = empty).

    The original query string is appended ("?x=1", or "&x=1" when the target has its own query);
    a target ending in "?" drops it, as in nginx.
    """

    def group(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if n > (match.re.groups or 0):
            return ""
        return match.group(n) or ""

    result = _CAPTURE.sub(group, target)
    if result.endswith("?"):
        return result[:-1]
    if query:
        result += ("&" if "?" in result else "?") + query
    return result


def nginx_order(rules: Iterable[tuple[str, str, T]]) -> list[tuple[str, str, T]]:
    """Longest path first, then reverse lexicographic; equal paths keep their order (ingress-nginx)."""
    ordered = sorted(rules, key=lambda rule: rule[0], reverse=True)
    ordered.sort(key=lambda rule: len(rule[0]), reverse=True)
    return ordered


class PathMatcher(Generic[T]):
    """The paths of one host, precompiled. `rules` are (path, pathType, value), already de-duplicated
    by the caller; when two normalise to the same key (Prefix "/a" and "/a/") the first is kept."""

    __slots__ = ("regex", "ordered", "invalid", "_exact", "_prefix", "_root", "_depth", "_regexes")

    def __init__(self, rules: Iterable[tuple[str, str, T]], regex: bool = False) -> None:
        given = list(rules)
        self.regex = regex
        self.ordered: tuple[tuple[str, str, T], ...] = tuple(nginx_order(given))
        self.invalid: tuple[str, ...] = ()  # paths skipped because they are not valid regexes
        self._exact: dict[str, T] = {}
        self._prefix: dict[str, T] = {}
        self._root: T | None = None
        self._depth = 0
        self._regexes: tuple[tuple[re.Pattern[str], T], ...] = ()
        if regex:
            compiled, invalid = [], []
            for path, _, value in self.ordered:
                pattern = compile_path_regex(path)
                if pattern is None:
                    invalid.append(path)
                else:
                    compiled.append((pattern, value))
            self._regexes = tuple(compiled)
            self.invalid = tuple(invalid)
            return
        for path, path_type, value in given:
            if path_type == EXACT:
                self._exact.setdefault(path, value)
                continue
            key = path.rstrip("/")
            if not key:
                if self._root is None:
                    self._root = value
            elif key not in self._prefix:
                self._prefix[key] = value
                self._depth = max(self._depth, key.count("/"))

    def match(self, path: str) -> tuple[T, re.Match[str] | None] | None:
        """`path` without the query. The regex match is returned for rewrite-target."""
        if self.regex:
            for pattern, value in self._regexes:
                m = pattern.match(path)
                if m is not None:
                    return value, m
            return None
        value = self._exact.get(path)
        if value is not None:
            return value, None
        # The longest Prefix rule: one probe per path segment (inline: this runs for every request).
        prefixes = self._prefix
        if prefixes:
            candidate = path.rstrip("/")
            if candidate.count("/") > self._depth:
                # Segments deeper than any rule cannot match; cut them once, not per probe.
                cut = -1
                for _ in range(self._depth + 1):
                    cut = candidate.find("/", cut + 1)
                candidate = candidate[:cut]
            while candidate:
                value = prefixes.get(candidate)
                if value is not None:
                    return value, None
                cut = candidate.rfind("/")
                if cut <= 0:
                    break
                candidate = candidate[:cut]
        root = self._root
        return None if root is None else (root, None)
