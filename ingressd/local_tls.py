"""Certificates issued from the local CA for Ingresses that ask for them (`ingressd.io/local-ca`).

An Ingress annotated `ingressd.io/local-ca: "true"` whose `spec.tls` names a Secret that no
manifest provides gets that Secret made by ingressd: a leaf certificate for the entry's hosts,
signed by the CA in the certs directory (created on first use). The leaf is kept in `issued/`
under the CA's directory and reused while it still covers the hosts, so browsers that trust the CA
keep trusting it. The CA directory is one per user, shared by every project and every running
ingressd: a leaf's file is named by namespace, Secret name and hosts (two projects' `default/web-tls`
for different hosts never take turns replacing each other), holds certificate and key together,
and is written whole (a temporary file renamed over it), so a concurrent reader never pairs one
instance's certificate with another's key.
A real cluster ignores the annotation (cert-manager or a real Secret takes its place).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from ingressd.certs import init_ca, issue_leaf, write_private

ANNOTATION = "ingressd.io/local-ca"
MANAGED_BY = {"app.kubernetes.io/managed-by": "ingressd"}
RENEW_BEFORE = datetime.timedelta(days=30)
ISSUED_DIR = "issued"


def wants_local_ca(ingress: dict) -> bool:
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(ANNOTATION, "")).lower() == "true"


def _covers(cert_pem: bytes, hosts: list[str]) -> bool:
    cert = x509.load_pem_x509_certificate(cert_pem)
    if cert.not_valid_after_utc - RENEW_BEFORE < datetime.datetime.now(datetime.timezone.utc):
        return False
    try:
        names = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                    .get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        return False
    return set(hosts) <= names


def leaf_path(directory: Path, namespace: str, name: str, hosts: list[str]) -> Path:
    """`<CA dir>/issued/<namespace>-<name>-<12 hex of the sorted hosts' SHA-256>.pem`."""
    digest = hashlib.sha256("\n".join(sorted(set(hosts))).encode()).hexdigest()[:12]
    return directory / ISSUED_DIR / f"{namespace}-{name}-{digest}.pem"


def _reusable(path: Path, ca_cert: x509.Certificate, hosts: list[str]) -> tuple[bytes, bytes] | None:
    """(certificate PEM, key PEM) kept in `path` when it is whole, issued by this CA, matching its key
    and still covering `hosts`; None (issue anew) otherwise."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:  # each loader takes its own PEM block of the file
        cert = x509.load_pem_x509_certificate(data)
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        return None
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.issuer != ca_cert.subject or key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        return None
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):  # another CA of the same name
        return None
    return (cert_pem, key_pem) if _covers(cert_pem, hosts) else None


def _keep(path: Path, cert_pem: bytes, key_pem: bytes) -> None:
    """Write certificate and key to `path` as one file (mode 0600), whole: a temporary file renamed."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_private(tmp, cert_pem + key_pem)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _gateway_tls(gateway: dict) -> list[tuple[str, str, list[str]]]:
    """(namespace, Secret name, hosts) of each HTTPS listener's Secret certificateRefs: the
    listener's hostname (a wildcard stays one), or "localhost" for a listener without one."""
    ns = (gateway.get("metadata") or {}).get("namespace") or "default"
    out = []
    for listener in (gateway.get("spec") or {}).get("listeners") or []:
        if not isinstance(listener, dict) or listener.get("protocol") != "HTTPS":
            continue
        tls = listener.get("tls") if isinstance(listener.get("tls"), dict) else {}
        host = listener.get("hostname") if isinstance(listener.get("hostname"), str) else "localhost"
        for ref in tls.get("certificateRefs") or []:
            if isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref.get("group", "") == "" \
                    and ref.get("kind", "Secret") == "Secret":
                out.append((ref.get("namespace") or ns, ref["name"], [host]))
    return out


def local_ca_secrets(ingresses: list[dict], secrets: list[dict], certs_dir: str | Path) -> list[dict]:
    """The Secrets to add for annotated Ingresses (and Gateways: their HTTPS listeners'
    certificateRefs, for the listeners' hostnames) whose TLS Secret is absent."""
    present = {((s.get("metadata") or {}).get("namespace") or "default", (s.get("metadata") or {}).get("name"))
               for s in secrets}
    wanted: dict[tuple[str, str], list[str]] = {}
    for ing in ingresses:
        if not wants_local_ca(ing):
            continue
        ns = (ing.get("metadata") or {}).get("namespace") or "default"
        if ing.get("kind") == "Gateway":
            for ref_ns, name, hosts in _gateway_tls(ing):
                if (ref_ns, name) not in present:
                    wanted.setdefault((ref_ns, name), [])
                    wanted[(ref_ns, name)] += [h for h in hosts if h not in wanted[(ref_ns, name)]]
            continue
        for entry in (ing.get("spec") or {}).get("tls") or []:
            name = entry.get("secretName") if isinstance(entry, dict) else None
            hosts = [h for h in (entry.get("hosts") or []) if isinstance(h, str)] if name else []
            if name and hosts and (ns, name) not in present:
                wanted.setdefault((ns, name), [])
                wanted[(ns, name)] += [h for h in hosts if h not in wanted[(ns, name)]]
    if not wanted:
        return []
    directory = Path(certs_dir)
    ca = init_ca(directory)
    made = []
    for (ns, name), hosts in sorted(wanted.items()):
        path = leaf_path(directory, ns, name, hosts)
        kept = _reusable(path, ca.cert, hosts)
        if kept:
            cert_pem, key_pem = kept
        else:
            cert_pem, key_pem = issue_leaf(ca, hosts)
            _keep(path, cert_pem, key_pem)
        made.append({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": ns, "labels": dict(MANAGED_BY),
                         "annotations": {ANNOTATION: "issued"}},
            "data": {"tls.crt": base64.b64encode(cert_pem).decode(), "tls.key": base64.b64encode(key_pem).decode()},
        })
    return made
