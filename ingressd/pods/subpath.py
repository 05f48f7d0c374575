"""Where a volumeMount's `subPath` lives on the host: inside its volume, never outside.

The API rejects absolute subPaths and `..` elements (objects/core.py, as validateLocalDescendingPath
does); the kubelet checks again where it uses the path, as the real kubelet does, and also refuses a
subPath that leaves the volume through a symlink written into it (a process container can make one).
Pure apart from resolving symlinks.
"""

from __future__ import annotations

import os

__all__ = ["SubPathError", "sub_path_directory", "sub_path_problems"]


class SubPathError(ValueError):
    """A subPath that would leave its volume; the container waits with CreateContainerConfigError."""


def sub_path_problems(sub_path: str) -> list[str]:
    """kube-apiserver's validateLocalDescendingPath messages for a subPath (empty: it is fine)."""
    problems = []
    if sub_path.startswith("/"):
        problems.append("must be a relative path")
    if ".." in sub_path.split("/"):
        problems.append("must not contain '..'")
    return problems


def sub_path_directory(volume_dir: str, sub_path: str) -> str:
    """`volume_dir`/`sub_path`, or SubPathError when that is not inside `volume_dir`."""
    problems = sub_path_problems(sub_path)
    target = os.path.join(volume_dir, sub_path)
    if not problems:
        root = os.path.realpath(volume_dir)
        if os.path.commonpath([root, os.path.realpath(target)]) != root:
            problems.append("resolves outside the volume (through a symbolic link)")
    if problems:
        raise SubPathError(f"unable to provision SubPath `{sub_path}`: {'; '.join(problems)}")
    return target
