"""Where the local CA lives: one per user, in the platform's user data directory, as mkcert does.

Order (the first that applies wins):

1. `--certs-dir DIR` / `ingressd certs --dir DIR`: that directory.
2. `$INGRESSD_CAROOT`: that directory (mkcert's `$CAROOT`).
3. `./certs` of the working directory when it already holds a CA (`ca.crt` or `ca.key`): older
   ingressd versions kept the CA there, and browsers already trust it, so it keeps being used and
   ingressd says so once (see `legacy_notice`). It is never moved or copied: two projects may each
   have their own, and moving a key behind the user's back is worse than one line on stderr.
4. The per-user directory, mkcert's rules with `ingressd` for `mkcert`: Windows
   `%LOCALAPPDATA%\\ingressd`; elsewhere `$XDG_DATA_HOME/ingressd` when set; macOS
   `~/Library/Application Support/ingressd`; other Unix `~/.local/share/ingressd`.

Pure: the environment, the platform and the working directory are arguments.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_CAROOT = "INGRESSD_CAROOT"
LEGACY_DIR = "certs"
DIR_NAME = "ingressd"

# why the directory was chosen (CertsDir.source)
FLAG, ENV, LEGACY, USER = "flag", "env", "legacy", "user"


class CARootError(Exception):
    """No per-user directory can be derived (no HOME / LOCALAPPDATA); the message says what to set."""


@dataclass(frozen=True)
class CertsDir:
    path: Path
    source: str  # FLAG, ENV, LEGACY or USER

    @property
    def legacy(self) -> bool:
        return self.source == LEGACY


def user_caroot(env: Mapping[str, str], platform: str) -> str:
    """The per-user CA directory for `platform` (a sys.platform value), mkcert's CAROOT rules
    without the override, as a path of that platform. CARootError when the variable it builds on
    is unset."""
    if platform == "win32":
        base = env.get("LOCALAPPDATA") or env.get("LocalAppData")
        if not base:
            raise CARootError(f"%LOCALAPPDATA% is not set: set {ENV_CAROOT} to the directory of the local CA")
        return ntpath.join(base, DIR_NAME)
    if env.get("XDG_DATA_HOME"):  # mkcert honours it on macOS too
        return posixpath.join(env["XDG_DATA_HOME"], DIR_NAME)
    home = env.get("HOME")
    if not home:
        raise CARootError(f"$HOME is not set: set {ENV_CAROOT} (or XDG_DATA_HOME) to the directory of the local CA")
    if platform == "darwin":
        return posixpath.join(home, "Library", "Application Support", DIR_NAME)
    return posixpath.join(home, ".local", "share", DIR_NAME)


def has_ca(directory: Path) -> bool:
    return (directory / "ca.crt").exists() or (directory / "ca.key").exists()


def resolve(explicit: str | os.PathLike | None, env: Mapping[str, str], platform: str,
            cwd: Path) -> CertsDir:
    """The CA directory by the order in the module docstring. `explicit` is the flag's value (None:
    not given); a relative one is relative to `cwd`, as the user typed it."""
    if explicit is not None and str(explicit) != "":
        return CertsDir(cwd / Path(explicit), FLAG)
    if env.get(ENV_CAROOT):
        return CertsDir(cwd / Path(env[ENV_CAROOT]), ENV)
    legacy = cwd / LEGACY_DIR
    if has_ca(legacy):
        return CertsDir(legacy, LEGACY)
    return CertsDir(Path(user_caroot(env, platform)), USER)


def legacy_notice(chosen: CertsDir, env: Mapping[str, str], platform: str) -> str | None:
    """The one line said when the CA of an older version (./certs) is used, else None."""
    if not chosen.legacy:
        return None
    try:
        user = str(user_caroot(env, platform))
    except CARootError:
        user = f"${ENV_CAROOT}"
    return (f"using the local CA in {chosen.path} (earlier ingressd versions kept it there); new setups share one "
            f"per-user CA in {user}: move ca.crt and ca.key there to use it everywhere, or pass "
            f"--certs-dir {LEGACY_DIR} to keep this one without this note")
