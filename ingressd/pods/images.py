"""Which container images ingressd can run (pure: validation and the kubelet both ask).

Only the built-in `ingressd/echo` image runs without a `command`; any other image needs one (it then
runs as a local process) — images are never pulled.
"""

from __future__ import annotations

ECHO_REPOSITORY = "ingressd/echo"


def split_image(image: str) -> tuple[str, str | None]:
    """'ingressd/echo:1.0' -> ('ingressd/echo', '1.0'); a digest is dropped; no tag -> None."""
    name = image.split("@", 1)[0]
    repository, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        return name, None
    return repository, tag


def is_echo_image(image: str) -> bool:
    repository, _ = split_image(image or "")
    return repository.removeprefix("docker.io/") == ECHO_REPOSITORY


def runnable(container: dict) -> bool:
    """True when ingressd can run the container: the echo image, or anything with a command."""
    return bool(container.get("command")) or is_echo_image(str(container.get("image") or ""))
