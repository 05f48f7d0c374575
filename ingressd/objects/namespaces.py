"""Namespace manifests: the checks kube-apiserver applies (ValidateNamespace), and the warning for
objects in a namespace the files never define (a cluster refuses them; ingressd creates it).
"""

from __future__ import annotations

import re

from ingressd.cluster.namespaces import SYSTEM_NAMESPACES
from ingressd.kinds import SERVED_KINDS
from ingressd.objects import names
from ingressd.objects.load import Manifest
from ingressd.objects.problems import Problem
from ingressd.objects.report import Report

# A finalizer is "kubernetes" (the standard one) or a fully qualified name: domain/name.
_QUALIFIED = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)/"
                        r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
STANDARD_FINALIZERS = ("kubernetes",)


def check_namespace(r: Report, obj: dict) -> None:
    spec = r.mapping(obj, (), "spec")
    if spec is None:
        return
    r.unknown_fields(spec, ("spec",), frozenset({"finalizers"}))
    for i, finalizer in enumerate(r.list(spec, ("spec",), "finalizers") or []):
        if not r.is_string(("spec", "finalizers", i), finalizer):
            continue
        if finalizer not in STANDARD_FINALIZERS and ("." not in finalizer.partition("/")[0]
                                                     or not _QUALIFIED.match(finalizer)):
            r.invalid(("spec", "finalizers", i), finalizer,
                      "name is neither a standard finalizer name nor is it fully qualified")


def undefined_namespace_message(namespace: str) -> str:
    return (f'namespace "{namespace}" is not defined in these files: a cluster refuses the object '
            f'(namespaces "{namespace}" not found) until a Namespace {namespace} exists; ingressd creates it')


def undefined_namespaces(manifests: list[Manifest]) -> list[Problem]:
    """A warning on the first object of each namespace that the files neither define nor is a
    system namespace. Files only: an API write into a missing namespace is refused instead (404)."""
    out: list[Problem] = []
    defined = {m.name for m in manifests if m.kind == "Namespace" and m.name}
    warned: set[str] = set()
    for manifest in manifests:
        namespace = manifest.namespace
        if manifest.kind not in SERVED_KINDS or manifest.kind == "Namespace" or not namespace:
            continue
        if namespace in warned or namespace in defined or namespace in SYSTEM_NAMESPACES \
                or names.dns1123_label(namespace):
            continue  # (an invalid name is an error of metadata.namespace already)
        warned.add(namespace)
        Report(manifest, out).warn(("metadata", "namespace"), undefined_namespace_message(namespace))
    return out
