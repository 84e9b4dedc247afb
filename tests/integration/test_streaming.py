"""Proves the streaming heart on the real Kafka and PostgreSQL: a few thousand simulated payment
events go store -> outbox relay -> Kafka -> two Faust workers sharing the partitions -> ledger and
metrics; the ledger equals the one computed directly from the store with the same posting rules,
the trial balance is zero, and the metrics equal a direct computation, in PostgreSQL and in the
workers' live Faust table (read back from its changelog topic, which is what a restarted worker
restores). Then the faults: a worker killed with SIGKILL mid-stream and restarted, the whole topic
redelivered on purpose, and the relay re-sending what it had sent: nothing is posted or counted
twice, nothing is skipped."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorNotAvailableError, GroupCoordinatorNotAvailableError

from entrypoints.bootstrap import Runtime
from entrypoints.http import create_app
from entrypoints.settings import REPOSITORY_ROOT, Settings
from events.kafka.producer import create_producer
from events.kafka.relay import OutboxRelay
from events.streaming.consumers import applied_positions
from ledger.adapters.journal import Journal
from ledger.domain.posting import entry_for
from metrics.domain.rules import MetricBatch, counted
from metrics.streams.live_counters import (
    LIVE_TABLE,
    DayCounts,
    UnitCounts,
    add_counts,
    unit_counts_by_day,
)
from payments.adapters.schedule_files import load_fee_schedule, load_units
from payments.simulation import Mix, Simulation
from schemas.api.auth import Principal, Role

CATCH_UP_TIMEOUT_S = float(os.environ.get("FEES_TEST_CATCH_UP_TIMEOUT_S", "180"))
# Faust worker logs go to .stack/logs/test-worker-N.log; "debug" to diagnose a worker that stalls.
WORKER_LOGLEVEL = os.environ.get("FEES_TEST_WORKER_LOGLEVEL", "warn")
START_AT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def worker_environment(settings: Settings, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FEES_STREAM_DATA_DIR": str(data_dir),
        "FEES_DATABASE_SCHEMA": settings.database_schema,
        "FEES_TOPIC_PAYMENTS_EVENTS": settings.topic_payments_events,
        "FEES_TOPIC_RECONCILIATION_EVENTS": settings.topic_reconciliation_events,
        "FEES_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "FEES_STREAM_APP_ID": f"test-{settings.database_schema}",
        "FEES_STREAM_SESSION_TIMEOUT_S": "10",
        "FEES_STREAM_HEARTBEAT_INTERVAL_S": "1",
        "FEES_STREAM_REBALANCE_TIMEOUT_S": "10",
        "FEES_STREAM_RECOVERY_DELAY_S": "0",
        "FEES_STREAM_COMMIT_INTERVAL_S": "0.5",
        "FEES_STREAM_BATCH_MAX": "200",
    }


class Workers:
    """Faust worker processes (`fees worker`), killed at the end of the test whatever happens."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        self._environment = worker_environment(settings, data_dir)
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[Any] = []

    def start(self, batch_max: int = 200) -> subprocess.Popen[bytes]:
        log_path = REPOSITORY_ROOT / ".stack" / "logs" / f"test-worker-{len(self.processes)}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("wb")  # closed in stop_all
        process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "worker", "--loglevel", WORKER_LOGLEVEL],
            cwd=REPOSITORY_ROOT, env={**self._environment, "FEES_STREAM_BATCH_MAX": str(batch_max)},
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._logs.append(log)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self._logs:
            log.close()


@pytest.fixture
async def workers(settings: Settings, tmp_path: Path) -> AsyncIterator[Workers]:
    running = Workers(settings, tmp_path / "faust")
    yield running
    running.stop_all()
    # The workers' Faust app made its own topics (table changelog, assignor): drop them too.
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        app_prefix = f"test-{settings.database_schema}-"
        doomed = [name for name in await admin.list_topics() if name.startswith(app_prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


@pytest.fixture
async def simulated(runtime: Runtime, kafka_topics: list[str]) -> AsyncIterator[int]:
    """~3,000 events of 600 simulated dossiers in the store, some paid twice and refunded from
    suspense (so every event type that posts passes through Kafka); yields the head position."""
    simulation = Simulation(
        load_fee_schedule(), load_units(), seed=11, start_at=START_AT, mix=Mix(paid_twice=0.02)
    )
    for batch in simulation.batches(600, 50):
        await runtime.store.append_batch(batch)
    assert simulation.stats["paid_twice"] >= 1
    yield (await runtime.store.head()).position


async def relay_all(runtime: Runtime, settings: Settings, *, from_scratch: bool = False) -> None:
    if from_scratch:  # as if the relay crashed before it ever saved its checkpoint
        async with runtime.pool.acquire() as connection:
            await connection.execute("DELETE FROM relay_checkpoints")
    producer = create_producer(settings.kafka_bootstrap_servers, "test-streaming-relay")
    await producer.start()
    try:
        relay = OutboxRelay(runtime.pool, runtime.store, producer, runtime.router)
        while await relay.relay_once():
            pass
    finally:
        await producer.stop()


async def direct_ledger(runtime: Runtime) -> list[tuple[Any, ...]]:
    rows = []
    async for envelope in runtime.store.iter_all(page_size=2000):
        entry = entry_for(envelope, runtime.registry.parse(envelope))
        if entry is None:
            continue
        for line, posting in enumerate(entry.postings, start=1):
            rows.append((entry.event_id, entry.position, entry.business_date, line,
                         posting.account_code, posting.amount_minor))  # fmt: skip
    return rows


async def direct_batch(runtime: Runtime) -> MetricBatch:
    return counted([
        (envelope, runtime.registry.parse(envelope))
        async for envelope in runtime.store.iter_all(page_size=2000)
    ])  # fmt: skip


async def direct_metrics(runtime: Runtime) -> dict[tuple[Any, ...], dict[str, int]]:
    batch = await direct_batch(runtime)
    return {
        (k.business_date, k.unit_code, k.agency_code, k.procedure_code): v
        for k, v in batch.totals.items()
    }


async def stored_metrics(pool: asyncpg.Pool) -> dict[tuple[Any, ...], dict[str, int]]:
    async with pool.acquire() as connection:
        rows = await connection.fetch("SELECT * FROM metric_daily")
    keys = ("business_date", "unit_code", "agency_code", "procedure_code")
    return {tuple(row[k] for k in keys): {k: v for k, v in row.items() if k not in keys}
            for row in rows}  # fmt: skip


async def wait_until_caught_up(pool: asyncpg.Pool, head: int, expected_entries: int) -> None:
    """Both consumers have applied every partition up to its last event, and the ledger holds
    the expected number of entries (never more: that would be a double posting)."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while time.monotonic() < deadline:
        async with pool.acquire() as connection:
            entries = await connection.fetchval("SELECT count(*) FROM journal_entries")
        tops = await applied_positions(pool)
        assert entries <= expected_entries, "more entries than events that post: double posting"
        if entries == expected_entries and tops.get("metrics") == tops.get("ledger") == head:
            return
        await asyncio.sleep(0.5)
    pytest.fail(f"workers did not catch up in {CATCH_UP_TIMEOUT_S}s (entries {entries})")


async def assert_ledger_and_metrics_match(runtime: Runtime) -> None:
    journal = Journal(runtime.pool)
    assert await journal.all_postings() == await direct_ledger(runtime)
    totals = await journal.trial_balance()
    assert sum(t.debit_minor for t in totals) == sum(t.credit_minor for t in totals) > 0
    assert await stored_metrics(runtime.pool) == await direct_metrics(runtime)


async def live_changelog_counts(settings: Settings) -> dict[str, UnitCounts]:
    """The live table as a worker restoring it would see it: the latest value of each key of its
    changelog topic, summed per business day and unit."""
    topic = f"test-{settings.database_schema}-{LIVE_TABLE}-changelog"
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await reader.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends = await reader.end_offsets(partitions)
        latest: dict[bytes, bytes] = {}
        while [tp for tp in partitions if await reader.position(tp) < ends[tp]]:
            for records in (await reader.getmany(timeout_ms=1000)).values():
                latest.update((record.key, record.value) for record in records)  # type: ignore[misc]
    finally:
        await reader.stop()
    days: dict[str, UnitCounts] = {}
    for key, value in latest.items():
        day = days.setdefault(key.decode().strip('"').split("|")[1], {})
        for unit, counts in DayCounts.decode(value).units.items():
            add_counts(day.setdefault(unit, {}), counts)
    return days


async def assert_live_counters_match(settings: Settings, runtime: Runtime) -> None:
    """The changelog is sent asynchronously: wait until it holds the direct counts."""
    expected = unit_counts_by_day((await direct_batch(runtime)).totals)
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while (live := await live_changelog_counts(settings)) != expected:
        if time.monotonic() > deadline:
            assert live == expected
        await asyncio.sleep(0.5)


async def members_with_partitions(settings: Settings) -> int:
    """How many members of the workers' consumer group hold a partition assignment."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([f"test-{settings.database_schema}"])
    except (GroupCoordinatorNotAvailableError, CoordinatorNotAvailableError):
        return 0  # a fresh broker creates __consumer_offsets on the first group: not yet
    finally:
        await admin.close()
    (group,) = response.groups  # (error, group, state, protocol_type, protocol, members)
    if group[2] != "Stable":
        return 0
    return sum(1 for member in group[5] if member[4])  # member_assignment bytes


async def test_two_workers_build_the_ledger_and_metrics_of_the_store(
    runtime: Runtime, settings: Settings, simulated: int, workers: Workers
) -> None:
    expected = len({row[0] for row in await direct_ledger(runtime)})
    workers.start()
    workers.start()
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while time.monotonic() < deadline:  # both workers hold partitions before events flow
        if await members_with_partitions(settings) == 2:
            break
        await asyncio.sleep(0.5)
    assert await members_with_partitions(settings) == 2
    await relay_all(runtime, settings)
    await wait_until_caught_up(runtime.pool, simulated, expected)
    await assert_ledger_and_metrics_match(runtime)
    await assert_live_counters_match(settings, runtime)
    await assert_reports_over_http(settings, runtime)


async def assert_reports_over_http(settings: Settings, runtime: Runtime) -> None:
    """Finance reads the trial balance, the rates and the Prometheus export through the API."""
    app = create_app(settings, background=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api,
    ):
        token = app.state.tokens.issue(Principal(subject="ke-toan-1", role=Role.FINANCE),
                                       datetime.now(UTC))  # fmt: skip
        finance = {"Authorization": f"Bearer {token}"}
        trial = (await api.get("/ledger/trial-balance", headers=finance)).json()
        assert trial["balanced"] and trial["total_debit_minor"] > 0
        rates = await api.get(
            "/reports/online-payment-rates",
            params={"first_day": "2026-11-24", "last_day": "2026-11-25", "by": "level"},
            headers=finance,
        )
        levels = {row["dimension"]: row for row in rates.json()}
        assert set(levels) <= {"province", "district", "commune"} and levels
        direct = await direct_metrics(runtime)
        assert sum(row["counts"]["paid_online"] for row in rates.json()) == sum(
            counts["paid_online"] for counts in direct.values()
        )
        exported = (await api.get("/metrics", headers=finance)).text
        assert "fees_paid_online_total{" in exported
        assert 'fees_consumer_lag_events{consumer="ledger"} 0' in exported
        assert 'fees_consumer_partition_position{consumer="ledger",topic=' in exported
        citizen = app.state.tokens.issue(Principal(subject="079123456789", role=Role.CITIZEN),
                                         datetime.now(UTC))  # fmt: skip
        denied = await api.get(
            "/ledger/trial-balance", headers={"Authorization": f"Bearer {citizen}"}
        )
        assert denied.status_code == 403


async def test_killed_worker_and_redelivered_events_change_nothing(
    runtime: Runtime, settings: Settings, simulated: int, workers: Workers
) -> None:
    expected = len({row[0] for row in await direct_ledger(runtime)})
    first = workers.start(batch_max=10)  # small batches: it is still working when killed
    await relay_all(runtime, settings)
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    posted_at_kill = 0
    while time.monotonic() < deadline and not posted_at_kill:
        async with runtime.pool.acquire() as connection:
            posted_at_kill = await connection.fetchval("SELECT count(*) FROM journal_entries")
        await asyncio.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert 0 < posted_at_kill < expected, "the worker was not killed mid-stream"

    workers.start()
    await wait_until_caught_up(runtime.pool, simulated, expected)
    await assert_ledger_and_metrics_match(runtime)
    await assert_live_counters_match(settings, runtime)

    # Redeliver on purpose: the relay sends the whole store again (duplicates on the topic)...
    await relay_all(runtime, settings, from_scratch=True)
    # ...and the consumer group starts over from offset 0.
    workers.stop_all()
    await reset_group_offsets(settings)
    workers.start()
    await wait_for_offsets_consumed(settings)
    await wait_until_caught_up(runtime.pool, simulated, expected)
    await assert_ledger_and_metrics_match(runtime)
    await assert_live_counters_match(settings, runtime)


async def reset_group_offsets(settings: Settings) -> None:
    group = f"test-{settings.database_schema}"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group,
        enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    try:
        partitions = [
            TopicPartition(settings.topic_payments_events, p)
            for p in range(settings.topic_partitions)
        ]
        consumer.assign(partitions)
        await consumer.commit(dict.fromkeys(partitions, 0))
    finally:
        await consumer.stop()


async def wait_for_offsets_consumed(settings: Settings) -> None:
    """The restarted group has read the topic to its end again (every duplicate was seen)."""
    group = f"test-{settings.database_schema}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    await reader.start()
    try:
        partitions = [
            TopicPartition(settings.topic_payments_events, p)
            for p in range(settings.topic_partitions)
        ]
        ends = await reader.end_offsets(partitions)
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        while time.monotonic() < deadline:
            committed = await admin.list_consumer_group_offsets(group)
            if all(
                committed.get(tp) is not None and committed[tp].offset >= ends[tp]
                for tp in partitions
            ):
                return
            await asyncio.sleep(0.5)
        pytest.fail("the restarted worker did not read the topic to its end")
    finally:
        await reader.stop()
        await admin.close()
