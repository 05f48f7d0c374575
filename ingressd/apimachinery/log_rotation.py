"""Container log rotation and retention, as the kubelet's container log manager does it (pure).

The kubelet (pkg/kubelet/logs/container_log_manager.go) rotates a running container's log once it
reaches `containerLogMaxSize` (default 10Mi): the current file is renamed to
`<log>.<YYYYMMDD-hhmmss>` (kept uncompressed: a reader may still be draining it), older rotated files
are gzip-compressed to `<log>.<timestamp>.gz` (through `<name>.gz.tmp`), the oldest are removed so
that at most `containerLogMaxFiles` (default 5, at least 2) files exist, the current one included,
and the runtime reopens the log. `kubectl logs` reads the current file only.

ingressd writes the container's output itself (ingressd.pods.container_log), so it rotates when a
write would take the file past the maximum instead of every 10 s: each file stays within the limit
and lines stay whole (a single line longer than the limit gets a file of its own). Two rotations
within one second get `<log>.<timestamp>-N` (N = 1, 2, ...), sorted after the plain name.

Retention: the `<logs-dir>/<namespace>/<pod>/` directory of a pod that no longer exists is removed
once its newest entry is older than the retention period (the kubelet touches the directory when a
pod's containers stop, so that time is when the pod went).

Everything here is pure: names and times in, decisions out; the callers do the file operations.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from ingressd.cluster.quantity import parse_quantity

DEFAULT_MAX_SIZE = "10Mi"  # KubeletConfiguration containerLogMaxSize
DEFAULT_MAX_FILES = 5  # KubeletConfiguration containerLogMaxFiles
DEFAULT_RETENTION = 3600.0  # seconds a gone pod's logs are kept (ingressd's own; the kubelet has none)
TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"  # Go's "20060102-150405", UTC
COMPRESS_SUFFIX = ".gz"
TMP_SUFFIX = ".tmp"

_ROTATED = re.compile(r"^(\d{8}-\d{6})(?:-(\d+))?(\.gz)?$")


@dataclass(frozen=True)
class LogPolicy:
    """max_size: bytes a log file may reach before rotation (negative: never rotate);
    max_files: files kept per container instance, the current one included (> 1)."""

    max_size: int
    max_files: int


def parse_max_size(text: str) -> int:
    """A containerLogMaxSize quantity ("10Mi", "500Ki", "1000000") in bytes; negative disables
    rotation (as the kubelet); ValueError for anything that is not a whole number of bytes."""
    try:
        value = parse_quantity(text)
    except ValueError:
        raise ValueError(f"not a quantity: {text!r} (e.g. 10Mi, 500Ki)") from None
    if value.denominator != 1:
        raise ValueError(f"not a whole number of bytes: {text!r}")
    if value == 0:
        raise ValueError(f"must not be 0: {text!r} (a negative size disables rotation)")
    return int(value)


def check_max_files(count: int) -> int:
    """containerLogMaxFiles must be > 1: the current file and at least one rotated one."""
    if count <= 1:
        raise ValueError(f"must be > 1 (the current file and at least one rotated file), got {count}")
    return count


def split_writes(size: int, data: bytes, max_size: int) -> list[tuple[bool, bytes]]:
    """How to write `data` to a log file holding `size` bytes: (rotate first?, piece) in order.

    A piece ends at a line end whenever the data has one within the room left, so lines are not
    split across files; a line longer than `max_size` is written whole into a fresh file."""
    if max_size < 0:
        return [(False, data)] if data else []
    pieces: list[tuple[bool, bytes]] = []
    rotate = False
    while data:
        room = max_size - size
        if len(data) <= room:
            pieces.append((rotate, data))
            break
        cut = data.rfind(b"\n", 0, max(room, 0)) + 1  # after the last whole line that fits
        if cut == 0:
            if size > 0:  # nothing more fits here: the next line starts a new file
                rotate, size = True, 0
                continue
            newline = data.find(b"\n")  # an empty file and a line longer than the maximum
            cut = len(data) if newline < 0 else newline + 1
        pieces.append((rotate, data[:cut]))
        data, rotate, size = data[cut:], True, 0
    return pieces


def rotated_name(log_name: str, now: float, taken: Iterable[str]) -> str:
    """The name the current log `log_name` is renamed to when rotated at `now` (epoch seconds): a
    name sorting after every rotated file of the same second already there (compressed or not)."""
    stamp = time.strftime(TIMESTAMP_FORMAT, time.gmtime(now))
    same_second = [key[1] for name in taken if (key := _rotated_key(log_name, name)) and key[0] == stamp]
    return f"{log_name}.{stamp}" if not same_second else f"{log_name}.{stamp}-{max(same_second) + 1}"


def _rotated_key(log_name: str, name: str) -> tuple[str, int] | None:
    """(timestamp, N) of a rotated file of `log_name` (compressed or not), None for other names."""
    if not name.startswith(log_name + "."):
        return None
    match = _ROTATED.match(name[len(log_name) + 1:])
    return (match.group(1), int(match.group(2) or 0)) if match else None


def rotated_files(log_name: str, names: Iterable[str]) -> list[str]:
    """The rotated files of `log_name` among `names` (compressed or not), oldest first."""
    found = [(key, name) for name in names if (key := _rotated_key(log_name, name)) is not None]
    return [name for _, name in sorted(found)]


@dataclass(frozen=True)
class Maintenance:
    remove: tuple[str, ...]  # leftovers of an interrupted compression, and the oldest beyond the limit
    compress: tuple[str, ...]  # rotated files to gzip (every one but the newest)


def plan_maintenance(log_name: str, names: Iterable[str], max_files: int) -> Maintenance:
    """After a rotation, with the directory holding `names`: what to remove and what to compress so
    that at most `max_files` files remain (the current log and max_files - 1 rotated ones), the
    newest rotated one uncompressed."""
    names = set(names)
    unused = sorted(
        n for n in names
        if n.startswith(log_name + ".") and (
            n.endswith(TMP_SUFFIX) and _rotated_key(log_name, n[:-len(TMP_SUFFIX)].removesuffix(COMPRESS_SUFFIX))
            or (_rotated_key(log_name, n) and not n.endswith(COMPRESS_SUFFIX) and n + COMPRESS_SUFFIX in names)
        )
    )
    in_use = [n for n in rotated_files(log_name, names) if n not in unused]
    cut = max(len(in_use) - max(max_files - 1, 0), 0)
    excess, kept = in_use[:cut], in_use[cut:]
    compress = tuple(n for n in kept[:-1] if not n.endswith(COMPRESS_SUFFIX))
    return Maintenance(remove=tuple(unused) + tuple(excess), compress=compress)


def previous_instance(container: str, names: Iterable[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """A container restarts: (files to remove, renames) so that the instance that ended becomes the
    previous one (`<c>.log` -> `<c>.previous.log`, its rotated files alike) and the one before it
    is gone, as the kubelet keeps one dead container per container name."""
    current, previous = f"{container}.log", f"{container}.previous.log"
    names = set(names)
    remove = sorted(n for n in names if n == previous or n.startswith(previous + "."))
    renames = [(n, previous + n[len(current):]) for n in sorted(names)
               if n == current or _rotated_key(current, n) is not None]
    return remove, renames


def expired_log_dirs(dirs: Iterable[tuple[str, str, float]], live: set[tuple[str, str]], now: float,
                     retention: float) -> list[tuple[str, str]]:
    """(namespace, pod) of the log directories to remove: `dirs` are (namespace, pod, last change
    in epoch seconds); a pod in `live` keeps its logs, any other once unchanged for `retention` s."""
    return sorted((namespace, pod) for namespace, pod, changed in dirs
                  if (namespace, pod) not in live and now - changed >= retention)
