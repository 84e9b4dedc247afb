"""History recorded on past business days, an intruder who recomputes the chain, and the CLI, for
the audit integration tests.

The store takes `recorded_at` from the database clock, so a test cannot wait for days to pass.
`append_recorded_at` runs the store's own append plan (positions, canonical documents, chained
hashes) with a chosen clock reading and writes the rows as the store does (COPY, then advance the
head and record the commit): an honest history, as if the service had run on those days.
"""

import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from entrypoints.settings import REPOSITORY_ROOT, Settings
from events.audit.signing import CheckpointSigner
from events.chain import GENESIS_HASH, chain_hash, stored_document
from events.store.append_plan import ROW_COLUMNS, plan_append
from events.store.ports import NO_STREAM, AppendRequest, ChainHead
from events.store.postgres import SQL
from schemas.time import BUSINESS_ZONE, business_date
from tests.factories import new_events, stream_id

CLI_TIMEOUT_S = 120


def past_day(days_ago: int) -> date:
    """A business day before today's (so it is sealed: it ended long enough ago)."""
    return business_date(datetime.now(UTC), BUSINESS_ZONE) - timedelta(days=days_ago)


def local_time(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BUSINESS_ZONE).astimezone(UTC)


async def append_recorded_at(
    pool: asyncpg.Pool, requests: Sequence[AppendRequest], recorded_at: datetime
) -> None:
    """Append as the store does, with the database clock reading `recorded_at`."""
    async with pool.acquire() as connection, connection.transaction():
        head_row = await connection.fetchrow(SQL["lock_head"])
        head = ChainHead(
            head_row["last_position"], bytes(head_row["last_hash"]), head_row["last_recorded_at"]
        )
        rows = await connection.fetch(
            SQL["stream_versions"], [request.stream_id for request in requests]
        )
        versions = {row["stream_id"]: row["version"] for row in rows if row["version"] is not None}
        plan = plan_append(requests, head, recorded_at, versions, {})
        await connection.copy_records_to_table("events", records=plan.rows, columns=ROW_COLUMNS)
        await connection.execute(
            SQL["advance_head"],
            plan.head.position,
            plan.head.entry_hash,
            plan.head.recorded_at,
            len(plan.rows),
        )


async def append_day(pool: asyncpg.Pool, day: date, event_count: int) -> None:
    """`event_count` PaymentRequested events (4 per stream) recorded during `day`, local time."""
    for index in range(event_count // 4):
        request = AppendRequest(stream_id(), NO_STREAM, new_events(4))
        await append_recorded_at(pool, [request], local_time(day, 9, index))


async def rewrite_and_rechain(pool: asyncpg.Pool, position: int, amount_minor: int) -> None:
    """What an intruder with the owner's rights does to hide an edit from `fees audit verify`:
    switch the append-only guard off, change one event's amount, recompute every hash from there
    with the published algorithm, move the head to the new last hash, switch the guard on."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("ALTER TABLE events DISABLE TRIGGER USER")
        await connection.execute(
            "UPDATE events SET payload = events_canonical_json("
            "jsonb_set(payload::jsonb, '{amount,amount_minor}', $2::jsonb))::json "
            "WHERE position = $1",
            position,
            str(amount_minor),
        )
        previous = await connection.fetchval(
            "SELECT entry_hash FROM events WHERE position = $1", position - 1
        )
        previous_hash = GENESIS_HASH if previous is None else bytes(previous)
        rows = await connection.fetch(
            SQL["read_stored"], position - 1, 2**62, 1_000_000
        )  # the whole tail: a test history is small
        updates = []
        for row in rows:
            previous_hash = chain_hash(previous_hash, stored_document(row))
            updates.append((int(row["position"]), previous_hash))
        await connection.executemany(
            "UPDATE events SET entry_hash = $2 WHERE position = $1", updates
        )
        await connection.execute(
            "UPDATE event_store_head SET last_hash = $1 WHERE singleton", previous_hash
        )
        await connection.execute("ALTER TABLE events ENABLE TRIGGER USER")


def settings_signer(settings: Settings) -> CheckpointSigner:
    """The key the CLI uses too (config/local.env), so CLI and library agree."""
    assert settings.audit_signing_key is not None, "config/local.env sets FEES_AUDIT_SIGNING_KEY"
    return CheckpointSigner.from_base64(settings.audit_signing_key.get_secret_value())


def run_cli(settings: Settings, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "FEES_DATABASE_SCHEMA": settings.database_schema}
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", *arguments],
        cwd=REPOSITORY_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
