"""`ingressd certs trust --install`: add the local CA to the system and NSS (Firefox/Chromium) stores.

The facts follow mkcert (truststore_linux.go, truststore_darwin.go, truststore_nss.go):

- Linux system store, first directory that exists: Fedora/RHEL `/etc/pki/ca-trust/source/anchors/`
  (`.pem`, `update-ca-trust extract`); Debian/Ubuntu `/usr/local/share/ca-certificates/` (`.crt`,
  `update-ca-certificates`); Arch `/etc/ca-certificates/trust-source/anchors/` (`.crt`,
  `trust extract-compat`); openSUSE `/usr/share/pki/trust/anchors/` (`.pem`,
  `update-ca-certificates`). Root needed: run as root, else through `sudo` when a terminal can
  take its password.
- macOS: `security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain CA`
  (root, as above).
- NSS databases (a directory with cert9.db: `sql:`, or the older cert8.db: `dbm:`): Chromium's
  `~/.pki/nssdb` and its snap's, `/etc/pki/nssdb`, each Firefox profile (Linux
  `~/.mozilla/firefox/*` and the snap's, macOS `~/Library/Application Support/Firefox/Profiles/*`):
  `certutil -A -d DB -t C,, -n NAME -i CA` (NSS's certutil: libnss3-tools, nss-tools,
  mozilla-nss-tools, brew nss).

Nothing here probes or runs by itself: `plan` takes a `Probe` (what the machine has) and returns
the steps; `install` runs the runnable ones through a `run` function. Tests pass fakes; the CLI
passes `real_probe()` and `subprocess.run`.
"""

from __future__ import annotations

import glob as globmod
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ingressd.words import count

SYSTEM, NSS = "system", "nss"
STORES = (SYSTEM, NSS)

# (anchor directory, file suffix, refresh command, distribution family): mkcert's order
LINUX_ANCHORS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("/etc/pki/ca-trust/source/anchors", ".pem", ("update-ca-trust", "extract"), "Fedora/RHEL"),
    ("/usr/local/share/ca-certificates", ".crt", ("update-ca-certificates",), "Debian/Ubuntu"),
    ("/etc/ca-certificates/trust-source/anchors", ".crt", ("trust", "extract-compat"), "Arch"),
    ("/usr/share/pki/trust/anchors", ".pem", ("update-ca-certificates",), "openSUSE"),
)
MACOS_KEYCHAIN = "/Library/Keychains/System.keychain"
CERTUTIL_HELP = {  # package manager on PATH -> how to get NSS's certutil
    "apt": "apt install libnss3-tools",
    "dnf": "dnf install nss-tools",
    "yum": "yum install nss-tools",
    "zypper": "zypper install mozilla-nss-tools",
    "pacman": "pacman -S nss",
    "brew": "brew install nss",
}
MACOS_CERTUTIL = ("/opt/homebrew/opt/nss/bin/certutil", "/usr/local/opt/nss/bin/certutil")


@dataclass(frozen=True)
class Probe:
    """What this machine has; every question `plan` asks goes through here."""
    platform: str  # sys.platform
    env: Mapping[str, str]
    is_root: bool
    interactive: bool  # a terminal can answer sudo's password prompt
    which: Callable[[str], str | None]
    exists: Callable[[str], bool]
    glob: Callable[[str], list[str]]


def real_probe() -> Probe:
    geteuid = getattr(os, "geteuid", None)
    return Probe(platform=sys.platform, env=dict(os.environ), is_root=bool(geteuid and geteuid() == 0),
                 interactive=sys.stdin.isatty(), which=shutil.which, exists=os.path.exists,
                 glob=lambda pattern: sorted(globmod.glob(pattern)))


@dataclass(frozen=True)
class Step:
    store: str  # SYSTEM or NSS
    target: str  # what it changes: a file, a keychain, an NSS database ("" when none was found)
    commands: tuple[tuple[str, ...], ...]  # argv of each command, in order
    blocked: str | None = None  # why ingressd cannot run it here (None: it can)
    notes: tuple[str, ...] = field(default=())

    def script(self) -> list[str]:
        return [shlex.join(c) for c in self.commands]


def _root(argv: tuple[str, ...], probe: Probe) -> tuple[tuple[str, ...], str | None]:
    """`argv` as root: itself when root, through sudo when it can prompt; else the sudo form and
    why it cannot be run here."""
    if probe.is_root:
        return argv, None
    if probe.which("sudo") is None:
        return argv, "needs root and sudo is not installed: run as root"
    sudo = ("sudo", "--", *argv)
    if not probe.interactive:
        return sudo, "needs root and no terminal is there for sudo's password"
    return sudo, None


def _as_root(commands: list[tuple[str, ...]], probe: Probe) -> tuple[tuple[tuple[str, ...], ...], str | None]:
    out, why = [], None
    for argv in commands:
        cmd, reason = _root(argv, probe)
        out.append(cmd)
        why = why or reason
    return tuple(out), why


def system_step(ca_path: str, unique: str, probe: Probe) -> Step:
    """The step that trusts the CA system-wide on this platform."""
    if probe.platform == "darwin":
        commands, why = _as_root([("security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k",
                                   MACOS_KEYCHAIN, ca_path)], probe)
        if why is None and probe.which("security") is None:
            why = "the security tool is not on PATH"
        return Step(SYSTEM, MACOS_KEYCHAIN, commands, why)
    if probe.platform == "win32":
        return Step(SYSTEM, "CurrentUser\\Root", (("certutil", "-addstore", "-user", "Root", ca_path),),
                    "ingressd does not change Windows' certificate stores itself")
    for directory, suffix, refresh, family in LINUX_ANCHORS:
        if probe.exists(directory):
            target = f"{directory}/{unique}{suffix}"
            commands, why = _as_root([("cp", ca_path, target), refresh], probe)
            if why is None and probe.which(refresh[0]) is None:
                why = f"{refresh[0]} is not installed"
            return Step(SYSTEM, target, commands, why, (family,))
    return Step(SYSTEM, "", (), "no system trust store ingressd knows of on this system "
                "(none of " + ", ".join(d for d, *_ in LINUX_ANCHORS) + f"): add {ca_path} by hand")


def nss_databases(probe: Probe) -> list[str]:
    """The NSS databases present, as certutil names them (`sql:DIR`, `dbm:DIR`)."""
    home = probe.env.get("HOME", "")
    if probe.platform == "darwin":
        dirs: list[str] = []
        patterns = [f"{home}/Library/Application Support/Firefox/Profiles/*"] if home else []
    else:
        dirs = ([f"{home}/.pki/nssdb", f"{home}/snap/chromium/current/.pki/nssdb"] if home else []) \
            + ["/etc/pki/nssdb"]
        patterns = [f"{home}/.mozilla/firefox/*", f"{home}/snap/firefox/common/.mozilla/firefox/*"] if home else []
    for pattern in patterns:
        dirs += probe.glob(pattern)
    found = []
    for directory in dirs:
        if probe.exists(f"{directory}/cert9.db"):
            found.append(f"sql:{directory}")
        elif probe.exists(f"{directory}/cert8.db"):
            found.append(f"dbm:{directory}")
    return list(dict.fromkeys(found))


def certutil_path(probe: Probe) -> str | None:
    found = probe.which("certutil")
    if found or probe.platform != "darwin":
        return found
    return next((p for p in MACOS_CERTUTIL if probe.exists(p)), None)


def certutil_help(probe: Probe) -> str:
    if probe.platform == "darwin":
        return CERTUTIL_HELP["brew"]
    hints = [hint for tool, hint in CERTUTIL_HELP.items() if tool != "brew" and probe.which(tool)]
    return hints[0] if hints else "libnss3-tools, nss-tools or mozilla-nss-tools"


def nss_steps(ca_path: str, nickname: str, probe: Probe) -> list[Step]:
    databases = nss_databases(probe)
    if not databases:
        return [Step(NSS, "", (), "no Firefox or Chromium certificate database found (start the browser "
                     "once to create it, then run this again)")]
    certutil = certutil_path(probe)
    missing = None if certutil else f"certutil is not installed ({certutil_help(probe)})"
    steps = []
    for db in databases:
        argv = (certutil or "certutil", "-A", "-d", db, "-t", "C,,", "-n", nickname, "-i", ca_path)
        home = probe.env.get("HOME")
        if home and db.split(":", 1)[1].startswith(home.rstrip("/") + "/"):
            commands, why = (argv,), None  # the user's own database
        else:
            commands, why = _as_root([argv], probe)
        steps.append(Step(NSS, db, commands, missing or why))
    return steps


def plan(ca_path: str, unique: str, nickname: str, probe: Probe, stores: Sequence[str] = STORES) -> list[Step]:
    """The steps that trust the CA at `ca_path` (an absolute path) in `stores`. `unique` names the
    system store's file (no extension), `nickname` the NSS entry; both carry the CA's fingerprint so
    a new CA never replaces an old one's entry by accident."""
    steps: list[Step] = []
    if SYSTEM in stores:
        steps.append(system_step(ca_path, unique, probe))
    if NSS in stores:
        steps += nss_steps(ca_path, nickname, probe)
    return steps


@dataclass(frozen=True)
class Outcome:
    step: Step
    status: str  # "done", "failed", "blocked", "dry-run"
    detail: str = ""  # the failing command and its output


Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """The real runner: sudo prompts on the terminal; output captured for the report."""
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


def install(steps: Sequence[Step], run: Runner = run_command, dry_run: bool = False) -> list[Outcome]:
    """Run each runnable step's commands in order (a step stops at its first failing command)."""
    outcomes = []
    for step in steps:
        if step.blocked is not None:
            outcomes.append(Outcome(step, "blocked", step.blocked))
            continue
        if dry_run:
            outcomes.append(Outcome(step, "dry-run"))
            continue
        detail = ""
        for argv in step.commands:
            try:
                result = run(argv)
            except OSError as err:
                detail = f"{shlex.join(argv)}: {err.strerror or err}"
                break
            if result.returncode != 0:
                output = " ".join(((result.stderr or "") + (result.stdout or "")).split())
                detail = f"{shlex.join(argv)} exited {result.returncode}" + (f": {output}" if output else "")
                break
        outcomes.append(Outcome(step, "failed" if detail else "done", detail))
    return outcomes


def _label(step: Step) -> str:
    if step.store == SYSTEM:
        family = f" ({step.notes[0]})" if step.notes else ""
        return f"system store{family}" + (f" {step.target}" if step.target else "")
    return "NSS database" + (f" {step.target}" if step.target else "s")


def report(outcomes: Sequence[Outcome]) -> tuple[str, int]:
    """The text `trust --install` prints and its exit code: 1 when a command failed, else 0
    (stores left for the user are listed with the exact commands)."""
    lines: list[str] = []
    for o in outcomes:
        label = _label(o.step)
        if o.status == "done":
            lines.append(f"trusted in the {label}")
        elif o.status == "dry-run":
            lines.append(f"would trust in the {label} by running:")
            lines += [f"  {c}" for c in o.step.script()]
        elif o.status == "failed":
            lines.append(f"FAILED for the {label}: {o.detail}")
            lines += [f"  {c}" for c in o.step.script()]
        else:
            lines.append(f"not done for the {label}: {o.detail}" + ("; run:" if o.step.commands else ""))
            lines += [f"  {c}" for c in o.step.script()]
    left = sum(1 for o in outcomes if o.status in ("blocked", "failed") and o.step.commands)
    if left:
        lines.append(f"{count(left, 'store')} left for you: run the commands above")
    return "\n".join(lines) + "\n", 1 if any(o.status == "failed" for o in outcomes) else 0
