"""Host matching as Kubernetes Ingress defines it (and ingress-nginx serves it).

Request hosts are normalised once (lowercase, no port, no trailing dot) so that lookups are
plain dict hits: exact hosts first, then single-label wildcards, then the catch-all.
"""

from __future__ import annotations

from typing import Generic, Mapping, TypeVar

T = TypeVar("T")


def normalize_host(value: str) -> str:
    """A Host header (or SNI name, or rule host) reduced to the form hosts are compared in.

    "Foo.COM:8080" -> "foo.com", "foo.com." -> "foo.com", "[::1]:80" -> "::1".
    """
    host = value.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host[1:]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    # A bare IPv6 literal (several colons, no brackets) has no port to strip.
    return host.rstrip(".")


def is_wildcard(rule_host: str) -> bool:
    return rule_host.startswith("*.")


def wildcard_parent(host: str) -> str | None:
    """The part a `*.` wildcard must equal for `host` to match it: "a.foo.com" -> "foo.com"."""
    label, dot, rest = host.partition(".")
    if not dot or not label or not rest:
        return None
    return rest


def match_host(rule_host: str, request_host: str) -> bool:
    """One rule host against one request host; "" (no host) matches anything."""
    rule = normalize_host(rule_host)
    if not rule:
        return True
    host = normalize_host(request_host)
    if is_wildcard(rule):
        return wildcard_parent(host) == rule[2:]
    return host == rule


class HostIndex(Generic[T]):
    """Maps rule hosts to values; `lookup` is at most three dict probes.

    Exact hosts win over wildcards, which win over the catch-all (hostless rules).
    """

    __slots__ = ("_exact", "_wildcard", "_catch_all", "_seen", "_seen_limit", "_unknown")

    # Host headers remembered as received, those that match apart from those that do not (so
    # scanners' names cannot push out real ones): at least this many of each, and room for four
    # spellings (case, port) of every rule host, so that a large table's hosts fit; each cleared
    # when full, so bounded.
    SEEN_LIMIT = 1024

    def __init__(self, entries: Mapping[str, T], catch_all: T | None = None) -> None:
        self._exact: dict[str, T] = {}
        self._wildcard: dict[str, T] = {}
        for rule_host, value in entries.items():
            host = normalize_host(rule_host)
            if not host:
                raise ValueError("hostless entries go in catch_all")
            if is_wildcard(host):
                self._wildcard[host[2:]] = value
            else:
                self._exact[host] = value
        self._catch_all = catch_all
        self._seen: dict[str, T] = {}
        self._seen_limit = max(self.SEEN_LIMIT, 4 * (len(self._exact) + len(self._wildcard)))
        self._unknown: set[str] = set()

    def lookup(self, host: str) -> T | None:
        """`host` as received (any case, maybe with a port)."""
        seen = self._seen
        value = seen.get(host)
        if value is not None:
            return value
        unknown = self._unknown
        if host in unknown:
            return None
        value = self._lookup(host)
        if value is not None:
            if len(seen) >= self._seen_limit:
                seen.clear()
            seen[host] = value
        else:
            if len(unknown) >= self.SEEN_LIMIT:
                unknown.clear()
            unknown.add(host)
        return value

    def _lookup(self, host: str) -> T | None:
        name = normalize_host(host)
        value = self._exact.get(name)
        if value is not None:
            return value
        if self._wildcard:
            parent = wildcard_parent(name)
            if parent is not None:
                value = self._wildcard.get(parent)
                if value is not None:
                    return value
        return self._catch_all
