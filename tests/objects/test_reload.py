"""When hot reload applies (pure): observations of the manifest files over time, on a fake clock."""

from __future__ import annotations

import os

import pytest

from ingressd.objects.reload import (
    APPLY,
    IDLE,
    ReloadGate,
    Verdict,
    fingerprint,
    is_editor_temp,
    manifest_change_filter,
    settle_windows,
)

FULL = fingerprint(b"kind: Ingress\n---\nkind: Service\n")
HALF = fingerprint(b"kind: Ingress\n")
EDITED = fingerprint(b"kind: Ingress\n---\nkind: Service\n---\nkind: ConfigMap\n")
EMPTY = fingerprint(b"")
SETTLE, EMPTIED = 0.5, 1.0


def gate(loaded=None) -> ReloadGate:
    return ReloadGate({"a.yaml": FULL} if loaded is None else loaded, SETTLE, EMPTIED)


def play(g: ReloadGate, observations: list[tuple[float, dict]]) -> list[Verdict]:
    """Feed (time, files) observations; loading whenever the gate says apply, as the shell does."""
    verdicts = []
    for now, files in observations:
        verdict = g.observe(files, now)
        if verdict.apply:
            g.loaded(files)
        verdicts.append(verdict)
    return verdicts


@pytest.mark.parametrize("case, observations, want", [
    ("nothing changed",
     [(0.5, {"a.yaml": FULL}), (1.0, {"a.yaml": FULL})],
     [IDLE, IDLE]),
    ("an edit applies once it stayed the same for the settle window",
     [(0.0, {"a.yaml": EDITED}), (0.3, {"a.yaml": EDITED}), (0.5, {"a.yaml": EDITED}), (0.6, {"a.yaml": EDITED})],
     [Verdict(False, 0.5), Verdict(False, 0.5), APPLY, IDLE]),
    ("truncate then write in pieces 50 ms apart: only the complete file applies",
     [(0.00, {"a.yaml": EMPTY}), (0.05, {"a.yaml": HALF}), (0.10, {"a.yaml": EDITED}), (0.60, {"a.yaml": EDITED})],
     [Verdict(False, 1.0), Verdict(False, 0.55), Verdict(False, 0.6), APPLY]),
    ("a partial write that stalls shorter than the window never applies",
     [(0.0, {"a.yaml": HALF}), (0.4, {"a.yaml": HALF}), (0.45, {"a.yaml": EDITED}), (0.95, {"a.yaml": EDITED})],
     [Verdict(False, 0.5), Verdict(False, 0.5), Verdict(False, 0.95), APPLY]),
    ("an empty file is not applied after the ordinary window",
     [(0.0, {"a.yaml": EMPTY}), (0.5, {"a.yaml": EMPTY}), (0.9, {"a.yaml": EMPTY})],
     [Verdict(False, 1.0), Verdict(False, 1.0), Verdict(False, 1.0)]),
    ("a file deliberately emptied is honoured once it stays empty",
     [(0.0, {"a.yaml": EMPTY}), (1.0, {"a.yaml": EMPTY}), (1.5, {"a.yaml": EMPTY})],
     [Verdict(False, 1.0), APPLY, IDLE]),
    ("a deleted file counts as emptied",
     [(0.0, {}), (0.5, {}), (1.0, {})],
     [Verdict(False, 1.0), Verdict(False, 1.0), APPLY]),
    ("a rename dance (file gone, then back with new content) applies the new content",
     [(0.0, {}), (0.01, {"a.yaml": EDITED}), (0.51, {"a.yaml": EDITED})],
     [Verdict(False, 1.0), Verdict(False, 0.51), APPLY]),
    ("changed and changed back before it settled: nothing to apply",
     [(0.0, {"a.yaml": EMPTY}), (0.02, {"a.yaml": FULL}), (2.0, {"a.yaml": FULL})],
     [Verdict(False, 1.0), IDLE, IDLE]),
    ("a new file appears and settles",
     [(0.0, {"a.yaml": FULL, "b.yaml": HALF}), (0.5, {"a.yaml": FULL, "b.yaml": HALF})],
     [Verdict(False, 0.5), APPLY]),
    ("a new file that is still empty is an ordinary change",
     [(0.0, {"a.yaml": FULL, "b.yaml": EMPTY}), (0.5, {"a.yaml": FULL, "b.yaml": EMPTY})],
     [Verdict(False, 0.5), APPLY]),
    ("edits after an applied one settle again",
     [(0.0, {"a.yaml": EDITED}), (0.5, {"a.yaml": EDITED}), (0.7, {"a.yaml": FULL}), (1.2, {"a.yaml": FULL})],
     [Verdict(False, 0.5), APPLY, Verdict(False, 1.2), APPLY]),
])
def test_observations(case, observations, want):
    assert play(gate(), observations) == want, case


def test_a_rejected_load_is_not_retried_until_the_files_change():
    g = gate()
    assert g.observe({"a.yaml": HALF}, 0.0) == Verdict(False, 0.5)
    assert g.observe({"a.yaml": HALF}, 0.5) == APPLY
    g.loaded({"a.yaml": HALF})  # the shell loaded it, found it invalid and kept the old configuration
    assert g.observe({"a.yaml": HALF}, 1.0) == IDLE
    assert g.observe({"a.yaml": FULL}, 1.1) == Verdict(False, 1.6)


def test_files_that_changed_while_being_read_settle_again():
    g = gate()
    assert g.observe({"a.yaml": EDITED}, 0.0) == Verdict(False, 0.5)
    assert g.observe({"a.yaml": EDITED}, 0.5) == APPLY
    # the shell read the files, looked again and found them different: it observes that instead
    assert g.observe({"a.yaml": EMPTY}, 0.52) == Verdict(False, 1.52)


def test_emptied_names_the_files():
    g = gate({"a.yaml": FULL, "b.yaml": FULL, "c.yaml": EMPTY})
    assert g.emptied({"a.yaml": EMPTY, "c.yaml": EMPTY}) == ["a.yaml", "b.yaml"]


@pytest.mark.parametrize("interval, want", [(0.5, (0.5, 1.0)), (0.1, (0.1, 1.0)), (2.0, (2.0, 4.0))])
def test_settle_windows_follow_the_reload_interval(interval, want):
    assert settle_windows(interval) == want


def test_fingerprint_sees_contents_not_just_size():
    assert fingerprint(b"path: /one") != fingerprint(b"path: /two")
    assert fingerprint(b"x")[0] == 1 and fingerprint(b"")[0] == 0


@pytest.mark.parametrize("name, temp", [
    ("app.yaml", False), ("app.yml", False), ("config", False),
    (".app.yaml.swp", True), (".app.yaml.swx", True), ("app.yaml~", True), ("4913", True), (".#app.yaml", True),
    ("#app.yaml#", True), ("app.yaml.tmp", True), ("app.yaml___jb_tmp___", True), (".hidden.yaml", True),
])
def test_is_editor_temp(name, temp):
    assert is_editor_temp(name) is temp


def test_manifest_change_filter(tmp_path):
    conf = str(tmp_path / "config")
    single = str(tmp_path / "other" / "one.yaml")
    wakes = manifest_change_filter([conf, single])
    assert wakes(None, os.path.join(conf, "app.yaml"))
    assert wakes(None, os.path.join(conf, "sub", "app.yaml"))
    assert wakes(None, os.path.join(conf, "2024", "app.yaml"))  # a directory named like vim's probe
    assert wakes(None, os.path.join(conf, "newdir"))  # a directory moved in
    assert wakes(None, single)
    assert not wakes(None, os.path.join(conf, ".app.yaml.swp"))
    assert not wakes(None, os.path.join(conf, "app.yaml~"))
    assert not wakes(None, os.path.join(conf, "4913"))
    assert not wakes(None, os.path.join(conf, ".git", "index"))
    assert not wakes(None, str(tmp_path / "other" / "two.yaml"))  # beside a file given alone
    assert not wakes(None, str(tmp_path / "config-old" / "app.yaml"))
