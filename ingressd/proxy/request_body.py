"""A buffered request body, as nginx's `proxy_request_buffering on` keeps it.

nginx reads the whole body before it picks an upstream, so a slow client never holds an upstream
connection: up to `client_body_buffer_size` in memory, beyond that in a temporary file
(`client_body_temp`). Kept whole, the body can be sent again on a retry. No asyncio here: the
exchange pulls chunks as the upstream socket accepts them.

The file is unlinked from the start (O_TMPFILE, or unlinked right after creation), so nothing is
left behind even if ingressd is killed. Creating a file costs ~25 µs on ext4, a quarter of a
proxied request, so files are kept for reuse (a few per directory): a spill is then a pwrite and a
pread at known offsets, the file's old bytes beyond the body's size never read.
"""

from __future__ import annotations

import os
import tempfile

SEND_CHUNK = 64 * 1024
KEPT_FILES = 64  # spare temp files per directory
KEPT_BYTES = 1024 * 1024  # a file that held more is truncated before it is kept
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)
_spare: dict[str, list[int]] = {}  # directory -> unlinked temp files ready for reuse


def _temp_fd(directory: str) -> int:
    """A read-write descriptor of an already-unlinked file in `directory` (a spare one if any)."""
    spare = _spare.get(directory)
    if spare:
        return spare.pop()
    if spare is None:
        os.makedirs(directory, exist_ok=True)
        _spare[directory] = []
    if _O_TMPFILE:
        try:
            return os.open(directory, _O_TMPFILE | os.O_RDWR, 0o600)
        except (IsADirectoryError, OSError):
            pass  # a file system without O_TMPFILE support: create and unlink
    fd, path = tempfile.mkstemp(dir=directory, prefix="body-")
    os.unlink(path)
    return fd


def _keep_fd(directory: str, fd: int, size: int) -> None:
    spare = _spare.setdefault(directory, [])
    if len(spare) >= KEPT_FILES:
        os.close(fd)
        return
    if size > KEPT_BYTES:
        os.ftruncate(fd, 0)  # give a large body's disk space back
    spare.append(fd)


class RequestBody:
    __slots__ = ("limit", "directory", "size", "_memory", "_fd")

    def __init__(self, memory_limit: int, directory: str | None = None) -> None:
        self.limit = memory_limit
        self.directory = directory or tempfile.gettempdir()
        self.size = 0
        self._memory: list[bytes] = []
        self._fd = -1

    @property
    def spilled(self) -> bool:
        """True once the body outgrew memory and lives in a temporary file."""
        return self._fd >= 0

    def append(self, chunk: bytes) -> None:
        offset = self.size
        self.size += len(chunk)
        if self._fd >= 0:
            self._write(chunk, offset)
        elif self.size <= self.limit:
            self._memory.append(chunk)
        else:
            self._fd = _temp_fd(self.directory)
            self._write(b"".join(self._memory) + chunk if self._memory else chunk, 0)
            self._memory = []

    def _write(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, offset)
            offset += written
            view = view[written:]

    def chunks(self):
        """The body from its start, in pieces of at most SEND_CHUNK; may be called again (retries)."""
        if self._fd < 0:
            yield from self._memory
            return
        offset = 0
        while offset < self.size:
            piece = os.pread(self._fd, min(SEND_CHUNK, self.size - offset), offset)
            if not piece:
                return
            offset += len(piece)
            yield piece

    def close(self) -> None:
        self._memory = []
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            _keep_fd(self.directory, fd, self.size)
