"""`ingressd certs trust --install` (ingressd/truststore.py): the commands for each machine, table
style, from a fake probe; running them through a fake runner. Nothing here touches a trust store."""

from __future__ import annotations

import subprocess

import pytest

from ingressd import truststore
from ingressd.truststore import NSS, SYSTEM, Probe, Step

CA = "/home/ann/.local/share/ingressd/ca.crt"
UNIQUE = "ingressd-local-ca-0123456789ab"
NICK = "ingressd local CA 0123456789ab"
DEBIAN = "/usr/local/share/ca-certificates"
FEDORA = "/etc/pki/ca-trust/source/anchors"


def probe(platform="linux", *, root=False, tty=True, tools=(), paths=(), globs=None, home="/home/ann") -> Probe:
    tools, paths = set(tools), set(paths)
    return Probe(platform=platform, env={"HOME": home} if home else {}, is_root=root, interactive=tty,
                 which=lambda name: f"/usr/bin/{name}" if name in tools else None,
                 exists=lambda path: path in paths,
                 glob=lambda pattern: sorted((globs or {}).get(pattern, [])))


@pytest.mark.parametrize("machine, commands, blocked", [
    # Debian/Ubuntu as root: run directly
    (probe(root=True, tools=["update-ca-certificates"], paths=[DEBIAN]),
     [f"cp {CA} {DEBIAN}/{UNIQUE}.crt", "update-ca-certificates"], None),
    # not root, sudo, a terminal for its password: through sudo
    (probe(tools=["update-ca-certificates", "sudo"], paths=[DEBIAN]),
     [f"sudo -- cp {CA} {DEBIAN}/{UNIQUE}.crt", "sudo -- update-ca-certificates"], None),
    # not root, no terminal: printed for the user
    (probe(tty=False, tools=["update-ca-certificates", "sudo"], paths=[DEBIAN]),
     [f"sudo -- cp {CA} {DEBIAN}/{UNIQUE}.crt", "sudo -- update-ca-certificates"],
     "needs root and no terminal is there for sudo's password"),
    # not root, no sudo
    (probe(tools=["update-ca-certificates"], paths=[DEBIAN]),
     [f"cp {CA} {DEBIAN}/{UNIQUE}.crt", "update-ca-certificates"], "needs root and sudo is not installed: run as root"),
    # root but the refresh tool is missing
    (probe(root=True, paths=[DEBIAN]),
     [f"cp {CA} {DEBIAN}/{UNIQUE}.crt", "update-ca-certificates"], "update-ca-certificates is not installed"),
    # Fedora/RHEL first when both exist (mkcert's order); .pem and `update-ca-trust extract`
    (probe(root=True, tools=["update-ca-trust"], paths=[FEDORA, DEBIAN]),
     [f"cp {CA} {FEDORA}/{UNIQUE}.pem", "update-ca-trust extract"], None),
    # Arch, openSUSE
    (probe(root=True, tools=["trust"], paths=["/etc/ca-certificates/trust-source/anchors"]),
     [f"cp {CA} /etc/ca-certificates/trust-source/anchors/{UNIQUE}.crt", "trust extract-compat"], None),
    (probe(root=True, tools=["update-ca-certificates"], paths=["/usr/share/pki/trust/anchors"]),
     [f"cp {CA} /usr/share/pki/trust/anchors/{UNIQUE}.pem", "update-ca-certificates"], None),
    # a Linux without any known anchor directory
    (probe(root=True), [], "no system trust store ingressd knows of"),
    # macOS: the System keychain, root through sudo
    (probe("darwin", tools=["security", "sudo"]),
     [f"sudo -- security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {CA}"], None),
    (probe("darwin", root=True, tools=["security"]),
     [f"security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {CA}"], None),
    # Windows: printed only
    (probe("win32", home=None), [f"certutil -addstore -user Root {CA}"],
     "ingressd does not change Windows' certificate stores itself"),
])
def test_system_store_commands(machine, commands, blocked):
    [step] = truststore.plan(CA, UNIQUE, NICK, machine, stores=[SYSTEM])
    assert step.store == SYSTEM
    assert step.script() == commands
    if blocked is None:
        assert step.blocked is None
    else:
        assert step.blocked is not None and step.blocked.startswith(blocked)


FF = "/home/ann/.mozilla/firefox"


def nss_cmd(db: str, certutil: str = "/usr/bin/certutil", sudo: bool = False) -> str:
    return ("sudo -- " if sudo else "") + f"{certutil} -A -d {db} -t C,, -n '{NICK}' -i {CA}"


@pytest.mark.parametrize("machine, expected", [
    # Chromium's database and two Firefox profiles (one still on the old dbm format); a profile
    # directory without a database is skipped
    (probe(tools=["certutil"],
           paths=["/home/ann/.pki/nssdb/cert9.db", f"{FF}/a.default/cert9.db", f"{FF}/b.old/cert8.db"],
           globs={f"{FF}/*": [f"{FF}/a.default", f"{FF}/b.old", f"{FF}/empty"]}),
     [("sql:/home/ann/.pki/nssdb", [nss_cmd("sql:/home/ann/.pki/nssdb")], None),
      (f"sql:{FF}/a.default", [nss_cmd(f"sql:{FF}/a.default")], None),
      (f"dbm:{FF}/b.old", [nss_cmd(f"dbm:{FF}/b.old")], None)]),
    # snap Chromium and snap Firefox
    (probe(tools=["certutil"],
           paths=["/home/ann/snap/chromium/current/.pki/nssdb/cert9.db",
                  "/home/ann/snap/firefox/common/.mozilla/firefox/p/cert9.db"],
           globs={"/home/ann/snap/firefox/common/.mozilla/firefox/*": ["/home/ann/snap/firefox/common/.mozilla/firefox/p"]}),
     [("sql:/home/ann/snap/chromium/current/.pki/nssdb",
       [nss_cmd("sql:/home/ann/snap/chromium/current/.pki/nssdb")], None),
      ("sql:/home/ann/snap/firefox/common/.mozilla/firefox/p",
       [nss_cmd("sql:/home/ann/snap/firefox/common/.mozilla/firefox/p")], None)]),
    # the system-wide database (CentOS 7) needs root
    (probe(tools=["certutil", "sudo"], paths=["/etc/pki/nssdb/cert9.db"]),
     [("sql:/etc/pki/nssdb", [nss_cmd("sql:/etc/pki/nssdb", sudo=True)], None)]),
    # certutil missing: the commands are printed, with how to get it on this distribution
    (probe(tools=["apt"], paths=["/home/ann/.pki/nssdb/cert9.db"]),
     [("sql:/home/ann/.pki/nssdb", [nss_cmd("sql:/home/ann/.pki/nssdb", certutil="certutil")],
       "certutil is not installed (apt install libnss3-tools)")]),
    (probe(tools=["dnf"], paths=["/home/ann/.pki/nssdb/cert9.db"]),
     [("sql:/home/ann/.pki/nssdb", [nss_cmd("sql:/home/ann/.pki/nssdb", certutil="certutil")],
       "certutil is not installed (dnf install nss-tools)")]),
    # no database at all
    (probe(tools=["certutil"]), [("", [], "no Firefox or Chromium certificate database found")]),
    # macOS: Firefox profiles only; Homebrew's certutil found where brew puts it
    (probe("darwin", home="/Users/ann",
           paths=["/opt/homebrew/opt/nss/bin/certutil", "/Users/ann/Library/Application Support/Firefox/Profiles/x/cert9.db"],
           globs={"/Users/ann/Library/Application Support/Firefox/Profiles/*":
                  ["/Users/ann/Library/Application Support/Firefox/Profiles/x"]}),
     [("sql:/Users/ann/Library/Application Support/Firefox/Profiles/x",
       [("/opt/homebrew/opt/nss/bin/certutil -A -d 'sql:/Users/ann/Library/Application Support/Firefox/Profiles/x' "
         f"-t C,, -n '{NICK}' -i {CA}")], None)]),
    (probe("darwin", home="/Users/ann", paths=["/Users/ann/Library/Application Support/Firefox/Profiles/x/cert9.db"],
           globs={"/Users/ann/Library/Application Support/Firefox/Profiles/*":
                  ["/Users/ann/Library/Application Support/Firefox/Profiles/x"]}),
     [("sql:/Users/ann/Library/Application Support/Firefox/Profiles/x",
       [("certutil -A -d 'sql:/Users/ann/Library/Application Support/Firefox/Profiles/x' "
         f"-t C,, -n '{NICK}' -i {CA}")], "certutil is not installed (brew install nss)")]),
])
def test_nss_commands(machine, expected):
    steps = truststore.plan(CA, UNIQUE, NICK, machine, stores=[NSS])
    got = [(s.target, s.script(), s.blocked) for s in steps]
    assert [(t, c) for t, c, _ in got] == [(t, c) for t, c, _ in expected]
    for (_, _, blocked), (_, _, want) in zip(got, expected, strict=True):
        assert (blocked is None) if want is None else (blocked or "").startswith(want)
    assert all(s.store == NSS for s in steps)


def test_plan_covers_both_stores_by_default():
    steps = truststore.plan(CA, UNIQUE, NICK, probe(root=True, tools=["update-ca-certificates", "certutil"],
                                                      paths=[DEBIAN, "/home/ann/.pki/nssdb/cert9.db"]))
    assert [s.store for s in steps] == [SYSTEM, NSS]


def _result(argv, code=0, err=""):
    return subprocess.CompletedProcess(list(argv), code, "", err)


@pytest.mark.parametrize("steps, failing, statuses, ran, exit_code", [
    # everything runnable: run in order
    ([Step(SYSTEM, "/x", (("cp", "a", "/x"), ("update-ca-certificates",))),
      Step(NSS, "sql:/d", (("certutil", "-A"),))],
     set(), ["done", "done"], [("cp", "a", "/x"), ("update-ca-certificates",), ("certutil", "-A")], 0),
    # a failing command stops its step; the next step still runs; exit 1
    ([Step(SYSTEM, "/x", (("cp", "a", "/x"), ("update-ca-certificates",))),
      Step(NSS, "sql:/d", (("certutil", "-A"),))],
     {("cp", "a", "/x")}, ["failed", "done"], [("cp", "a", "/x"), ("certutil", "-A")], 1),
    # blocked steps run nothing and do not fail the command
    ([Step(SYSTEM, "/x", (("sudo", "--", "cp"),), "needs root"), Step(NSS, "sql:/d", (("certutil", "-A"),))],
     set(), ["blocked", "done"], [("certutil", "-A")], 0),
])
def test_install_runs_runnable_steps_through_the_runner(steps, failing, statuses, ran, exit_code):
    calls = []

    def run(argv):
        calls.append(tuple(argv))
        return _result(argv, 1 if tuple(argv) in failing else 0, "SEC_ERROR_READ_ONLY" if argv in failing else "")

    outcomes = truststore.install(steps, run)
    assert [o.status for o in outcomes] == statuses
    assert calls == ran
    assert truststore.report(outcomes)[1] == exit_code


def test_dry_run_runs_nothing_and_prints_the_commands():
    steps = [Step(SYSTEM, "/x", (("cp", "my ca.crt", "/x"), ("update-ca-certificates",)), notes=("Debian/Ubuntu",)),
             Step(NSS, "", (), "no Firefox or Chromium certificate database found")]

    def run(argv):
        raise AssertionError(f"ran {argv}")

    text, code = truststore.report(truststore.install(steps, run, dry_run=True))
    assert code == 0
    assert text.splitlines() == [
        "would trust in the system store (Debian/Ubuntu) /x by running:",
        "  cp 'my ca.crt' /x",
        "  update-ca-certificates",
        "not done for the NSS databases: no Firefox or Chromium certificate database found",
    ]


def test_report_lists_what_is_left_with_the_exact_commands():
    steps = [Step(SYSTEM, "/x", (("sudo", "--", "cp", "ca.crt", "/x"),), "needs root and sudo is not installed"),
             Step(NSS, "sql:/d", (("certutil", "-A", "-d", "sql:/d"),))]
    outcomes = truststore.install(steps, lambda argv: _result(argv, 255, "certutil: function failed: SEC_ERROR_BAD_DATABASE"))
    text, code = truststore.report(outcomes)
    assert code == 1
    assert text.splitlines() == [
        "not done for the system store /x: needs root and sudo is not installed; run:",
        "  sudo -- cp ca.crt /x",
        ("FAILED for the NSS database sql:/d: certutil -A -d sql:/d exited 255: "
         "certutil: function failed: SEC_ERROR_BAD_DATABASE"),
        "  certutil -A -d sql:/d",
        "2 stores left for you: run the commands above",
    ]


def test_a_missing_program_is_a_failure_not_a_crash():
    def run(argv):
        raise FileNotFoundError(2, "No such file or directory")

    [outcome] = truststore.install([Step(NSS, "sql:/d", (("certutil", "-A"),))], run)
    assert outcome.status == "failed" and outcome.detail == "certutil -A: No such file or directory"
