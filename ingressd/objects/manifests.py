"""Manifests as `run`, `validate` and hot reload take them: every file under the paths read, then
validated together (cross-object checks need all of them).

Above both the loader (objects/load.py) and the validator (objects/validate.py), so neither has to
import the other back.
"""

from __future__ import annotations

import os

from ingressd.objects.load import LoadResult, Manifest, file_problem, find_manifest_files, load_file
from ingressd.objects.problems import WARNING, Problem
from ingressd.objects.namespaces import undefined_namespaces
from ingressd.objects.validate import validate


def load_paths(paths: list[str], ingress_class: str = "nginx") -> LoadResult:
    """Read every manifest under `paths`, then validate them together (cross-object checks need all)."""
    manifests: list[Manifest] = []
    problems: list[Problem] = []
    for path in paths:
        if os.path.isdir(path) and not find_manifest_files([path]):
            problems.append(file_problem(path, "directory has no *.yaml or *.yml files", WARNING))
    files = find_manifest_files(paths)
    for file in files:
        found, file_problems = load_file(file)
        manifests.extend(found)
        problems.extend(file_problems)
    problems.extend(validate(manifests, ingress_class))
    problems.extend(undefined_namespaces(manifests))  # files only: the API refuses such objects
    order = {file: i for i, file in enumerate(files)}
    problems.sort(key=lambda p: (order.get(p.file, -1), p.line))
    return LoadResult(manifests, problems)
