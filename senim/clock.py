"""The clock as an interface: the system clock in deployments, a settable one
in tests (so expiry is tested by moving time, never by sleeping)."""

from __future__ import annotations

import time
from typing import Protocol

from flask import current_app


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, UTC."""


class SystemClock:
    def now(self) -> float:
        return time.time()


class SettableClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def now() -> float:
    """The application's current time."""
    return current_app.extensions["senim.clock"].now()


def now_int() -> int:
    return int(now())
