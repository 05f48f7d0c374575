"""A container's log file, written by ingressd and rotated by size as the kubelet's log manager does.

A process container's stdout/stderr reach ingressd through a pipe (ingressd.pods.process) and the
echo app writes its lines in-process; both go through a `ContainerLog`, which rotates the file
before a write would take it past the policy's max size (`ingressd.apimachinery.log_rotation`):
the current file is renamed to `<c>.log.<timestamp>` and a new `<c>.log` opened, as a runtime
reopens a container's log, so no line is lost and none is split across files. Removing what
exceeds max files and compressing older rotated files (gzip) runs off the event loop, on one
background thread (`maintain`), so the file count reaches its bound as soon as that thread
catches up.

`LogFollower` reads a log as it grows and follows it across a rotation: it drains the renamed
file to its end before it turns to the new one (`kubectl logs -f`).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ingressd.apimachinery.log_rotation import (
    COMPRESS_SUFFIX,
    DEFAULT_MAX_FILES,
    TMP_SUFFIX,
    LogPolicy,
    expired_log_dirs,
    parse_max_size,
    plan_maintenance,
    previous_instance,
    rotated_files,
    rotated_name,
    split_writes,
)

log = logging.getLogger(__name__)

DEFAULT_POLICY = LogPolicy(parse_max_size("10Mi"), DEFAULT_MAX_FILES)
_executor: ThreadPoolExecutor | None = None


def maintain(path: Path, max_files: int) -> None:
    """Remove leftovers and excess rotated files of the log `path`, gzip all rotated files but the
    newest (in the calling thread)."""
    directory = path.parent
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return  # the pod's logs were removed meanwhile
    plan = plan_maintenance(path.name, names, max_files)
    for name in plan.remove:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(directory / name)
    for name in plan.compress:
        source, tmp = directory / name, directory / f"{name}{COMPRESS_SUFFIX}{TMP_SUFFIX}"
        try:
            with open(source, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, directory / f"{name}{COMPRESS_SUFFIX}")
            os.unlink(source)
        except FileNotFoundError:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        except OSError as exc:
            log.warning("cannot compress %s: %s", source, exc)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def maintain_in_background(path: Path, max_files: int) -> None:
    """`maintain` on ingressd's one log maintenance thread (in order, off the event loop)."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingressd-log-rotation")
    _executor.submit(_maintain_logged, path, max_files)


def _maintain_logged(path: Path, max_files: int) -> None:
    try:
        maintain(path, max_files)
    except Exception:  # a thread's failure must be seen, not lost
        log.exception("log maintenance of %s failed", path)


class ContainerLog:
    """The current log file of one container instance; `write` rotates as the policy says."""

    def __init__(self, path: str | os.PathLike, policy: LogPolicy = DEFAULT_POLICY,
                 now: Callable[[], float] = time.time,
                 maintain: Callable[[Path, int], None] = maintain_in_background) -> None:
        self.path = Path(path)
        self.policy = policy
        self._now = now
        self._maintain = maintain
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab", buffering=0)  # unbuffered: readers see each write at once
        self._size = self._file.seek(0, os.SEEK_END)

    @property
    def closed(self) -> bool:
        return self._file is None

    def write(self, data: bytes) -> None:
        """Append `data`, rotating first where the policy requires; OSError (disk full) is raised."""
        if self._file is None:
            raise ValueError(f"{self.path} is closed")
        for rotate, piece in split_writes(self._size, data, self.policy.max_size):
            if rotate:
                self.rotate()
            view = memoryview(piece)
            while view:
                written = self._file.write(view)
                view = view[written:]
            self._size += len(piece)

    def rotate(self) -> None:
        """Rename the current file to its rotated name, reopen a new one, schedule the maintenance."""
        directory = self.path.parent
        target = directory / rotated_name(self.path.name, self._now(), os.listdir(directory))
        self._file.close()
        self._file = None
        try:
            os.replace(self.path, target)
        finally:
            self._file = open(self.path, "ab", buffering=0)
            self._size = self._file.seek(0, os.SEEK_END)
        self._maintain(self.path, self.policy.max_files)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def open_instance_log(directory: Path, container: str, restarted: bool, policy: LogPolicy,
                      now: Callable[[], float]) -> ContainerLog:
    """The log of a container instance that starts now. On a restart the instance that ended becomes
    the previous one (its rotated files with it; the one before is removed); a first start (a pod
    name reused by a new pod included) begins with no files of that container."""
    directory.mkdir(parents=True, exist_ok=True)
    names = os.listdir(directory)
    remove, renames = previous_instance(container, names)
    if not restarted:
        remove = sorted({*remove, *(source for source, _ in renames)})
        renames = []
    for name in remove:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(directory / name)
    for source, target in renames:
        with contextlib.suppress(FileNotFoundError):
            os.replace(directory / source, directory / target)
    return ContainerLog(directory / f"{container}.log", policy, now)


def log_dir_changed(directory: Path) -> float:
    """When the pod's log directory last changed: the newest mtime of it and its files."""
    newest = directory.stat().st_mtime
    with os.scandir(directory) as entries:
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def remove_expired_logs(logs_dir: Path, live: set[tuple[str, str]], now: float, retention: float) -> list[str]:
    """Remove `<logs_dir>/<ns>/<pod>/` of pods not in `live` unchanged for `retention` seconds (and
    namespace directories left empty); the removed ones as "ns/pod"."""
    found = []
    try:
        namespaces = [e for e in os.scandir(logs_dir) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    for namespace in namespaces:
        with contextlib.suppress(FileNotFoundError), os.scandir(namespace.path) as pods:
            for pod in pods:
                if pod.is_dir(follow_symlinks=False):
                    with contextlib.suppress(FileNotFoundError):
                        found.append((namespace.name, pod.name, log_dir_changed(Path(pod.path))))
    removed = []
    for namespace, pod in expired_log_dirs(found, live, now, retention):
        shutil.rmtree(logs_dir / namespace / pod, ignore_errors=True)
        removed.append(f"{namespace}/{pod}")
    for namespace in namespaces:
        with contextlib.suppress(OSError):
            os.rmdir(namespace.path)  # only when empty
    return removed


class LogFollower:
    """Reads a log file from its start and then what is appended, across rotations: when the path
    names a new file, the old one (still open) is read to its end first, then any file rotated
    after it (several rotations between two reads), then the new one from its start. Only what
    the maintenance removed before it was read is missed. FileNotFoundError if there is no log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "rb")
        self._rotated = self._rotated_names()

    def _rotated_names(self) -> list[str]:
        """The rotated files of the log, oldest first, without their .gz suffix."""
        try:
            names = os.listdir(self.path.parent)
        except FileNotFoundError:
            return []
        return [n.removesuffix(COMPRESS_SUFFIX) for n in rotated_files(self.path.name, names)]

    def _read_rotated(self, name: str) -> bytes:
        directory = self.path.parent
        for candidate, decompress in ((name, False), (name + COMPRESS_SUFFIX, True)):
            try:
                with (gzip.open if decompress else open)(directory / candidate, "rb") as f:
                    return f.read()
            except (FileNotFoundError, OSError, EOFError):
                continue
        return b""

    def _is_file(self, name: str, opened) -> bool:
        """Whether the rotated file `name` is the file open as `opened` (renamed; or compressed since,
        then its content is the same)."""
        info = os.fstat(opened.fileno())
        try:
            found = os.stat(self.path.parent / name)
            return (found.st_ino, found.st_dev) == (info.st_ino, info.st_dev)
        except FileNotFoundError:
            pass
        data = self._read_rotated(name)
        return len(data) == info.st_size and data == os.pread(opened.fileno(), info.st_size, 0)

    def read_new(self) -> bytes:
        """Everything written since the last call (b"" if nothing)."""
        chunks = [self._file.read()]
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return b"".join(chunks)  # rotated, its successor not there yet
        opened = os.fstat(self._file.fileno())
        if (current.st_ino, current.st_dev) != (opened.st_ino, opened.st_dev):
            chunks.append(self._file.read())  # whatever reached the old file meanwhile
            old, self._file = self._file, open(self.path, "rb")
            with old:
                rotated = self._rotated_names()
                before = set(self._rotated)
                new = [n for n in rotated if n not in before]
                if new and self._is_file(new[0], old):  # unless the maintenance removed it already
                    new = new[1:]
            chunks += [self._read_rotated(n) for n in new]  # rotated after the one that was open
            self._rotated = rotated
            chunks.append(self._file.read())
        elif current.st_size < self._file.tell():  # truncated in place
            self._file.seek(0)
            chunks.append(self._file.read())
        return b"".join(chunks)

    def close(self) -> None:
        self._file.close()
