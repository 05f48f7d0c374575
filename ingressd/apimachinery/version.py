"""`/version`: the Kubernetes version whose API ingressd emulates.

ingressd answers like kube-apiserver v1.32.0: kubectl and client libraries pick their behaviour
from it (the kubectl on PATH of many machines is a dispatcher that selects a client build matching
the server's minor version, and kubectl warns when client and server are more than one minor
apart). The build fields are those of the upstream v1.32.0 release; `platform` is where ingressd
runs, in Go's GOOS/GOARCH spelling, as a real server reports its own.
"""

from __future__ import annotations

import platform as _platform

# ingressd emulates the API of Kubernetes v1.32 (discovery, defaults, Status messages follow it).
KUBERNETES_MAJOR = "1"
KUBERNETES_MINOR = "32"
KUBERNETES_GIT_VERSION = "v1.32.0"
KUBERNETES_GIT_COMMIT = "70d3cc986aa8221cd1dfb1121852688902d3bf53"  # the v1.32.0 tag
KUBERNETES_BUILD_DATE = "2024-12-11T17:59:15Z"
KUBERNETES_GO_VERSION = "go1.23.3"

_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
           "ppc64le": "ppc64le", "s390x": "s390x", "i386": "386", "i686": "386", "riscv64": "riscv64"}


def go_platform(system: str | None = None, machine: str | None = None) -> str:
    """"linux/amd64" for Linux on x86_64: Go's GOOS/GOARCH of this machine."""
    system = (system if system is not None else _platform.system()).lower() or "linux"
    machine = (machine if machine is not None else _platform.machine()).lower()
    return f"{system}/{_GOARCH.get(machine, machine or 'unknown')}"


def version_info(platform: str | None = None) -> dict:
    """GET /version: kube-apiserver's version.Info, field for field and in its order."""
    return {
        "major": KUBERNETES_MAJOR,
        "minor": KUBERNETES_MINOR,
        "gitVersion": KUBERNETES_GIT_VERSION,
        "gitCommit": KUBERNETES_GIT_COMMIT,
        "gitTreeState": "clean",
        "buildDate": KUBERNETES_BUILD_DATE,
        "goVersion": KUBERNETES_GO_VERSION,
        "compiler": "gc",
        "platform": platform if platform is not None else go_platform(),
    }
