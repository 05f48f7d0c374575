"""uvloop is a default dependency where it installs, and `ingressd run` runs on it (issue 14)."""

import sys
import tomllib
from pathlib import Path

import pytest

import ingressd.app

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_uvloop_is_a_dependency_off_windows():
    assert "uvloop>=0.19; sys_platform != 'win32'" in PROJECT["dependencies"]


def test_the_speed_extra_is_kept_empty():
    # `pip install ingressd[speed]` keeps working; it adds nothing any more.
    assert PROJECT["optional-dependencies"]["speed"] == []


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop does not install on Windows")
def test_run_uses_uvloop_by_default(monkeypatch):
    uvloop = pytest.importorskip("uvloop", reason="uvloop should be installed with ingressd off Windows")
    ran = []

    def fake_run(coro):
        ran.append("uvloop")
        coro.close()
        return 0

    monkeypatch.setattr(uvloop, "run", fake_run)
    assert ingressd.app.run(object()) == 0
    assert ran == ["uvloop"]


def test_readme_says_uvloop_is_installed_by_default():
    readme = (ROOT / "README.md").read_text()
    assert "`pip install -e '.[speed]'` adds uvloop" not in readme
    assert "uvloop is installed with ingressd" in readme
