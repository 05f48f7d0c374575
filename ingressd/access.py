"""Credentials on disk: the admin API's bearer token, the kubeconfig `ingressd run` writes for
itself, `ingressd kubeconfig`, and how ingressd's own clients find the token.

- `<state-dir>/admin-token` (mode 0600): a random token made the first time an instance starts
  with that state dir and kept, so kubeconfigs stay valid across restarts. Never logged.
- `<state-dir>/admin-ca/` (ca.crt, ca.key mode 0600): the CA of the admin port's TLS, made once;
  `<state-dir>/admin-tls.crt` and `.key`: its server certificate (localhost, 127.0.0.1, ::1 and
  --admin-bind), issued at every start. kubectl sends a kubeconfig's token only over TLS, so the
  admin port answers HTTPS as well as HTTP (ingressd.admin.site).
- `<state-dir>/kubeconfig` (mode 0600, replaced atomically at every start): cluster `ingressd`
  at `https://<admin-bind>:<admin port>` with that CA, user `ingressd-admin` with the token,
  context `ingressd`.
- Clients (`ingressd get/describe/scale/delete/logs/top/routes`, `explain`, `bench`) send the
  token of the first of: the kubeconfig given by `--kubeconfig` (else each file of `$KUBECONFIG`,
  else `~/.kube/config`, as kubectl reads them) whose context reaches the server; then
  `<--state-dir, default .ingressd>/kubeconfig`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ingressd.apimachinery.access import (
    CONTEXT_NAME,
    KubeconfigError,
    is_token_text,
    kubeconfig_document,
    merge_kubeconfig,
    token_for_server,
)

__all__ = ["AccessError", "TokenSearch", "add_credential_flags", "add_kubeconfig_parser", "admin_server_url",
           "admin_tls", "cmd_kubeconfig", "credentials", "find_token", "kubeconfig_path", "load_or_create_token",
           "token_path", "unauthorized_message", "write_kubeconfig"]

TOKEN_FILE = "admin-token"
KUBECONFIG_FILE = "kubeconfig"
DEFAULT_STATE_DIR = ".ingressd"


class AccessError(Exception):
    """A token or kubeconfig file that cannot be read or written; the message names the file."""


def token_path(state_dir: str | os.PathLike) -> Path:
    return Path(state_dir) / TOKEN_FILE


def kubeconfig_path(state_dir: str | os.PathLike) -> Path:
    return Path(state_dir) / KUBECONFIG_FILE


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def load_or_create_token(state_dir: str | os.PathLike, warn=None) -> str:
    """The state dir's token, made (secrets.token_urlsafe, mode 0600) when it has none yet."""
    path = token_path(state_dir)
    try:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise AccessError(f"ingressd: cannot create the admin API token {path}: {_why(exc)}") from None
    else:
        token = secrets.token_urlsafe(32)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
            f.flush()
            os.fsync(f.fileno())
        return token
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError as exc:
        raise AccessError(f"ingressd: cannot read the admin API token {path}: {_why(exc)}") from None
    if not is_token_text(text):
        raise AccessError(f"ingressd: {path} does not hold an admin API token (32 to 512 URL-safe base64 "
                          "characters, as ingressd writes): delete it and a new one is made at the next start "
                          "(kubeconfigs holding the old one then need `ingressd kubeconfig --merge` again)")
    if mode & 0o077:
        try:
            os.chmod(path, 0o600)
        except OSError as exc:
            raise AccessError(f"ingressd: {path} is readable by others and cannot be made private: "
                              f"{_why(exc)}") from None
        if warn is not None:
            warn(f"ingressd: {path} was readable by other users; made it mode 0600")
    return text


WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
ADMIN_CA_DIR = "admin-ca"
ADMIN_TLS_CERT = "admin-tls.crt"
ADMIN_TLS_KEY = "admin-tls.key"


def admin_server_url(bind: str, port: int, scheme: str = "https") -> str:
    """Where a client on this machine reaches the admin port: a wildcard bind is its loopback."""
    host = WILDCARDS.get(bind, bind)
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def admin_tls(state_dir: str | os.PathLike, bind: str):
    """(server ssl.SSLContext, the CA's PEM) for the admin port: the state dir's CA (made once, so
    kubeconfigs stay valid) and a server certificate for loopback and `bind`, issued now."""
    import ssl

    from ingressd import certs

    state = Path(state_dir)
    hosts = ["localhost", "127.0.0.1", "::1"]
    if bind not in WILDCARDS and bind not in hosts:
        hosts.append(bind)
    try:
        ca = certs.init_ca(state / ADMIN_CA_DIR)
        cert_pem, key_pem = certs.issue_leaf(ca, hosts)
        certs.write_private(state / ADMIN_TLS_KEY, key_pem)
        (state / ADMIN_TLS_CERT).write_bytes(cert_pem + ca.cert_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(state / ADMIN_TLS_CERT, state / ADMIN_TLS_KEY)
    except certs.CertError as exc:
        raise AccessError(f"ingressd: the admin port's TLS ({state / ADMIN_CA_DIR}): {exc}") from None
    except (OSError, ssl.SSLError) as exc:
        where = getattr(exc, "filename", None) or state / ADMIN_CA_DIR
        raise AccessError(f"ingressd: the admin port's TLS: {where}: {exc.strerror or exc}") from None
    context.set_alpn_protocols(["http/1.1"])
    return context, ca.cert_pem


def _dump(doc: dict) -> str:
    import yaml

    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace `path` atomically (a temporary file beside it, fsynced, renamed over it)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), mode)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_kubeconfig(state_dir: str | os.PathLike, server: str, token: str, ca_pem: bytes | None = None) -> Path:
    """`<state-dir>/kubeconfig` for `server` (its certificate signed by `ca_pem`), replaced
    atomically, mode 0600."""
    path = kubeconfig_path(state_dir)
    try:
        _write_private(path, _dump(kubeconfig_document(server, token, ca_pem)))
    except OSError as exc:
        raise AccessError(f"ingressd: cannot write {path}: {_why(exc)}") from None
    return path


def read_kubeconfig(path: Path) -> dict | None:
    """The kubeconfig at `path`; None when there is no such file. AccessError when unreadable."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise AccessError(f"cannot read {path}: {_why(exc) if isinstance(exc, OSError) else exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AccessError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise AccessError(f"{path} is not a kubeconfig (a mapping with clusters, users and contexts)")
    return doc


def kubeconfig_files(kubeconfig: str | None = None, environ=None) -> list[Path]:
    """The kubeconfig files kubectl would read: --kubeconfig, else $KUBECONFIG's, else ~/.kube/config."""
    environ = os.environ if environ is None else environ
    if kubeconfig:
        return [Path(kubeconfig).expanduser()]
    listed = environ.get("KUBECONFIG")
    if listed:
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


@dataclass
class TokenSearch:
    """The token found (None: none) and where: each place looked and what was there."""

    token: str | None = None
    source: str | None = None
    looked: list[str] = field(default_factory=list)


def find_token(server: str, state_dir: str | None = None, kubeconfig: str | None = None,
               environ=None) -> TokenSearch:
    """The bearer token for `server`: a kubeconfig context that reaches it (--kubeconfig, else
    $KUBECONFIG's files, else ~/.kube/config), else `<state-dir>/kubeconfig` (default .ingressd)."""
    search = TokenSearch()
    env = os.environ if environ is None else environ
    where = "--kubeconfig" if kubeconfig else "$KUBECONFIG" if env.get("KUBECONFIG") else None
    for path in kubeconfig_files(kubeconfig, env):
        label = f"{path} ({where})" if where else str(path)
        try:
            doc = read_kubeconfig(path)
        except AccessError as exc:
            search.looked.append(f"{label}: {exc}")
            continue
        if doc is None:
            search.looked.append(f"{label}: no such file")
            continue
        token = token_for_server(doc, server)
        if token:
            search.token, search.source = token, str(path)
            return search
        search.looked.append(f"{label}: no context for {server} with a token")
    path = kubeconfig_path(state_dir or DEFAULT_STATE_DIR)
    label = f"{path} (--state-dir)" if state_dir else f"{path} (the default --state-dir)"
    try:
        doc = read_kubeconfig(path)
    except AccessError as exc:
        search.looked.append(f"{label}: {exc}")
        return search
    if doc is None:
        search.looked.append(f"{label}: no such file")
        return search
    users = [u.get("user") for u in doc.get("users") or [] if isinstance(u, dict)]
    token = next((u["token"] for u in users if isinstance(u, dict) and isinstance(u.get("token"), str)), None)
    if token:
        search.token, search.source = token, str(path)
    else:
        search.looked.append(f"{label}: holds no token")
    return search


def unauthorized_message(server: str, search: TokenSearch) -> str:
    """What the CLI says when the admin API answers 401: where it looked and how to fix it."""
    if search.token:
        first = (f"error: the ingressd admin API at {server} refused the token from {search.source} "
                 "(Unauthorized): it belongs to another instance or an older state dir")
    else:
        first = f"error: the ingressd admin API at {server} needs a token (Unauthorized) and none was found"
    looked = "".join(f"\n  looked in {place}" for place in search.looked)
    fix = ("\nrun the command in the directory where `ingressd run` runs, or pass --state-dir DIR (that "
           "instance's --state-dir) or --kubeconfig DIR/kubeconfig")
    return first + looked + fix


def add_credential_flags(parser) -> None:
    """--state-dir and --kubeconfig for a command that calls the admin API."""
    parser.add_argument("--state-dir", default=None, metavar="DIR",
                        help="the --state-dir of the `ingressd run` to talk to: its kubeconfig holds the admin "
                             "API's token (default .ingressd)")
    parser.add_argument("--kubeconfig", default=None, metavar="FILE",
                        help="take the token from this kubeconfig's context for the server (default: $KUBECONFIG, "
                             "else ~/.kube/config, then the state dir's)")


def credentials(server: str, args) -> TokenSearch:
    """find_token for a command parsed with add_credential_flags."""
    return find_token(server, getattr(args, "state_dir", None), getattr(args, "kubeconfig", None))


# -- ingressd kubeconfig ------------------------------------------------------------------------


def add_kubeconfig_parser(sub) -> None:
    p = sub.add_parser("kubeconfig", help="print the kubeconfig of the running ingressd, its path, or merge it "
                       "into ~/.kube/config (context ingressd)")
    p.add_argument("--state-dir", default=DEFAULT_STATE_DIR, metavar="DIR",
                   help="the state dir of the instance (default .ingressd)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--path", action="store_true", help="print the kubeconfig's path instead of its content")
    what.add_argument("--merge", action="store_true",
                      help="add cluster, user and context ingressd to your kubeconfig and make it current, "
                           "keeping everything else (as kind does)")
    p.add_argument("--kubeconfig", default=None, metavar="FILE",
                   help="with --merge: the file to merge into (default: $KUBECONFIG's first file, else "
                        "~/.kube/config; created when missing)")


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    path = kubeconfig_path(args.state_dir)
    if args.kubeconfig and not args.merge:
        print("ingressd kubeconfig: --kubeconfig goes with --merge (the file to merge into)", file=sys.stderr)
        return 2
    try:
        ours = read_kubeconfig(path)
    except AccessError as exc:
        print(f"ingressd kubeconfig: {exc}", file=sys.stderr)
        return 1
    if ours is None:
        print(f"ingressd kubeconfig: no kubeconfig at {path}: `ingressd run` writes it when it starts "
              "(pass --state-dir DIR for an instance run with --state-dir DIR)", file=sys.stderr)
        return 1
    if args.path:
        print(path.resolve())
        return 0
    if not args.merge:
        sys.stdout.write(path.read_text(encoding="utf-8"))
        return 0
    target = kubeconfig_files(args.kubeconfig)[0]
    lock = target.with_name(target.name + ".lock")  # as kubectl and kind lock a kubeconfig they write
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise AccessError(f"{target} is being written by another program ({lock} exists; remove it if "
                              "nothing is)") from None
        try:
            merged = merge_kubeconfig(read_kubeconfig(target), ours, str(target))
            mode = target.stat().st_mode & 0o777 if target.exists() else 0o600
            _write_private(target, _dump(merged), mode)
        finally:
            lock.unlink(missing_ok=True)
    except (AccessError, KubeconfigError) as exc:
        print(f"ingressd kubeconfig: {exc}; left unchanged", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"ingressd kubeconfig: cannot write {exc.filename or target}: {_why(exc)}", file=sys.stderr)
        return 1
    print(f'Set kubectl context to "{CONTEXT_NAME}" in {target}', file=sys.stderr)
    print(f"You can now use ingressd with:\n\nkubectl cluster-info --context {CONTEXT_NAME}", file=sys.stderr)
    return 0
