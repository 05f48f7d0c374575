"""Namespace manifests: the checks kube-apiserver applies (ValidateNamespace), and the warning for
objects in a namespace the files never define (a cluster refuses them; ingressd creates it).
"""

from __future__ import annotations

import re

from ingressd.cluster.namespaces import SYSTEM_NAMESPACES
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


def is_defined(namespace: str, defined: set[str]) -> bool:
    return namespace in defined or namespace in SYSTEM_NAMESPACES
