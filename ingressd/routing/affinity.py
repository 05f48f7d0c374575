"""Session-affinity cookies as ingress-nginx writes and reads them (lua/balancer/sticky*.lua).

The cookie value is `<endpoint key>|<backend key>`:
- the backend key is md5hex(md5hex(upstream) + upstream): it says which backend issued the
  cookie, which is how a request is found to be pinned to the main backend or to its canary;
- the endpoint key depends on the affinity mode. `balanced`: a random string
  ("<time>.<pid>.<random>") looked up on the backend's consistent-hash ring, so the cookie
  survives endpoint changes and its holder is re-balanced onto another endpoint when the ring
  changes. `persistent`: md5hex(upstream + "ip:port"), so it names one endpoint; when that
  endpoint is gone the client gets a new endpoint and a new cookie.
Only the endpoint key is read when balancing: a cookie issued by another backend still pins
(balanced) or is replaced (persistent), as in the Lua code.
"""

from __future__ import annotations

import hashlib
import time
from functools import lru_cache

from ingressd.routing.annotations import LocationConfig

DELIMITER = "|"


@lru_cache(maxsize=4096)
def backend_key(upstream: str) -> str:
    """sticky.lua's `ngx.md5(ngx.md5(backend.name) .. backend.name)`."""
    inner = hashlib.md5(upstream.encode()).hexdigest()
    return hashlib.md5((inner + upstream).encode()).hexdigest()


def persistent_key(upstream: str, address: str) -> str:
    """util/nodemap.lua: md5hex(salt .. "ip:port"), salted with the backend name so the cookie
    does not reveal pod addresses."""
    return hashlib.md5((upstream + address).encode()).hexdigest()


def cookie_value(key: str, upstream: str) -> str:
    """The value sticky.lua sets: the endpoint key, then the issuing backend's key."""
    return key + DELIMITER + backend_key(upstream)


def endpoint_key(value: str | None) -> str | None:
    """The endpoint key of a cookie value (None for an empty or missing cookie)."""
    if not value:
        return None
    head = value.partition(DELIMITER)[0]
    return head if head else split_cookie(value)[0]


def split_cookie(value: str | None) -> tuple[str | None, str | None]:
    """(endpoint key, backend key); empty parts are skipped, as Lua's gmatch("[^|]+") does."""
    if not value:
        return None, None
    if DELIMITER not in value:
        return value, None
    parts = [part for part in value.split(DELIMITER) if part]
    if not parts:
        return None, None
    return parts[0], parts[1] if len(parts) > 1 else None


def pinned_backend(cookie: str | None, main_upstream: str | None, canary_upstream: str | None) -> str | None:
    """"main", "canary" or None: balancer.lua asks the main balancer, then the canary's,
    whether the request is affinitized (the cookie's backend key is theirs).

    Pass `main_upstream` only when the main location uses cookie affinity, and `canary_upstream`
    only when the canary does (its effective config: affinity-canary-behavior sticky).
    """
    if not cookie or DELIMITER not in cookie:
        return None
    owner = split_cookie(cookie)[1]
    if owner is None:
        return None
    if main_upstream is not None and owner == backend_key(main_upstream):
        return "main"
    if canary_upstream is not None and owner == backend_key(canary_upstream):
        return "canary"
    return None


# --- Set-Cookie ---------------------------------------------------------------------------------

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def cookie_time(seconds: float) -> str:
    """nginx's ngx_http_cookie_time: "Thu, 18-Nov-25 11:27:35 GMT" (two-digit year until 2037)."""
    tm = time.gmtime(int(seconds))
    year = tm.tm_year if tm.tm_year > 2037 else tm.tm_year % 100
    return (f"{_WEEKDAYS[tm.tm_wday]}, {tm.tm_mday:02d}-{_MONTHS[tm.tm_mon - 1]}-{year:02d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} GMT")


def same_site_none_compatible(user_agent: str | None) -> bool:
    """util/same_site.lua: browsers that reject cookies carrying SameSite=None."""
    if not user_agent:
        return True
    if "Chrome/4" in user_agent or "Chrome/5" in user_agent or "Chrome/6" in user_agent:
        return False
    if "CPU iPhone OS 12" in user_agent or "iPad; CPU OS 12" in user_agent:
        return False
    old_safari = "Macintosh" in user_agent and "Intel Mac OS X 10_14" in user_agent and "Safari" in user_agent
    return not (old_safari and "Chrome" not in user_agent)


_SAME_SITE = frozenset({"Strict", "Lax", "None"})  # lua-resty-cookie drops any other spelling


def set_cookie_header(config: LocationConfig, value: str, location_path: str, https: bool,
                      now: float | None = None, user_agent: str | None = None) -> str:
    """The Set-Cookie value sticky.lua's set_cookie bakes (lua-resty-cookie attribute order).

    Path defaults to the Ingress path of the location; Secure is set over HTTPS, or always with
    session-cookie-secure; Expires is now + session-cookie-expires seconds.
    """
    parts = [f"{config.session_cookie_name}={value}"]
    if config.session_cookie_expires is not None:
        seconds = int(time.time() if now is None else now)  # ngx.time(): whole seconds
        parts.append("Expires=" + cookie_time(seconds + config.session_cookie_expires))
    if config.session_cookie_max_age is not None:
        parts.append(f"Max-Age={config.session_cookie_max_age}")
    if config.session_cookie_domain:
        parts.append("Domain=" + config.session_cookie_domain)
    parts.append("Path=" + (config.session_cookie_path or location_path))
    if config.session_cookie_secure or https:
        parts.append("Secure")
    parts.append("HttpOnly")
    same_site = config.session_cookie_samesite
    if (same_site == "None" and config.session_cookie_conditional_samesite_none
            and not same_site_none_compatible(user_agent)):
        same_site = None
    if same_site in _SAME_SITE:
        parts.append(f"SameSite={same_site}")
    return "; ".join(parts)
