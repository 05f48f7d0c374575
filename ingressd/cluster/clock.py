"""Time for the control model, injected so tests run on a fake clock instead of sleeping.

Kubernetes timestamps (creationTimestamp, lastTransitionTime, deletionTimestamp) are RFC 3339 with
second precision ("2026-11-25T20:00:00Z"); the helpers here convert between them and epoch seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class RealClock:
    """Wall-clock time. Callable too, so it can stand in for `time.time`."""

    def now(self) -> float:
        return time.time()

    __call__ = now


# 2026-11-25T20:00:00Z: a fixed, recognisable start for fake time.
FAKE_EPOCH = 1795636800.0


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, start: float = FAKE_EPOCH) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    __call__ = now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock does not run backwards")
        self._now += seconds
        return self._now


def time_source(clock: Clock | Callable[[], float]) -> Callable[[], float]:
    """Accept either a Clock or a bare callable such as `time.time`."""
    if isinstance(clock, Clock):
        return clock.now
    if callable(clock):
        return clock
    raise TypeError(f"not a clock: {clock!r}")


def format_timestamp(seconds: float) -> str:
    """Epoch seconds -> Kubernetes RFC 3339 timestamp (whole seconds, UTC, "Z")."""
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> float:
    """RFC 3339 timestamp (with "Z" or an offset, optional fraction) -> epoch seconds."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()
