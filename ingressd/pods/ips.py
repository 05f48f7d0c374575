"""Pod IPs on loopback: each pod binds its own 127.x address, so replicas share a containerPort.

Addresses are handed out in order and wrap around (127.1.0.1 ... 127.1.0.254, 127.1.1.1, ...),
skipping .0 and .255, like a CNI's host-local IPAM: a freed address is not reused at once, so a
stale endpoint does not reach a new, unrelated pod.
"""

from __future__ import annotations

import ipaddress


class PodIPPool:
    def __init__(self, base: str = "127.1.0.0", size: int = 1 << 16) -> None:
        self._base = int(ipaddress.IPv4Address(base))
        last = self._base + size - 1
        if not ipaddress.IPv4Address(self._base).is_loopback or not ipaddress.IPv4Address(last).is_loopback:
            raise ValueError(f"pod IP range {base} (+{size}) is not within 127.0.0.0/8")
        self._size = size
        self._next = 0
        self._allocated: set[str] = set()

    def allocate(self) -> str:
        for step in range(self._size):
            offset = (self._next + step) % self._size
            address = ipaddress.IPv4Address(self._base + offset)
            last_octet = int(address) & 0xFF
            if last_octet in (0, 255) or str(address) in self._allocated:
                continue
            self._next = offset + 1
            self._allocated.add(str(address))
            return str(address)
        raise RuntimeError("no free pod IP left")

    def release(self, address: str) -> None:
        self._allocated.discard(address)

    @property
    def allocated(self) -> frozenset[str]:
        return frozenset(self._allocated)
