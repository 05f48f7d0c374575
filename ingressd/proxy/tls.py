"""TLS for the HTTPS listener: the default certificate ingress-nginx serves when nothing else fits.

Per-host certificates from Secrets (SNI) arrive with the TLS issue; until then every handshake
gets the default certificate, generated at start and never written outside the state dir.
"""

from __future__ import annotations

import datetime
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEFAULT_CN = "ingressd default certificate"


def generate_self_signed(common_name: str = DEFAULT_CN, days: int = 365) -> tuple[bytes, bytes]:
    """PEM (certificate, private key) for a self-signed P-256 certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ingressd")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert_pem, key_pem


def default_server_context(state_dir: str | os.PathLike) -> ssl.SSLContext:
    """A server context (TLS 1.2+, ALPN http/1.1) holding a fresh default certificate.

    ssl can only load keys from files, so they go to `<state-dir>/tls/` with mode 0600.
    """
    cert_pem, key_pem = generate_self_signed()
    directory = Path(state_dir) / "tls"
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "default.crt"
    key_path = directory / "default.key"
    cert_path.write_bytes(cert_pem)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.load_cert_chain(cert_path, key_path)
    return ctx
