"""Where the local CA lives (ingressd/caroot.py): mkcert's CAROOT rules for an `ingressd` directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingressd import caroot

HOME = {"HOME": "/home/ann"}


@pytest.mark.parametrize("env, platform, expected", [
    (HOME, "linux", "/home/ann/.local/share/ingressd"),
    ({**HOME, "XDG_DATA_HOME": "/data/ann"}, "linux", "/data/ann/ingressd"),
    ({**HOME, "XDG_DATA_HOME": ""}, "linux", "/home/ann/.local/share/ingressd"),  # empty: unset
    ({"HOME": "/Users/ann"}, "darwin", "/Users/ann/Library/Application Support/ingressd"),
    ({"HOME": "/Users/ann", "XDG_DATA_HOME": "/x"}, "darwin", "/x/ingressd"),  # mkcert: XDG wins on macOS too
    (HOME, "freebsd14", "/home/ann/.local/share/ingressd"),
    ({"LOCALAPPDATA": r"C:\Users\ann\AppData\Local"}, "win32", r"C:\Users\ann\AppData\Local\ingressd"),
    ({"LOCALAPPDATA": r"C:\L", "XDG_DATA_HOME": "/x", "HOME": "/h"}, "win32", r"C:\L\ingressd"),
])
def test_user_caroot(env, platform, expected):
    assert caroot.user_caroot(env, platform) == expected


@pytest.mark.parametrize("env, platform, missing", [
    ({}, "linux", "$HOME is not set"),
    ({}, "darwin", "$HOME is not set"),
    ({"HOME": "/h"}, "win32", "%LOCALAPPDATA% is not set"),
])
def test_user_caroot_without_its_variable_says_what_to_set(env, platform, missing):
    with pytest.raises(caroot.CARootError, match=f"{re.escape(missing)}.*INGRESSD_CAROOT"):
        caroot.user_caroot(env, platform)


@pytest.mark.parametrize("flag, env, legacy_files, expected, source", [
    # the flag first, relative to the working directory
    ("mine", {"INGRESSD_CAROOT": "/env"}, ["ca.crt", "ca.key"], "{cwd}/mine", caroot.FLAG),
    ("/abs", {}, [], "/abs", caroot.FLAG),
    # then the environment, even when ./certs holds a CA
    (None, {"INGRESSD_CAROOT": "/env", **HOME}, ["ca.crt", "ca.key"], "/env", caroot.ENV),
    (None, {"INGRESSD_CAROOT": "rel", **HOME}, [], "{cwd}/rel", caroot.ENV),
    # then an older version's ./certs, when it holds a CA (or half of one: load_ca names the missing file)
    (None, HOME, ["ca.crt", "ca.key"], "{cwd}/certs", caroot.LEGACY),
    (None, HOME, ["ca.key"], "{cwd}/certs", caroot.LEGACY),
    # ./certs without a CA (the repository's, holding a README) is not a CA
    (None, HOME, ["README.md"], "/home/ann/.local/share/ingressd", caroot.USER),
    (None, HOME, None, "/home/ann/.local/share/ingressd", caroot.USER),
    ("", {"INGRESSD_CAROOT": "", **HOME}, None, "/home/ann/.local/share/ingressd", caroot.USER),
])
def test_resolve_order(tmp_path, flag, env, legacy_files, expected, source):
    if legacy_files is not None:
        (tmp_path / "certs").mkdir()
        for name in legacy_files:
            (tmp_path / "certs" / name).write_text("x")
    chosen = caroot.resolve(flag, env, "linux", tmp_path)
    assert chosen == caroot.CertsDir(Path(expected.format(cwd=tmp_path)), source)


@pytest.mark.parametrize("source, says", [(caroot.LEGACY, True), (caroot.USER, False), (caroot.ENV, False),
                                          (caroot.FLAG, False)])
def test_legacy_notice_only_for_an_older_versions_certs(source, says):
    note = caroot.legacy_notice(caroot.CertsDir(Path("/w/certs"), source), HOME, "linux")
    if not says:
        assert note is None
        return
    assert note.startswith("using the local CA in /w/certs")
    assert "/home/ann/.local/share/ingressd" in note and "--certs-dir certs" in note
    assert "\n" not in note
