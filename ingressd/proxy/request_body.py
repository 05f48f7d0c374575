"""A buffered request body, as nginx's `proxy_request_buffering on` keeps it.

nginx reads the whole body before it picks an upstream, so a slow client never holds an upstream
connection: up to `client_body_buffer_size` in memory, beyond that in a temporary file
(`client_body_temp`). Kept whole, the body can be sent again on a retry. No asyncio here: the
exchange pulls chunks as the upstream socket accepts them.
"""

from __future__ import annotations

import os
import tempfile

SEND_CHUNK = 64 * 1024


class RequestBody:
    __slots__ = ("limit", "directory", "size", "_memory", "_file")

    def __init__(self, memory_limit: int, directory: str | None = None) -> None:
        self.limit = memory_limit
        self.directory = directory
        self.size = 0
        self._memory: list[bytes] = []
        self._file = None

    @property
    def spilled(self) -> bool:
        """True once the body outgrew memory and lives in a temporary file."""
        return self._file is not None

    def append(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._file is not None:
            self._file.write(chunk)
        elif self.size <= self.limit:
            self._memory.append(chunk)
        else:
            if self.directory is not None:
                os.makedirs(self.directory, exist_ok=True)
            # Unlinked at once (nginx's client_body_temp files are too): nothing is left behind
            # even if ingressd is killed.
            self._file = tempfile.TemporaryFile(dir=self.directory, prefix="body-")
            for part in self._memory:
                self._file.write(part)
            self._memory = []
            self._file.write(chunk)

    def chunks(self):
        """The body from its start, in pieces of at most SEND_CHUNK; may be called again (retries)."""
        if self._file is None:
            yield from self._memory
            return
        f = self._file
        f.flush()
        offset = 0
        while offset < self.size:
            f.seek(offset)
            piece = f.read(SEND_CHUNK)
            if not piece:
                return
            offset += len(piece)
            yield piece

    def close(self) -> None:
        self._memory = []
        if self._file is not None:
            self._file.close()
            self._file = None
