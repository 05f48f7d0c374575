"""Counts in CLI messages read as English: "1 object valid", "2 objects valid"."""

from __future__ import annotations

import pytest

from ingressd.cli import main
from ingressd.words import count


@pytest.mark.parametrize(("number", "noun", "plural", "want"), [
    (0, "object", None, "0 objects"),
    (1, "object", None, "1 object"),
    (2, "object", None, "2 objects"),
    (1, "try", "tries", "1 try"),
    (3, "try", "tries", "3 tries"),
    (1, "weighted split", None, "1 weighted split"),
    (1000, "request", None, "1000 requests"),
])
def test_count(number, noun, plural, want):
    assert count(number, noun, plural) == want


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"


@pytest.mark.parametrize(("names", "want"), [(["one"], "1 object valid\n"), (["one", "two"], "2 objects valid\n")])
def test_validate_says_how_many_objects_in_english(tmp_path, capsys, names, want):
    (tmp_path / "m.yaml").write_text("---\n".join(CONFIGMAP.format(name=n) for n in names))
    assert main(["validate", "-f", str(tmp_path / "m.yaml")]) == 0
    assert capsys.readouterr().err == want
