"""Gateway listeners in the running app: the ports Gateways ask for beyond 80 and 443, and the
status ingressd writes for the Gateway API objects.

Listener port 80 is served on --http-port and 443 on --https-port; any other port a valid
listener of one of our Gateways names is bound on --bind when it appears and closed when no
listener names it any more. A port that cannot be bound is not fatal: its listeners get
Programmed False (reason PortUnavailable) and ingressd keeps serving everything else. The
status itself is computed by the pure reconciler ingressd.cluster.gateway_status.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from ingressd.cluster.gateway_status import gateway_status_writes
from ingressd.proxy.server import ProxyServer
from ingressd.proxy.tls import SniContexts

WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "*"})


class GatewayListeners:
    def __init__(self, proxy: ProxyServer, store, clock, bind: str, sni: SniContexts,
                 warn: Callable[[str], None]) -> None:
        self.proxy = proxy
        self.store = store
        self.clock = clock
        self.bind = bind
        self.sni = sni
        self.warn = warn
        self.servers: dict[int, asyncio.base_events.Server] = {}  # listener port -> its server
        self.protocols: dict[int, str] = {}
        self.unbound: dict[int, str] = {}  # listener port -> why it could not be bound
        self._status_key: tuple | None = None  # what the status was last computed from
        self._status_model = None

    @property
    def address(self) -> str:
        return "127.0.0.1" if self.bind in WILDCARD_BINDS else self.bind

    async def sync(self) -> None:
        """Bind/close the extra listener ports for the proxy's snapshot now, then write status."""
        model = self.proxy.state.gateway
        wanted = {port: table.protocol for port, table in model.ports.items() if port not in (80, 443)}
        for port in [p for p in self.servers if wanted.get(p) != self.protocols.get(p)]:
            srv = self.servers.pop(port)
            self.protocols.pop(port, None)
            srv.close()
            if srv in self.proxy.servers:
                self.proxy.servers.remove(srv)
        for port in [p for p in self.unbound if p not in wanted]:
            del self.unbound[port]
        for port, protocol in sorted(wanted.items()):
            if port in self.servers:
                continue
            try:
                srv = await self.proxy.listen(self.bind, port, ssl=self.sni.default if protocol == "HTTPS" else None,
                                              scheme="https" if protocol == "HTTPS" else "http", gateway_port=port)
            except OSError as exc:
                why = os.strerror(exc.errno) if exc.errno else str(exc)
                message = f"cannot bind {self.bind}:{port}: {why}"
                if self.unbound.get(port) != message:
                    self.warn(f"ingressd: warning: Gateway listener port {port}: {message}")
                self.unbound[port] = message
                continue
            self.unbound.pop(port, None)
            self.servers[port] = srv
            self.protocols[port] = protocol
        self.write_status()

    def write_status(self) -> None:
        """Computed again only when the model, the unbound ports or a status-bearing kind changed
        (the control loop calls this on every pass)."""
        model = self.proxy.state.gateway
        key = (id(model), tuple(sorted(self.unbound.items())),
               *(self.store.kind_version(kind) for kind in ("GatewayClass", "Gateway", "HTTPRoute")))
        if key == self._status_key and self._status_model is model:
            return
        self._status_key, self._status_model = key, model
        for kind, namespace, name, status in gateway_status_writes(model, self.store, self.clock.now(), self.address,
                                                                   self.unbound):
            self.store.update_status(kind, namespace, name, status)

    def close(self) -> None:
        for srv in self.servers.values():
            srv.close()
        self.servers.clear()
