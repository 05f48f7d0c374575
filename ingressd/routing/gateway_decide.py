"""What a Forward carries when an HTTPRoute rule serves: the rule, the header operations for the
request and the response, the Host rewrite, the mirror targets, the timeouts and why.

`decide` builds it (ingressd.routing.decide); the proxy executes it (ingressd.proxy.exchange /
headers); `explain` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingressd.routing.endpoints import Endpoint
from ingressd.routing.gateway import GatewayRule, HeaderOps
from ingressd.routing.gateway_match import GatewayMatch
from ingressd.routing.table import BackendRef


@dataclass(frozen=True)
class MirrorTarget:
    backend: BackendRef
    endpoints: tuple[Endpoint, ...]
    fraction: float


@dataclass(frozen=True)
class GatewayForward:
    match: GatewayMatch
    request_headers: HeaderOps
    response_headers: HeaderOps
    host: str | None  # the Host header upstream (URLRewrite hostname); None: as received
    mirrors: tuple[MirrorTarget, ...]  # copies to send (already drawn against their fraction)
    request_timeout: float | None  # timeouts.request: the whole request, else 504
    backend_timeout: float | None  # timeouts.backendRequest: each attempt upstream

    @property
    def rule(self) -> GatewayRule:
        return self.match.rule
