"""Namespace manifests: validated as kube-apiserver does, and a warning for a namespace the files
use but never define (a cluster refuses such objects; ingressd creates the namespace)."""

from __future__ import annotations

from ingressd.objects.manifests import load_paths

NS_SHOP = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"


def _problems(tmp_path, text):
    (tmp_path / "m.yaml").write_text(text)
    return [str(p).replace(str(tmp_path) + "/", "") for p in load_paths([str(tmp_path / "m.yaml")]).problems]


def test_a_namespace_manifest_is_served(tmp_path):
    assert _problems(tmp_path, NS_SHOP + "spec:\n  finalizers: [kubernetes, example.com/keep]\n") == []


def test_namespace_checks(tmp_path):
    text = ("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: Shop.A\nspec:\n  finalizers: [bogus, 3]\n"
            "  finalizer: []\n")
    problems = _problems(tmp_path, text)
    assert problems[0].startswith('m.yaml:4: Namespace Shop.A: metadata.name: Invalid value: "Shop.A": '
                                  "a lowercase RFC 1123 label")
    assert 'spec.finalizers[0]: Invalid value: "bogus": name is neither a standard finalizer name nor is it ' \
           "fully qualified" in "\n".join(problems)
    assert any("spec.finalizers[1]" in p for p in problems)
    assert any('spec.finalizer: unknown field "spec.finalizer", did you mean "spec.finalizers"?' in p
               for p in problems)


def test_undefined_namespace_is_warned_once_per_namespace(tmp_path):
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
    text = "---\n".join([cm.format(name="a", ns="team"), cm.format(name="b", ns="team"),
                         cm.format(name="c", ns="shop"), cm.format(name="d", ns="kube-system"), NS_SHOP])
    assert _problems(tmp_path, text) == [
        'm.yaml:5: ConfigMap team/a: metadata.namespace: warning: namespace "team" is not defined in these files: '
        'a cluster refuses the object (namespaces "team" not found) until a Namespace team exists; '
        "ingressd creates it"]
