"""Which certificate a TLS handshake gets, and which hosts count as TLS hosts (pure).

From the served Ingresses' `spec.tls` and the `kubernetes.io/tls` Secrets they name: SNI picks the
exact host, then `*.<rest>`, then the default certificate. A host listed under `spec.tls` is a TLS
host (HTTP requests for it redirect) even when its Secret is missing or bad; the handshake then
gets the default certificate, as ingress-nginx does.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ingressd.routing.hosts import normalize_host, wildcard_parent
from ingressd.routing.table import NGINX_CONTROLLER, is_served


@dataclass(frozen=True)
class TlsCertificate:
    secret: str  # "namespace/name"
    cert_pem: bytes
    key_pem: bytes
    hosts: tuple[str, ...]  # the spec.tls hosts it serves


@dataclass
class TlsTable:
    certificates: dict[str, TlsCertificate] = field(default_factory=dict)  # host or "*.rest" -> certificate
    tls_hosts: frozenset[str] = frozenset()  # hosts and "*.rest" patterns that count as TLS
    warnings: list[tuple[str, str, str, str]] = field(default_factory=list)  # (ns, ingress, field, message)
    fallback: TlsCertificate | None = None  # a Gateway HTTPS listener without hostname: for any other name

    def certificate_for(self, server_name: str | None) -> TlsCertificate | None:
        """Exact SNI name, then its wildcard, then a hostname-less Gateway listener's certificate;
        None means the default certificate."""
        if not server_name:
            return self.fallback
        name = normalize_host(server_name)
        cert = self.certificates.get(name)
        if cert is None:
            parent = wildcard_parent(name)
            if parent is not None:
                cert = self.certificates.get("*." + parent)
        return cert if cert is not None else self.fallback

    def is_tls_host(self, host: str) -> bool:
        if not self.tls_hosts:
            return False
        name = normalize_host(host)
        if name in self.tls_hosts:
            return True
        parent = wildcard_parent(name)
        return parent is not None and "*." + parent in self.tls_hosts


def with_gateway_certificates(table: TlsTable, certificates, secrets: Iterable[dict]) -> TlsTable:
    """`table` plus the certificates of Gateway HTTPS listeners ((hostname or "", secret namespace,
    secret name), as GatewayModel port tables list them): an Ingress's certificate keeps its host;
    a listener without hostname serves its certificate for names nothing else covers."""
    if not certificates:
        return table
    by_name = {((s.get("metadata") or {}).get("namespace") or "default", (s.get("metadata") or {}).get("name")): s
               for s in secrets}
    merged = TlsTable(dict(table.certificates), table.tls_hosts, list(table.warnings), table.fallback)
    for hostname, ns, name in certificates:
        secret = by_name.get((ns, name))
        checked = check_tls_secret(secret) if secret is not None else "not found"
        if isinstance(checked, str):
            continue  # the listener's ResolvedRefs condition says why
        cert = TlsCertificate(f"{ns}/{name}", checked[0], checked[1], (hostname,) if hostname else ())
        if hostname:
            merged.certificates.setdefault(normalize_host(hostname) if not hostname.startswith("*.")
                                           else hostname, cert)
        elif merged.fallback is None:
            merged.fallback = cert
    return merged


def _secret_bytes(secret: dict, key: str) -> bytes | None:
    string_data = secret.get("stringData") or {}
    if isinstance(string_data.get(key), str):
        return string_data[key].encode()
    data = secret.get("data") or {}
    value = data.get(key)
    if not isinstance(value, str):
        return None
    return base64.b64decode(value.replace("\n", ""), validate=True)


def check_tls_secret(secret: dict, now: datetime.datetime | None = None) -> tuple[bytes, bytes] | str:
    """(cert PEM, key PEM), or the reason the Secret cannot serve TLS."""
    try:
        cert_pem = _secret_bytes(secret, "tls.crt")
        key_pem = _secret_bytes(secret, "tls.key")
    except (binascii.Error, ValueError):
        return "data is not valid base64"
    if not cert_pem or not key_pem:
        return "has no tls.crt and tls.key"
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return "tls.crt is not a PEM-encoded certificate"
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return "tls.key is not an unencrypted PEM-encoded private key"
    raw = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, raw) != \
            cert.public_key().public_bytes(serialization.Encoding.DER, raw):
        return "tls.key does not match the certificate in tls.crt"
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if cert.not_valid_after_utc < now:
        return f"the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}"
    return cert_pem, key_pem


def build_tls_table(ingresses: Iterable[dict], secrets: Iterable[dict], ingress_classes: Iterable[dict] = (),
                    ingress_class: str = "nginx", now: datetime.datetime | None = None) -> TlsTable:
    by_name = {(s.get("metadata", {}).get("namespace") or "default", s.get("metadata", {}).get("name")): s
               for s in secrets}
    classes = frozenset(
        (ic.get("metadata") or {}).get("name") for ic in ingress_classes
        if isinstance(ic, dict) and (ic.get("spec") or {}).get("controller") == NGINX_CONTROLLER)
    table = TlsTable()
    tls_hosts: set[str] = set()
    checked: dict[tuple[str, str], tuple[bytes, bytes] | str] = {}
    ordered = sorted(ingresses, key=lambda i: (i.get("metadata", {}).get("creationTimestamp") or "",
                                               i.get("metadata", {}).get("namespace") or "default",
                                               i.get("metadata", {}).get("name") or ""))
    for ing in ordered:
        if not is_served(ing, ingress_class, classes):
            continue
        meta = ing.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        name = meta.get("name") or ""
        for i, entry in enumerate((ing.get("spec") or {}).get("tls") or []):
            if not isinstance(entry, dict):
                continue
            hosts = [normalize_host(h) for h in entry.get("hosts") or [] if isinstance(h, str)]
            tls_hosts.update(hosts)
            secret_name = entry.get("secretName")
            where = f"spec.tls[{i}].secretName"
            if not secret_name:
                table.warnings.append((ns, name, where, "no secretName: the default certificate is served"))
                continue
            key = (ns, secret_name)
            if key not in checked:
                secret = by_name.get(key)
                checked[key] = (f"secret {ns}/{secret_name} not found" if secret is None
                                else check_tls_secret(secret, now))
            result = checked[key]
            if isinstance(result, str):
                reason = result if result.startswith("secret ") else f"secret {ns}/{secret_name}: {result}"
                table.warnings.append((ns, name, where, reason + "; the default certificate is served"))
                continue
            cert = TlsCertificate(f"{ns}/{secret_name}", result[0], result[1], tuple(hosts))
            for host in hosts:
                table.certificates.setdefault(host, cert)  # the oldest Ingress wins a host
    table.tls_hosts = frozenset(tls_hosts)
    return table


def hsts_value(config: dict[str, str] | None) -> tuple[str | None, list[str]]:
    """The Strict-Transport-Security value from the controller ConfigMap's hsts* keys
    (ingress-nginx defaults: on, max-age=31536000, includeSubDomains, no preload), and warnings
    for values that were not understood (the default is kept for those)."""
    config = config or {}
    warnings: list[str] = []

    def flag(key: str, default: bool) -> bool:
        value = config.get(key)
        if value is None:
            return default
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        warnings.append(f'{key}: invalid value {value!r}: must be "true" or "false"')
        return default

    if not flag("hsts", True):
        return None, warnings
    max_age = config.get("hsts-max-age", "31536000")
    if not str(max_age).isdigit():
        warnings.append(f"hsts-max-age: invalid value {max_age!r}: must be a number of seconds")
        max_age = "31536000"
    value = f"max-age={max_age}"
    if flag("hsts-include-subdomains", True):
        value += "; includeSubDomains"
    if flag("hsts-preload", False):
        value += "; preload"
    return value, warnings
