"""The README's promises that code can check: every implemented annotation is documented."""

from pathlib import Path

import pytest

from ingressd.routing.annotations import annotation_docs

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("key", [key for key, supported, _, _ in annotation_docs() if supported])
def test_supported_annotation_is_in_the_readme_table(key):
    assert f"| `{key.split('/', 1)[1]}` |" in README


def test_ci_runs_the_readme_test_command():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    command = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -q"
    assert command in README
    assert command in ci
