"""The settlement lock (service/ports.py) as a PostgreSQL advisory lock per schema, held by
one pooled connection for the length of the use case. If the process dies, the session ends and
PostgreSQL releases the lock. Pools do not reset released connections (events/pg_sessions.py),
so the lock is undone here, and a connection whose clean-up fails is terminated rather than
returned to the pool holding the lock.

A waiter does not sit on a pooled connection: it tries the lock, gives the connection back when
the lock is taken, and tries again a moment later, until its wait runs out. Waiting inside
PostgreSQL (`pg_advisory_lock`) kept one pooled connection per waiter, so a handful of waiting
imports and decisions could take every connection of the API's pool, the holder's catch-up and
append included, and stall it and every other request until the waiters gave up.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from events.pg_sessions import terminated_on_error
from reconciliation.domain.errors import SettlementBusyError

# The key names the schema, as the relay's does (events/kafka/sql/relay.sql): stores sharing one
# server (tests, benchmarks) never share the lock. coalesce: a search_path naming no existing
# schema still locks (hashtext(NULL) would make the call lock nothing and say so with NULL).
_KEY = "hashtext('settlement:' || coalesce(current_schema(), ''))"
LOCK = f"SELECT pg_advisory_lock({_KEY})"
TRY_LOCK = f"SELECT pg_try_advisory_lock({_KEY})"
UNLOCK = f"SELECT pg_advisory_unlock({_KEY})"
LOCK_WAIT_MAX_S = 60.0  # longer than a 1,000,000-line match run takes on a usual evening here
LOCK_POLL_INTERVAL_S = 0.2


class PostgresSettlementLock:
    def __init__(self, pool: asyncpg.Pool, *, wait_max_s: float = LOCK_WAIT_MAX_S) -> None:
        self._pool = pool
        self._wait_max_s = wait_max_s

    async def _taken(self) -> asyncpg.Connection | None:
        """A connection holding the lock, or None (the lock is busy; nothing is kept)."""
        connection = await self._pool.acquire()
        try:
            with terminated_on_error(connection):
                taken = await connection.fetchval(TRY_LOCK)
        except BaseException:
            await self._pool.release(connection)
            raise
        if taken:
            return connection
        await self._pool.release(connection)
        return None

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        deadline = time.monotonic() + self._wait_max_s
        while (connection := await self._taken()) is None:
            left_s = deadline - time.monotonic()
            if left_s <= 0:
                raise SettlementBusyError(
                    "another match run, decision, import or close is settling; try again shortly"
                )
            await asyncio.sleep(min(LOCK_POLL_INTERVAL_S, left_s))
        try:
            yield
        finally:
            try:
                with terminated_on_error(connection):
                    await connection.execute(UNLOCK)
            finally:
                await self._pool.release(connection)
