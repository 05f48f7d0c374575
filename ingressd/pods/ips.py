"""Pod IPs on loopback: each pod binds its own 127.x address, so replicas share a containerPort.

Addresses are handed out in order and wrap around (127.1.0.1 ... 127.1.0.254, 127.1.1.1, ...),
skipping .0 and .255, like a CNI's host-local IPAM: a freed address is not reused at once, so a
stale endpoint does not reach a new, unrelated pod.

Each ingressd instance takes its own block of pod addresses (its "pod CIDR"), so two instances with
the same manifests do not both give their first pod the same address:

- `--pod-cidr 127.X.Y.0/24` names it (inside 127.0.0.0/8, not holding 127.0.0.1);
- otherwise a /20 is derived from the absolute state directory (a stable hash), outside
  127.0.0.0/16 (127.0.0.1, systemd-resolved's 127.0.0.53, Debian's 127.0.1.1, Docker's DNS),
  127.1.0.0/16 (older ingressd versions and the test suite's fixed blocks) and 127.255.0.0/16.

A block is free when its claim succeeds: a TCP socket listening on the block's network address
(never a pod address) at `CLAIM_PORT`, held for the life of the instance. The kernel releases it
when the process ends, however it ends, so there is no stale lock to clean up; `ss -ltnp` shows
which process holds a block. A derived block already claimed (another instance, maybe with the
same state dir) is skipped for the next one; a `--pod-cidr` already claimed is an error.
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network

from ingressd.words import count

LOOPBACK = IPv4Network("127.0.0.0/8")
HOST_ADDRESS = ipaddress.IPv4Address("127.0.0.1")
# Not handed out as derived blocks: well-known loopback users, older ingressd's 127.1.0.0/16 (and
# the tests' fixed blocks there), and the top /16 (127.255.255.255 is the broadcast of lo's /8).
AVOIDED = (IPv4Network("127.0.0.0/16"), IPv4Network("127.1.0.0/16"), IPv4Network("127.255.0.0/16"))
DERIVED_PREFIX = 20  # 16 × 254 = 4064 pod addresses per instance
CLAIM_PORT = 61999  # above Linux's ephemeral range; bound on a block's network address only
CLAIM_TRIES = 64


class PodIPPool:
    def __init__(self, base: str = "127.1.0.0", size: int = 1 << 16, reserved: frozenset[str] = frozenset()) -> None:
        """`reserved`: addresses never handed out (a block's network and broadcast addresses)."""
        self._base = int(ipaddress.IPv4Address(base))
        last = self._base + size - 1
        if not ipaddress.IPv4Address(self._base).is_loopback or not ipaddress.IPv4Address(last).is_loopback:
            raise ValueError(f"pod IP range {base} (+{size}) is not within 127.0.0.0/8")
        self._size = size
        self._next = 0
        self._reserved = reserved
        self._allocated: set[str] = set()

    @classmethod
    def for_network(cls, network: IPv4Network) -> PodIPPool:
        """Every address of `network` but its first and last (and any .0 or .255)."""
        reserved = frozenset({str(network.network_address), str(network.broadcast_address)})
        return cls(str(network.network_address), network.num_addresses, reserved)

    def allocate(self, preferred: str | None = None) -> str:
        """The next free address; `preferred` when it is one of this pool's and free (a pod that
        ran before ingressd restarted gets its address back)."""
        if preferred is not None and self._free(preferred):
            self._allocated.add(preferred)
            return preferred
        for step in range(self._size):
            offset = (self._next + step) % self._size
            address = ipaddress.IPv4Address(self._base + offset)
            last_octet = int(address) & 0xFF
            if last_octet in (0, 255) or str(address) in self._allocated or str(address) in self._reserved:
                continue
            self._next = offset + 1
            self._allocated.add(str(address))
            return str(address)
        raise RuntimeError("no free pod IP left")

    def _free(self, address: str) -> bool:
        try:
            value = int(ipaddress.IPv4Address(address))
        except ValueError:
            return False
        return (0 <= value - self._base < self._size and value & 0xFF not in (0, 255)
                and address not in self._allocated and address not in self._reserved)

    def release(self, address: str) -> None:
        self._allocated.discard(address)

    @property
    def allocated(self) -> frozenset[str]:
        return frozenset(self._allocated)


# -- which block ------------------------------------------------------------------------------


def parse_pod_cidr(text: str) -> IPv4Network:
    """A `--pod-cidr` value; ValueError with a message a user can act on."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            fixed = ipaddress.ip_network(text.strip(), strict=False)
            raise ValueError(f"{text!r} has host bits set: did you mean {fixed}?") from None
        raise ValueError(f"{text!r} is not a CIDR block such as 127.10.0.0/24") from None
    if not isinstance(network, IPv4Network) or not network.subnet_of(LOOPBACK):
        raise ValueError(f"{text} is not inside 127.0.0.0/8: pods listen on loopback addresses (e.g. 127.10.0.0/24)")
    if HOST_ADDRESS in network:
        raise ValueError(f"{text} holds 127.0.0.1, the host's address: choose a block such as 127.10.0.0/24")
    if network.prefixlen > 30:
        raise ValueError(f"{text} is too small to hold a pod address: use a /24 (or at most /30)")
    return network


def state_key(state_dir: str | os.PathLike) -> str:
    """What a derived block hashes: the state directory, absolute (`.ingressd` in two working
    directories is two keys)."""
    return os.path.realpath(os.path.expanduser(os.fspath(state_dir)))


def derived_blocks(key: str, prefix: int = DERIVED_PREFIX) -> Iterator[IPv4Network]:
    """Every candidate block of the given size, starting at the one `key` hashes to, then the
    following ones (wrapping around); blocks overlapping `AVOIDED` are never produced."""
    candidates = [b for b in LOOPBACK.subnets(new_prefix=prefix) if not any(b.overlaps(a) for a in AVOIDED)]
    start = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % len(candidates)
    for i in range(len(candidates)):
        yield candidates[(start + i) % len(candidates)]


# -- claiming it ------------------------------------------------------------------------------


class PodCIDRError(Exception):
    """No pod address block could be taken; the message says why and what to do."""


@dataclass
class PodBlockClaim:
    network: IPv4Network
    derived: bool  # from the state dir (not --pod-cidr)
    skipped: tuple[IPv4Network, ...] = ()  # derived blocks found taken first
    socket: socket.socket | None = None  # None: the claim address is not configured (held unchecked)

    @property
    def claim_address(self) -> str:
        return f"{self.network.network_address}:{CLAIM_PORT}"

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None


def bind_claim(network: IPv4Network) -> socket.socket:
    """Listen on the block's network address at CLAIM_PORT; OSError (EADDRINUSE) if it is taken.
    No SO_REUSEADDR: a listener never accepts, so it leaves no TIME_WAIT behind."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((str(network.network_address), CLAIM_PORT))
        sock.listen(1)
    except BaseException:
        sock.close()
        raise
    return sock


def address_configured(address: str) -> bool:
    """Whether a listener can bind `address` (Linux: all of 127.0.0.0/8; macOS: only lo0's aliases)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                return False
        return True


def loopback_advice(network: IPv4Network, configured: Callable[[str], bool] = address_configured,
                    probe: int = 16) -> str | None:
    """None when pods can listen in `network`; else what to run, said once at start (on macOS each
    pod address needs an `ifconfig lo0 alias`) instead of a bind error per pod."""
    hosts = [str(a) for _, a in zip(range(probe), network.hosts())]
    missing = [a for a in hosts if not configured(a)]
    if not missing:
        return None
    if len(missing) < len(hosts):
        return (f"ingressd: pod addresses {', '.join(missing)} of {network} are not configured on the "
                f"loopback interface: pods given them cannot listen; add them with "
                + "; ".join(f"sudo ifconfig lo0 alias {a} up" for a in missing))
    example = IPv4Network("127.10.0.0/28")
    return (f"ingressd: pod addresses {network} are not configured on the loopback interface (macOS "
            f"configures only 127.0.0.1), so pods cannot listen; Services with their own endpoints "
            f"still route. Alias a small block and give it, e.g.:\n"
            f"  for i in $(seq 1 {example.num_addresses - 2}); do sudo ifconfig lo0 alias "
            f"{str(example.network_address).rsplit('.', 1)[0]}.$i up; done\n"
            f"  ingressd run --pod-cidr {example} ...")


def claim_pod_block(
    state_dir: str | os.PathLike,
    pod_cidr: IPv4Network | None = None,
    bind: Callable[[IPv4Network], socket.socket] = bind_claim,
    tries: int = CLAIM_TRIES,
) -> PodBlockClaim:
    """Take this instance's pod address block: `pod_cidr`, or the first free derived block."""
    if pod_cidr is not None:
        try:
            return PodBlockClaim(pod_cidr, derived=False, socket=bind(pod_cidr))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                return PodBlockClaim(pod_cidr, derived=False)
            if exc.errno == errno.EADDRINUSE:
                raise PodCIDRError(
                    f"ingressd: pod CIDR {pod_cidr} is in use by another ingressd instance (its claim "
                    f"{pod_cidr.network_address}:{CLAIM_PORT} is bound; see ss -ltnp): choose another "
                    f"--pod-cidr, or leave it out to take a free block") from None
            raise PodCIDRError(f"ingressd: cannot claim pod CIDR {pod_cidr}: {exc.strerror or exc}") from None
    skipped: list[IPv4Network] = []
    for network in derived_blocks(state_key(state_dir)):
        if len(skipped) >= tries:
            break
        try:
            return PodBlockClaim(network, derived=True, skipped=tuple(skipped), socket=bind(network))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:  # 127/8 is not all local (macOS): nothing to probe
                return PodBlockClaim(network, derived=True, skipped=tuple(skipped))
            if exc.errno != errno.EADDRINUSE:
                raise PodCIDRError(f"ingressd: cannot claim pod address block {network}: {exc.strerror or exc}") from None
            skipped.append(network)
    raise PodCIDRError(
        f"ingressd: no free pod address block after {count(len(skipped), 'try', 'tries')} (port {CLAIM_PORT} of each block's "
        f"network address is taken: does a process listen on *:{CLAIM_PORT}?): give one with --pod-cidr")
