"""A local certificate authority, mkcert-style: `ingressd certs init|issue|trust`.

The CA lives in a directory (one per user by default, see `ingressd.caroot`) as `ca.crt` and
`ca.key`; the key is created with mode 0600 and never overwritten. Leaf certificates are issued for
host names and IP addresses and handed out as a ready `kubernetes.io/tls` Secret manifest. Nothing
here touches the system trust stores: `trust_commands` only prints what to run
(`ingressd.truststore` runs them for `ingressd certs trust --install`).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import getpass
import ipaddress
import os
import re
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
CA_DAYS = 3650
LEAF_MAX_DAYS = 825  # Apple's limit for TLS server certificates issued by a user-trusted root
TRUST_NAME = "ingressd local CA"

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


class CertError(Exception):
    """A certificate operation failed; the message is one line meant for the user."""


@dataclass(frozen=True)
class CA:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    cert_path: Path
    key_path: Path
    created: bool = False  # init_ca made it now (False: it already existed and was loaded)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def tag(self) -> str:
        """12 hex digits of the certificate's SHA-256: tells this CA's trust-store entries from
        those of a CA made earlier (mkcert puts the serial number in its names for the same reason)."""
        return self.cert.fingerprint(hashes.SHA256()).hex()[:12]

    @property
    def trust_file_name(self) -> str:
        """The system store's file name for this CA, without extension."""
        return f"ingressd-local-ca-{self.tag}"

    @property
    def trust_nickname(self) -> str:
        """The NSS (Firefox/Chromium) nickname of this CA."""
        return f"{TRUST_NAME} {self.tag}"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_private(path: str | os.PathLike, data: bytes, *, exclusive: bool = False) -> None:
    """Write `data` to `path` with mode 0600 from the first byte (never briefly world-readable)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode under O_CREAT: narrow it first
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
    finally:
        if fd != -1:
            os.close(fd)


@contextlib.contextmanager
def _locked(directory: Path):
    """An exclusive flock on `directory` itself (no lock file left in the CA directory), so that
    processes creating the same CA at once (two `ingressd run` on a fresh machine) take turns;
    where there is no flock (Windows), creation is not serialized."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # and with it the lock


def _publish(path: Path, data: bytes, private: bool) -> None:
    """Write `path` whole or not at all, never over an existing file: a temporary file, linked
    into place once written (a reader sees all of it or nothing)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if private:
            write_private(tmp, data, exclusive=True)
        else:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _ca_subject() -> x509.Name:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    cn = f"ingressd local CA {user}@{socket.gethostname()}"[:64]  # X.509 caps a CN at 64 chars
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ingressd development CA"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def init_ca(directory: str | os.PathLike) -> CA:
    """Create a local CA in `directory` (`ca.crt`, `ca.key` mode 0600), or load the one already there.

    An existing CA is never overwritten: the returned CA has `created=False`. Half a CA (only one
    of the two files) is an error rather than a silent replacement. Processes creating one CA at
    once take turns (a flock on the directory): the first creates it, the others load it.

    Key type: EC P-256 (ECDSA with SHA-256). mkcert uses RSA 3072 for its root, but every client
    ingressd serves (curl/OpenSSL, browsers, macOS, NSS, Python's ssl, Go) accepts P-256 roots;
    the key generates instantly (tests issue many), the certificates stay small, and its strength
    (~128 bits) matches RSA 3072. It is also what the default certificate in `proxy/tls.py` uses.
    """
    directory = Path(directory)
    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    if cert_path.exists() and key_path.exists():  # each is whole once it exists (_publish)
        return load_ca(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(directory):
        if cert_path.exists() or key_path.exists():  # made while this process waited, or half a CA
            return load_ca(directory)
        return _create_ca(cert_path, key_path)


def _create_ca(cert_path: Path, key_path: Path) -> CA:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _ca_subject()
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    try:
        _publish(key_path, _key_pem(key), private=True)
    except FileExistsError:
        raise CertError(f"{key_path}: appeared while creating the CA; not overwriting it") from None
    try:
        _publish(cert_path, cert.public_bytes(serialization.Encoding.PEM), private=False)
    except BaseException:
        key_path.unlink(missing_ok=True)  # no half CA left behind
        raise
    return CA(cert, key, cert_path, key_path, created=True)


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_ca(directory: str | os.PathLike) -> CA:
    """The CA in `directory`; CertError naming the file when it is missing, unreadable or corrupt."""
    directory = Path(directory)
    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    for path in (cert_path, key_path):
        if not path.is_file():
            raise CertError(f"{path}: no such file (create the CA with `ingressd certs init --dir {directory}`)")
    try:
        cert_bytes, key_bytes = cert_path.read_bytes(), key_path.read_bytes()
    except OSError as err:
        raise CertError(f"{err.filename}: cannot read: {err.strerror}") from None
    try:
        cert = x509.load_pem_x509_certificate(cert_bytes)
    except ValueError:
        raise CertError(f"{cert_path}: not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_bytes, password=None)
    except (ValueError, TypeError):
        raise CertError(f"{key_path}: not an unencrypted PEM private key") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise CertError(f"{key_path}: not an EC or RSA private key")
    if _spki(key.public_key()) != _spki(cert.public_key()):
        raise CertError(f"{key_path}: does not match the certificate in {cert_path}")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise CertError(f"{cert_path}: not a CA certificate (basicConstraints CA:true missing)")
    if cert.not_valid_after_utc <= _now():
        raise CertError(f"{cert_path}: the CA expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    return CA(cert, key, cert_path, key_path, created=False)


def validate_host(host: str) -> str:
    """The host normalized (lower case), or CertError: an IP address, or RFC 1123 labels with at most
    one leading `*.` label."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    name = host.lower()
    rest = name[2:] if name.startswith("*.") else name
    if not rest or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in rest.split(".")):
        raise CertError(f"invalid host name {host!r}: expected an IP address or RFC 1123 labels "
                        "(a-z, 0-9, '-', 1-63 characters each, '.' between), optionally starting with '*.'")
    return name


def issue_leaf(ca: CA, hosts: list[str], days: int = LEAF_MAX_DAYS) -> tuple[bytes, bytes]:
    """PEM (certificate, private key) of a server certificate signed by `ca` for `hosts`.

    DNS names (wildcards allowed) and IP addresses become SANs; CN is the first host when it fits
    (64 characters). serverAuth only; at most 825 days, and never past the CA's own expiry.
    """
    if not hosts:
        raise CertError("no hosts given")
    if not 1 <= days <= LEAF_MAX_DAYS:
        raise CertError(f"validity must be 1-{LEAF_MAX_DAYS} days, got {days}")
    names = list(dict.fromkeys(validate_host(h) for h in hosts))
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ingressd development certificate")]
    if len(names[0]) <= 64:
        subject.append(x509.NameAttribute(NameOID.COMMON_NAME, names[0]))
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    not_after = min(now + datetime.timedelta(days=days), ca.cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                       critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def default_secret_name(host: str) -> str:
    """`*.localtest.me` → `wildcard-localtest-me-tls`, `demo.localtest.me` → `demo-localtest-me-tls`."""
    name = host.lower().replace("*", "wildcard")
    name = re.sub(r"[^a-z0-9-]+", "-", name).strip("-")
    return f"{name}-tls" if name else "tls"


def tls_secret_manifest(name: str, namespace: str, cert_pem: bytes | str, key_pem: bytes | str) -> str:
    """A `kubernetes.io/tls` Secret (base64 `data`: tls.crt, tls.key) as YAML for `kubectl apply`."""
    if len(name) > 253 or not all(_DNS1123_LABEL.fullmatch(p) for p in name.split(".")):
        raise CertError(f"invalid Secret name {name!r}: expected a DNS-1123 subdomain "
                        "(a-z, 0-9, '-', '.'; at most 253 characters)")
    if len(namespace) > 63 or not _DNS1123_LABEL.fullmatch(namespace):
        raise CertError(f"invalid namespace {namespace!r}: expected a DNS-1123 label "
                        "(a-z, 0-9, '-'; at most 63 characters)")

    def b64(pem: bytes | str) -> str:
        return base64.b64encode(pem.encode() if isinstance(pem, str) else pem).decode("ascii")

    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": b64(cert_pem), "tls.key": b64(key_pem)},
    }
    return ("# Issued by `ingressd certs issue` from a local development CA.\n"
            "# It holds a private key: do not commit it.\n"
            + yaml.safe_dump(secret, sort_keys=False, default_flow_style=False, width=1 << 16))


def trust_commands(ca_cert_path: str | os.PathLike, file_name: str = "ingressd-local-ca",
                   nickname: str = TRUST_NAME) -> str:
    """The commands that make this system (and browsers) trust the CA. Prints; changes nothing.
    `file_name` (no extension) and `nickname` name its system-store file and NSS entry."""
    ca = shlex.quote(str(Path(ca_cert_path).resolve()))
    nick = shlex.quote(nickname)
    debian = shlex.quote(f"/usr/local/share/ca-certificates/{file_name}.crt")
    fedora = shlex.quote(f"/etc/pki/ca-trust/source/anchors/{file_name}.pem")
    return f"""\
# Trust the ingressd local CA ({ca}). Run the block for your system; nothing here is run for you
# (`ingressd certs trust --install` runs what it can of it on this machine).

# Debian / Ubuntu
sudo cp {ca} {debian}
sudo update-ca-certificates

# Fedora / RHEL / CentOS
sudo cp {ca} {fedora}
sudo update-ca-trust extract

# macOS
sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {ca}

# Firefox and Chrome on Linux (NSS databases; certutil is in libnss3-tools / nss-tools / brew nss)
certutil -d sql:"$HOME/.pki/nssdb" -A -t C,, -n {nick} -i {ca}
for profile in "$HOME"/.mozilla/firefox/*/ "$HOME"/snap/firefox/common/.mozilla/firefox/*/; do
  [ -f "$profile/cert9.db" ] && certutil -d sql:"$profile" -A -t C,, -n {nick} -i {ca}
done

# Or trust it for one command only, e.g. with the demo on --https-port 8443:
curl --cacert {ca} https://demo.localtest.me:8443/
"""
