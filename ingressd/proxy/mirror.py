"""HTTPRoute RequestMirror: fire-and-forget copies of a request to a mirror backend.

A copy is sent on its own connection (Connection: close) and its response read and discarded; it
never delays or fails the main request. Bounded: at most MIRRORS_IN_FLIGHT copies at once (more
are dropped and counted), a body only when it is buffered and at most MIRROR_BODY_LIMIT bytes,
and each copy gives up after MIRROR_TIMEOUT seconds.
"""

from __future__ import annotations

import asyncio
import random

MIRRORS_IN_FLIGHT = 64
MIRROR_BODY_LIMIT = 1024 * 1024
MIRROR_TIMEOUT = 10.0


class Mirrors:
    """The copies in flight for one proxy server."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task] = set()
        self.sent = 0
        self.dropped = 0

    def send(self, endpoints, head: bytes, body: bytes | None) -> None:
        if len(self.tasks) >= MIRRORS_IN_FLIGHT or not endpoints:
            self.dropped += 1
            return
        ep = endpoints[random.randrange(len(endpoints))] if len(endpoints) > 1 else endpoints[0]
        task = asyncio.get_running_loop().create_task(self._copy(ep.ip, ep.port, head, body))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        self.sent += 1

    @staticmethod
    async def _copy(ip: str, port: int, head: bytes, body: bytes | None) -> None:
        writer = None
        try:
            async with asyncio.timeout(MIRROR_TIMEOUT):
                reader, writer = await asyncio.open_connection(ip, port)
                writer.write(head + (body or b""))
                await writer.drain()
                while await reader.read(65536):
                    pass
        except (OSError, TimeoutError):
            pass  # a copy's fate is never the main request's
        finally:
            if writer is not None:
                writer.close()

    def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()


def mirror_head(head: bytes) -> bytes:
    """The upstream head for a copy: the same request, on a connection closed after it."""
    return head[:-2] + b"Connection: close\r\n\r\n"
