"""Time and identity as ports, so that domain code never reads the clock or draws random ids.

Production uses `SystemClock` and `RandomIds`; tests and the seeded demo use `FixedClock` and
`SeededIds`.
"""

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    def next(self) -> uuid.UUID: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by


class RandomIds:
    def next(self) -> uuid.UUID:
        return uuid.uuid4()


class SeededIds:
    """Reproducible ids for a seeded simulation."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def next(self) -> uuid.UUID:
        return uuid.UUID(int=self._random.getrandbits(128), version=4)
