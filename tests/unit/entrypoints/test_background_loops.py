"""The API process's background loops outlive a failure of the database: the expiry sweeper
logs it and sweeps again at its next turn (it used to end for good on any error but a store or
domain one, so no payment expired until a restart)."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from entrypoints import http
from events.clock_and_ids import FixedClock, RandomIds


class FlakyQueries:
    """Overdue payments as a database that drops its connection once would give them."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.calls = 0
        self._stop = stop

    async def overdue_payment_ids(self, now: datetime) -> list[Any]:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionResetError("connection lost")
        self._stop.set()
        return []


class Settings:
    expiry_sweep_interval_s = 0.001


async def test_the_expiry_sweeper_survives_a_lost_connection() -> None:
    stop = asyncio.Event()
    queries = FlakyQueries(stop)
    clock = FixedClock(datetime(2026, 11, 24, tzinfo=UTC))
    await asyncio.wait_for(
        http._sweep_expired(None, queries, clock, RandomIds, stop, Settings()),  # type: ignore[arg-type]
        timeout=5,
    )
    assert queries.calls == 2
