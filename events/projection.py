"""Catch-up projections that read the event store directly, effectively once.

Each cycle locks the projection's checkpoint row, reads the next events after it, lets the
projection write what they mean, and moves the checkpoint, all in one transaction. Positions are
gap-free and commit in order (see events/store), so `position > checkpoint` never skips an event;
the row lock lets several processes run the same projection without applying anything twice.
Read models are rebuildable: drop their rows and the checkpoint, and they replay from position 0.
"""

import asyncio
from typing import Protocol

import asyncpg
import structlog

from events.store.postgres import PostgresEventStore
from schemas.envelope import EventEnvelope

PROJECTION_BATCH_MAX = 1000
PROJECTION_POLL_INTERVAL_S = 0.05

log = structlog.get_logger("events.projection")

LOCK_CHECKPOINT = """
INSERT INTO projection_checkpoints (projection_name, last_position) VALUES ($1, 0)
ON CONFLICT (projection_name) DO UPDATE SET projection_name = EXCLUDED.projection_name
RETURNING last_position"""
SAVE_CHECKPOINT = """
UPDATE projection_checkpoints SET last_position = $2, updated_at = now()
WHERE projection_name = $1"""


class Projection(Protocol):
    name: str

    def wants(self, event_type: str) -> bool: ...

    async def apply(self, connection: asyncpg.Connection, events: list[EventEnvelope]) -> None: ...


class CatchUpProjector:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: PostgresEventStore,
        projection: Projection,
        *,
        batch_max: int = PROJECTION_BATCH_MAX,
    ) -> None:
        self._pool = pool
        self._store = store
        self._projection = projection
        self._batch_max = batch_max

    async def run_once(self) -> int:
        """Apply the next batch; return how many events were read (0 when caught up)."""
        async with self._pool.acquire() as connection, connection.transaction():
            # The upsert takes the row lock: a second projector of the same name waits here.
            checkpoint = await connection.fetchval(LOCK_CHECKPOINT, self._projection.name)
            page = await self._store.read_all(checkpoint, self._batch_max)
            if not page:
                return 0
            wanted = [envelope for envelope in page if self._projection.wants(envelope.event_type)]
            if wanted:
                await self._projection.apply(connection, wanted)
            await connection.execute(SAVE_CHECKPOINT, self._projection.name, page[-1].position)
            return len(page)

    async def catch_up(self) -> int:
        """Run until nothing is left; return how many events were read."""
        total = 0
        while read := await self.run_once():
            total += read
        return total

    async def run(
        self, stop: asyncio.Event, poll_interval_s: float = PROJECTION_POLL_INTERVAL_S
    ) -> None:
        while not stop.is_set():
            read = await self.run_once()
            if read < self._batch_max:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=poll_interval_s)
                except TimeoutError:
                    continue
