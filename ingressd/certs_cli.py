"""`ingressd certs init|issue|trust|caroot` and the CA directory `ingressd run` uses."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ingressd import caroot

_NOTED: set[str] = set()  # legacy notices already said in this process


def add_certs_parser(sub) -> None:
    certs = sub.add_parser("certs", help="a local CA (mkcert-style) and TLS Secrets issued from it")
    certs_sub = certs.add_subparsers(dest="certs_command", metavar="ACTION", required=True)
    init = certs_sub.add_parser("init", help="create the local CA (ca.crt, ca.key mode 0600); never overwrites")
    issue = certs_sub.add_parser("issue", help="issue a certificate for HOSTs and print a kubernetes.io/tls Secret")
    issue.add_argument("hosts", nargs="+", metavar="HOST",
                       help="DNS name (a leading '*.' allowed) or IP address; the first is the CN")
    issue.add_argument("--secret", metavar="NAME",
                       help="Secret name (default: the first host, '*' as 'wildcard', '.' as '-', plus '-tls')")
    issue.add_argument("--namespace", default="default", metavar="NS", help="Secret namespace (default: default)")
    issue.add_argument("--out", metavar="FILE",
                       help="write the Secret manifest here (mode 0600: it holds the key) instead of stdout; "
                            "warns when FILE is in a git work tree that does not ignore it")
    trust = certs_sub.add_parser(
        "trust", help="print the commands that trust the CA; --install runs those this machine allows")
    trust.add_argument("--install", action="store_true",
                       help="add the CA to the system store and the Firefox/Chromium NSS databases where it can "
                            "(root or sudo for the system store; NSS's certutil), printing the commands it cannot run")
    trust.add_argument("--dry-run", action="store_true", help="with --install: print what it would run, run nothing")
    trust.add_argument("--store", action="append", choices=("system", "nss"), default=None, dest="stores",
                       help="with --install: only this store; repeatable (default: both)")
    where = certs_sub.add_parser("caroot", help="print the CA's directory (as mkcert -CAROOT)")
    for action in (init, issue, trust, where):
        action.add_argument("--dir", default=None, metavar="DIR",
                            help=f"the CA's directory (default: ${caroot.ENV_CAROOT}, else ./certs when an older "
                                 "ingressd made a CA there, else the per-user one: ~/.local/share/ingressd, "
                                 "~/Library/Application Support/ingressd, %%LOCALAPPDATA%%\\ingressd)")


def resolve(explicit: str | None) -> caroot.CertsDir:
    """The CA directory for this process; says the legacy notice once (stderr)."""
    chosen = caroot.resolve(explicit, os.environ, sys.platform, Path.cwd())
    note = caroot.legacy_notice(chosen, os.environ, sys.platform)
    if note and str(chosen.path) not in _NOTED:
        _NOTED.add(str(chosen.path))
        print(f"ingressd: {note}", file=sys.stderr)
    return chosen


def run_certs_dir(explicit: str | None) -> str:
    """`ingressd run --certs-dir`: the resolved directory (a working-directory `certs` when no
    per-user directory can be derived, with a warning: the CA is only made when first needed)."""
    try:
        return str(resolve(explicit).path)
    except caroot.CARootError as err:
        print(f"ingressd: warning: {err}; the local CA goes to ./{caroot.LEGACY_DIR}", file=sys.stderr)
        return caroot.LEGACY_DIR


GitRunner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _git(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=30)


def unignored_in_work_tree(path: str | os.PathLike, git: GitRunner = _git) -> str | None:
    """The work tree's top directory when `path` is inside a git work tree that does not ignore it
    (tracked counts as not ignored); None when it is ignored, outside any work tree, or git is not
    installed or cannot tell."""
    target = Path(path).absolute()
    parent = target.parent
    if not parent.is_dir():
        return None
    try:
        top = git(["git", "-C", str(parent), "rev-parse", "--show-toplevel"])
        if top.returncode != 0 or not top.stdout.strip():
            return None
        ignored = git(["git", "-C", str(parent), "check-ignore", "-q", "--", target.name])
    except (OSError, subprocess.SubprocessError):
        return None
    return top.stdout.strip() if ignored.returncode == 1 else None  # 0 ignored, 128 git could not tell


def run_certs(args: argparse.Namespace) -> int:
    from ingressd import certs

    try:
        chosen = resolve(args.dir)
        directory = chosen.path
        if args.certs_command == "caroot":
            print(directory)
            return 0
        if args.certs_command == "init":
            ca = certs.init_ca(directory)
            subject = ca.cert.subject.rfc4514_string()
            if ca.created:
                print(f"created the local CA {ca.cert_path} (key {ca.key_path}, mode 0600): {subject}",
                      file=sys.stderr)
                print("trust it with `ingressd certs trust --install` (or run the commands "
                      "`ingressd certs trust` prints)", file=sys.stderr)
            else:
                print(f"the local CA already exists in {directory}, left unchanged: {subject}", file=sys.stderr)
            return 0
        if args.certs_command == "issue":
            hosts = [certs.validate_host(host) for host in args.hosts]
            ca = certs.load_ca(directory)
            cert_pem, key_pem = certs.issue_leaf(ca, hosts)
            name = args.secret or certs.default_secret_name(hosts[0])
            manifest = certs.tls_secret_manifest(name, args.namespace, cert_pem, key_pem)
            if args.out:
                repo = unignored_in_work_tree(args.out)
                certs.write_private(args.out, manifest.encode())
                print(f"wrote Secret {args.namespace}/{name} for {', '.join(hosts)} to {args.out} "
                      "(mode 0600: it holds the private key)", file=sys.stderr)
                if repo:
                    print(f"ingressd: certs issue: warning: {args.out} is inside the git work tree {repo} and not "
                          "ignored there: it holds a private key, do not commit it (add it to .gitignore, or "
                          "write it outside the repository)", file=sys.stderr)
            else:
                sys.stdout.write(manifest)
            return 0
        if args.certs_command == "trust":
            ca = certs.load_ca(directory)
            if not args.install:
                if args.dry_run or args.stores:
                    print("ingressd: certs trust: --dry-run and --store go with --install", file=sys.stderr)
                    return 2
                sys.stdout.write(certs.trust_commands(ca.cert_path, ca.trust_file_name, ca.trust_nickname))
                return 0
            from ingressd import truststore

            steps = truststore.plan(str(ca.cert_path.absolute()), ca.trust_file_name, ca.trust_nickname,
                                    truststore.real_probe(), args.stores or truststore.STORES)
            text, code = truststore.report(truststore.install(steps, dry_run=args.dry_run))
            sys.stdout.write(text)
            return code
    except caroot.CARootError as err:
        print(f"ingressd: certs {args.certs_command}: {err}", file=sys.stderr)
        return 1
    except certs.CertError as err:
        print(f"ingressd: certs {args.certs_command}: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print(f"ingressd: certs {args.certs_command}: {where}{err.strerror or err}", file=sys.stderr)
        return 1
    raise AssertionError(f"unknown certs action {args.certs_command!r}")  # argparse allows none other
