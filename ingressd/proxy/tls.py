"""TLS for the HTTPS listener: the default certificate ingress-nginx serves when nothing else fits.

The default certificate is generated at start; per-host certificates come from Secrets through SNI
(SniContexts). Keys are never written outside the state dir.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ingressd.certs import write_private

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
    write_private(key_path, key_pem)
    return server_context(cert_path, key_path)


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """A server context (TLS 1.2+, ALPN http/1.1) on the certificate and key in these files."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


class SniContexts:
    """SNI: the handshake's context is swapped for the certificate of the requested host.

    Reads the ProxyServer's current TLS table on every handshake, so a Secret edited in a manifest
    is served from the next handshake on; open connections keep theirs. Contexts are cached per
    certificate; their key files live in `<state-dir>/tls/` with mode 0600.
    """

    def __init__(self, state_dir: str | os.PathLike, table_source, default: ssl.SSLContext | None = None,
                 file_suffix: str = "") -> None:
        """`default`: the context for unknown names (None: a fresh default certificate);
        `file_suffix`: added to the key files' names (a worker process writes its own)."""
        self.directory = Path(state_dir) / "tls"
        self.table_source = table_source  # () -> TlsTable
        self.default = default if default is not None else default_server_context(state_dir)
        self.default.sni_callback = self._pick
        self.file_suffix = file_suffix
        self._contexts: dict[tuple[str, bytes, bytes], ssl.SSLContext] = {}

    def _context_for(self, cert) -> ssl.SSLContext:
        key = (cert.secret, cert.cert_pem, cert.key_pem)
        ctx = self._contexts.get(key)
        if ctx is None:
            if len(self._contexts) > 256:
                self._contexts.clear()
            stem = hashlib.sha256(cert.cert_pem + cert.key_pem).hexdigest()[:16] + self.file_suffix
            cert_path = self.directory / f"{stem}.crt"
            key_path = self.directory / f"{stem}.key"
            self.directory.mkdir(parents=True, exist_ok=True)
            cert_path.write_bytes(cert.cert_pem)
            write_private(key_path, cert.key_pem)
            ctx = server_context(cert_path, key_path)
            self._contexts[key] = ctx
        return ctx

    def _pick(self, ssl_object, server_name, _context) -> None:
        cert = self.table_source().certificate_for(server_name)
        if cert is not None:
            try:
                ssl_object.context = self._context_for(cert)
            except (OSError, ssl.SSLError):
                pass  # an unusable certificate: keep the default, as for a missing Secret
        return None


_UPSTREAM_CONTEXTS: dict[tuple[bool, bool], ssl.SSLContext] = {}


def upstream_tls(cfg) -> tuple[ssl.SSLContext, str]:
    """(client context, SNI) for backend-protocol HTTPS, as ingress-nginx's proxy_ssl_* defaults:
    no verification unless proxy-ssl-verify; no SNI unless proxy-ssl-server-name; the certificate's
    name is checked only when proxy-ssl-name gives one."""
    check_name = bool(cfg.proxy_ssl_verify and cfg.proxy_ssl_name)
    key = (cfg.proxy_ssl_verify, check_name)
    ctx = _UPSTREAM_CONTEXTS.get(key)
    if ctx is None:
        ctx = ssl.create_default_context()
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.check_hostname = check_name
        if not cfg.proxy_ssl_verify:
            ctx.verify_mode = ssl.CERT_NONE
        _UPSTREAM_CONTEXTS[key] = ctx
    sni = cfg.proxy_ssl_name if (cfg.proxy_ssl_server_name or check_name) and cfg.proxy_ssl_name else ""
    return ctx, sni
