"""Pools release connections without a reset query (events/pg_sessions.py). These tests prove the
rule that makes it safe on a real PostgreSQL: code that sets session state undoes it, and a
connection whose clean-up fails is terminated, never handed to the next borrower with it.

Each test uses a pool of one connection, so the next borrower gets the very session the previous
one left (or a new one, if it was terminated)."""

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from entrypoints.bootstrap import create_pool
from entrypoints.settings import Settings
from events.pg_sessions import terminated_on_error
from reconciliation.adapters.settlement_lock import (
    LOCK,
    TRY_LOCK,
    UNLOCK,
    PostgresSettlementLock,
)
from reconciliation.domain.errors import SettlementBusyError


@pytest.fixture
async def one_connection_pool(
    settings: Settings, database: asyncpg.Pool
) -> AsyncIterator[asyncpg.Pool]:
    single = settings.model_copy(update={"database_pool_size_min": 1, "database_pool_size_max": 1})
    pool = await create_pool(single)
    try:
        yield pool
    finally:
        await pool.close()


async def session_in(settings: Settings, schema: str | None = None) -> asyncpg.Connection:
    """A connection of its own, outside the pool, in the test's schema (or another one)."""
    return await asyncpg.connect(
        settings.database_dsn.get_secret_value(),
        server_settings={"search_path": schema or settings.database_schema},
    )


async def lock_is_free(settings: Settings) -> bool:
    """Whether another session can take the settlement lock right now (then it lets it go)."""
    other = await session_in(settings)
    try:
        taken = await other.fetchval(TRY_LOCK)
        if taken:
            await other.execute(UNLOCK)
        return bool(taken)
    finally:
        await other.close()


async def session_state(pool: asyncpg.Pool) -> tuple[int, str, int]:
    """(backend pid, lock_timeout, advisory locks held) of the session the pool lends next."""
    row = await pool.fetchrow(
        "SELECT pg_backend_pid() AS pid, current_setting('lock_timeout') AS lock_timeout, "
        "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
        " AND pid = pg_backend_pid()) AS advisory"
    )
    assert row is not None
    return row["pid"], row["lock_timeout"], row["advisory"]


async def test_the_settlement_lock_leaves_its_session_clean_however_the_holder_ends(
    settings: Settings, one_connection_pool: asyncpg.Pool
) -> None:
    pool = one_connection_pool
    lock = PostgresSettlementLock(pool)
    pid, _, _ = await session_state(pool)

    async with lock.held():
        assert not await lock_is_free(settings)
    assert await session_state(pool) == (pid, "0", 0)

    with pytest.raises(RuntimeError, match="use case failed"):
        async with lock.held():
            raise RuntimeError("use case failed")
    assert await session_state(pool) == (pid, "0", 0)

    entered = asyncio.Event()

    async def holder() -> None:
        async with lock.held():
            entered.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(holder())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _, lock_timeout, advisory = await session_state(pool)
    assert (lock_timeout, advisory) == ("0", 0)
    assert await lock_is_free(settings)


async def test_a_busy_settlement_lock_gives_its_session_back_without_its_wait_setting(
    settings: Settings, one_connection_pool: asyncpg.Pool
) -> None:
    other = await session_in(settings)
    try:
        await other.execute(LOCK)
        pid, _, _ = await session_state(one_connection_pool)
        impatient = PostgresSettlementLock(one_connection_pool, wait_max_s=0.1)
        with pytest.raises(SettlementBusyError):
            async with impatient.held():
                pass
        assert await session_state(one_connection_pool) == (pid, "0", 0)
    finally:
        await other.close()


async def test_a_connection_whose_clean_up_fails_is_terminated_not_lent_again(
    one_connection_pool: asyncpg.Pool,
) -> None:
    pool = one_connection_pool
    async with pool.acquire() as connection:
        pid = await connection.fetchval("SELECT pg_backend_pid()")
        await connection.execute(LOCK)
        with pytest.raises(asyncpg.PostgresError), terminated_on_error(connection):
            await connection.execute("SELECT pg_advisory_unlock($1::no_such_type)", 1)
    next_pid, lock_timeout, advisory = await session_state(pool)
    assert next_pid != pid
    assert (lock_timeout, advisory) == ("0", 0)


async def test_stores_sharing_a_server_never_share_the_settlement_lock(
    settings: Settings, one_connection_pool: asyncpg.Pool, database: asyncpg.Pool
) -> None:
    """Held in another schema, the lock does not keep this one's run waiting (before, one key
    served the whole server: a benchmark's run made every test schema's runs wait)."""
    neighbour = f"{settings.database_schema}_neighbour"
    await database.execute(f'CREATE SCHEMA "{neighbour}"')
    other = await session_in(settings, neighbour)
    try:
        await other.execute(LOCK)
        impatient = PostgresSettlementLock(one_connection_pool, wait_max_s=0.1)
        async with impatient.held():  # busy would raise SettlementBusyError after 100 ms
            assert not await lock_is_free(settings)  # held here, in this schema
        assert await lock_is_free(settings)
    finally:
        await other.close()
        await database.execute(f'DROP SCHEMA "{neighbour}"')


async def test_a_session_idle_inside_a_transaction_is_cut_off(
    one_connection_pool: asyncpg.Pool,
) -> None:
    """Well before the 5 minutes after which a day is sealed: a stalled client cannot commit
    an append stamped with a day that was signed without it."""
    async with one_connection_pool.acquire() as connection:
        timeout = await connection.fetchval("SHOW idle_in_transaction_session_timeout")
    assert timeout == "1min"


async def test_waiters_for_the_settlement_lock_leave_the_pool_to_its_holder(
    settings: Settings, database: asyncpg.Pool
) -> None:
    """A pool of two: the holder keeps one connection for the lock and still gets the other
    for its work while three others wait (waiting inside PostgreSQL, each waiter kept a pooled
    connection: the holder's own statements then waited for one until the waiters gave up)."""
    pair = settings.model_copy(update={"database_pool_size_min": 1, "database_pool_size_max": 2})
    pool = await create_pool(pair)
    try:
        lock = PostgresSettlementLock(pool, wait_max_s=10)
        order: list[str] = []

        async def waiter(name: str) -> None:
            async with lock.held():
                order.append(name)

        async with lock.held():
            waiters = [asyncio.create_task(waiter(name)) for name in ("a", "b", "c")]
            await asyncio.sleep(0.5)
            assert await asyncio.wait_for(pool.fetchval("SELECT 1"), timeout=2) == 1
            assert order == []
        await asyncio.wait_for(asyncio.gather(*waiters), timeout=5)
        assert sorted(order) == ["a", "b", "c"]
        assert await lock_is_free(settings)
    finally:
        await pool.close()
