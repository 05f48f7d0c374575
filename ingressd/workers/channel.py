"""Frames between the control process and a worker: 4-byte length, 1-byte kind, body.

Two socket pairs per worker: commands (control -> worker; listener sockets travel with their frame
as SCM_RIGHTS) and reports (worker -> control; an ordinary asyncio stream).

Commands: I init (pickled dict, the full snapshot), P snapshot parts that changed (pickled dict,
pickled once for every worker), L listen (pickled dict; its sockets attached), U unlisten (key),
H https port, O access-log file (pickled (has_fd, encoding, errors); the file's descriptor attached
when it is a regular file the worker writes to itself, else none: lines go back as G reports),
S stop. Reports: R ready, A listening (key), G access-log lines (UTF-8, whole lines), M metrics
(pickled: drained delta or None, traffic counts), B heartbeat (nothing else to report: the
control process's --worker-timeout takes silence for a stuck worker).

Large snapshots are pickled and unpickled on threads with the pure-Python pickler (`dumps_yielding`,
`loads_yielding`): the C one holds the GIL from start to end (45 ms to pickle and 80 ms to load
10 000 rules, the loop serving nothing), the Python one lets the loop run every switch interval.
"""

from __future__ import annotations

import asyncio
import io
import pickle
import socket
import struct
from collections import deque

HEADER = struct.Struct(">IB")
MAX_FDS = 64


def dumps_yielding(obj) -> bytes:
    """pickle.dumps(obj, HIGHEST_PROTOCOL), byte for byte, by the pure-Python pickler: a thread's work."""
    out = io.BytesIO()
    pickle._Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return out.getvalue()


def loads_yielding(data: bytes):
    """pickle.loads(data) by the pure-Python unpickler: a thread's work."""
    return pickle._Unpickler(io.BytesIO(data)).load()


def frame(kind: bytes, body: bytes) -> bytes:
    return HEADER.pack(len(body), kind[0]) + body


async def read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """The next (kind, body) from a report stream; None at its end."""
    try:
        head = await reader.readexactly(HEADER.size)
        length, kind = HEADER.unpack(head)
        body = await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return bytes((kind,)), body


async def send_frame(sock: socket.socket, data: bytes, fds: list[int] | None = None) -> None:
    """Write one frame to a non-blocking command socket; `fds` travel with its first bytes."""
    loop = asyncio.get_running_loop()
    if fds:
        while True:
            try:
                sent = socket.send_fds(sock, [data], fds)
                break
            except (BlockingIOError, InterruptedError):
                await asyncio.sleep(0.005)  # the worker is behind; its socket buffer drains
        data = data[sent:]
        if not data:
            return
    await loop.sock_sendall(sock, data)


class CommandReader:
    """Collects command frames and the sockets that came with them from a non-blocking socket
    (for loop.add_reader)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.fds: deque[int] = deque()
        self.closed = False

    def read(self) -> list[tuple[bytes, bytes]]:
        """The complete frames readable now; sets `closed` at the end of the stream."""
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.sock, 1 << 20, MAX_FDS)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.closed = True
                break
            self.fds.extend(fds)
            if not data:
                self.closed = True
                break
            self.buffer += data
        frames = []
        while len(self.buffer) >= HEADER.size:
            length, kind = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < HEADER.size + length:
                break
            frames.append((bytes((kind,)), bytes(self.buffer[HEADER.size:HEADER.size + length])))
            del self.buffer[:HEADER.size + length]
        return frames

    def take_fds(self, count: int) -> list[int]:
        return [self.fds.popleft() for _ in range(count)]
