"""Who may use the admin API and how a client finds its credentials: pure rules, no files, no sockets.

ingressd's API has one user, `ingressd-admin`, a member of `system:masters` (so every
authorization question is answered "allowed", as kube-apiserver's privileged-group authorizer
does); it authenticates with the bearer token of `<state-dir>/kubeconfig`. A request without a
valid token is refused with kube-apiserver's own 401 Status, except the public paths probes and
scrapers read (`/healthz`, `/livez`, `/readyz`, `/metrics`, and `/version` as kube-apiserver's
`system:public-info-viewer` role allows).

The kubeconfig documents are plain dicts (what YAML loads): `kubeconfig_document` builds
ingressd's own, `merge_kubeconfig` adds it to another as `kind` does, `token_for_server` finds the
token a kubeconfig holds for a server.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import re
from urllib.parse import urlsplit

__all__ = [
    "CLUSTER_NAME",
    "CONTEXT_NAME",
    "GROUPS",
    "PUBLIC_PATHS",
    "USERNAME",
    "USER_NAME",
    "KubeconfigError",
    "bearer_token",
    "is_public_path",
    "is_token_text",
    "kubeconfig_document",
    "merge_kubeconfig",
    "same_server",
    "token_for_server",
    "token_matches",
    "unauthorized_status",
]

# The names of ingressd's entries in a kubeconfig (cluster, user, context) and the user it serves.
CLUSTER_NAME = "ingressd"
CONTEXT_NAME = "ingressd"
USER_NAME = "ingressd-admin"
USERNAME = "ingressd-admin"
GROUPS = ("system:masters", "system:authenticated")

# Answered without a token: health and metrics (probes, Prometheus) and what
# system:public-info-viewer grants everyone (/healthz, /livez, /readyz, /version, /version/).
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/", "/metrics"})

# secrets.token_urlsafe's alphabet; long enough to be a secret, short enough to be a header.
_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_-]{32,512}")


class KubeconfigError(ValueError):
    """A kubeconfig that is not a kubeconfig: the message names the field at fault."""


def is_public_path(path: str) -> bool:
    return path in PUBLIC_PATHS


def is_token_text(text: str) -> bool:
    """Whether `text` looks like a token ingressd made (URL-safe base64, 32 to 512 characters)."""
    return bool(_TOKEN_TEXT.fullmatch(text))


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, as kube-apiserver's bearer-token
    authenticator reads it (scheme case-insensitive, surrounding space trimmed); None otherwise."""
    if header is None:
        return None
    parts = header.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


def token_matches(given: str | None, expected: str) -> bool:
    """Compared in constant time (the time taken says nothing about how much of it was right)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def unauthorized_status() -> dict:
    """kube-apiserver's answer to a request it cannot authenticate (apierrors.NewUnauthorized)."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def kubeconfig_document(server: str, token: str, ca_pem: bytes | None = None) -> dict:
    """ingressd's kubeconfig: cluster (with the CA that signs the server's certificate, PEM), user
    and context, the context current."""
    cluster = {"certificate-authority-data": base64.b64encode(ca_pem).decode()} if ca_pem else {}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER_NAME, "cluster": {**cluster, "server": server}}],
        "users": [{"name": USER_NAME, "user": {"token": token}}],
        "contexts": [{"name": CONTEXT_NAME, "context": {"cluster": CLUSTER_NAME, "user": USER_NAME}}],
        "current-context": CONTEXT_NAME,
        "preferences": {},
    }


_SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))


def _entries(config: dict, section: str, where: str) -> list:
    entries = config.get(section)
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise KubeconfigError(f"{where}: {section}: must be a list, got {type(entries).__name__}")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise KubeconfigError(f"{where}: {section}[{i}]: must be a mapping with a name")
    return entries


def merge_kubeconfig(existing: dict | None, ours: dict, where: str = "kubeconfig") -> dict:
    """`existing` with every cluster, user and context of `ours` added, replacing entries of the
    same name in place, and `ours`'s current-context made current (as `kind` merges its clusters).
    Everything else of `existing` is kept as it was. `where` names the file in errors."""
    if existing is None:
        existing = {}
    if not isinstance(existing, dict):
        raise KubeconfigError(f"{where}: not a kubeconfig (a mapping with clusters, users and contexts), "
                              f"got {type(existing).__name__}")
    merged = dict(existing)
    merged.setdefault("apiVersion", "v1")
    merged.setdefault("kind", "Config")
    for section, _ in _SECTIONS:
        entries = list(_entries(existing, section, where))
        for entry in _entries(ours, section, "ingressd's kubeconfig"):
            names = [e["name"] for e in entries]
            if entry["name"] in names:
                entries[names.index(entry["name"])] = entry
            else:
                entries.append(entry)
        merged[section] = entries
    merged.setdefault("preferences", {})
    if ours.get("current-context"):
        merged["current-context"] = ours["current-context"]
    return merged


def _origin(server: str) -> tuple[str, int] | None:
    """(host, port) of a server URL; every loopback name and address is one host. The scheme only
    gives the default port: the admin port answers http and https alike."""
    try:
        parts = urlsplit(server.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    try:
        if host == "localhost" or host.endswith(".localhost") or ipaddress.ip_address(host).is_loopback:
            host = "loopback"
    except ValueError:
        pass
    return host, port if port is not None else (443 if parts.scheme == "https" else 80)


def same_server(a: str, b: str) -> bool:
    """Whether two server URLs reach the same API (host and port; loopback names are one)."""
    origin = _origin(a)
    return origin is not None and origin == _origin(b)


def token_for_server(config: dict, server: str) -> str | None:
    """The bearer token a kubeconfig holds for `server`: the current context's user when its
    cluster is that server, else the first context's that is. None when no context reaches it with
    a token (client certificates and exec plugins are no credentials for ingressd)."""
    if not isinstance(config, dict):
        return None
    try:
        clusters = {e["name"]: e.get("cluster") or {} for e in _entries(config, "clusters", "")}
        users = {e["name"]: e.get("user") or {} for e in _entries(config, "users", "")}
        contexts = [(e["name"], e.get("context") or {}) for e in _entries(config, "contexts", "")]
    except KubeconfigError:
        return None
    current = config.get("current-context")
    contexts.sort(key=lambda item: item[0] != current)  # the current context first, else file order
    for _name, context in contexts:
        if not isinstance(context, dict):
            continue
        cluster, user = clusters.get(context.get("cluster")), users.get(context.get("user"))
        if not isinstance(cluster, dict) or not isinstance(user, dict):
            continue
        target = cluster.get("server")
        token = user.get("token")
        if isinstance(target, str) and same_server(target, server) and isinstance(token, str) and token:
            return token
    return None
