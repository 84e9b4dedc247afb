"""The settlement lock (service/ports.py) as a PostgreSQL advisory lock per schema, held by
one pooled connection for the length of the use case. If the process dies, the session ends and
PostgreSQL releases the lock. Pools do not reset released connections (events/pg_sessions.py),
so the lock and its wait setting are undone here, and a connection whose clean-up fails is
terminated rather than returned to the pool holding the lock."""

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
LOCK_WAIT_MAX = "60s"  # longer than a 1,000,000-line match run takes here


class PostgresSettlementLock:
    def __init__(self, pool: asyncpg.Pool, *, wait_max: str = LOCK_WAIT_MAX) -> None:
        self._pool = pool
        self._wait_max = wait_max

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        async with self._pool.acquire() as connection:
            busy = False
            with terminated_on_error(connection):
                await connection.execute(
                    "SELECT set_config('lock_timeout', $1, false)", self._wait_max
                )
                try:
                    await connection.execute(LOCK)
                except asyncpg.LockNotAvailableError:
                    busy = True
                await connection.execute("RESET lock_timeout")
            if busy:
                raise SettlementBusyError(
                    "another match run or decision is settling items; try again shortly"
                )
            try:
                yield
            finally:
                with terminated_on_error(connection):
                    await connection.execute(UNLOCK)
