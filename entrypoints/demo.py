"""The main demo (for now): a simulated working day goes into the event store, through the outbox
relay onto Kafka; the next banking day's bank statement is imported and reconciled; a Faust worker
posts both into the ledger and the online-payment-rate metrics.

Later issues grow it (sandbox gateway over HTTP, audit and replay, the HTML report of the day).
"""

import asyncio
import os
import random
import sys
import uuid
from collections import Counter
from datetime import UTC, date, datetime, time
from pathlib import Path
from time import monotonic

from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

from entrypoints.bootstrap import Runtime, all_migrations, runtime, topic_specs
from entrypoints.demo_gateway import pay_online_through_sandbox
from entrypoints.demo_reconciliation import reconcile_next_day
from entrypoints.demo_report import AuditVerdicts, demo_report_html
from entrypoints.replay import (
    Difference,
    catch_up_live_reconciliation,
    compare,
    drop_schema,
    replay_pool,
    replay_store,
)
from entrypoints.settings import REPOSITORY_ROOT, Settings
from entrypoints.tables import rate_table
from entrypoints.terminal import progress_bar
from events.kafka.messages import envelope_from_message, header
from events.kafka.producer import create_producer
from events.kafka.reading import end_offsets, open_reader, read_until_seen
from events.kafka.relay import OutboxRelay
from events.kafka.topics import ensure_topics
from events.store.migrations import apply_migrations
from events.store.verify import verify_chain
from events.streaming.consumers import lagging_partitions
from ledger.adapters.journal import Journal
from metrics.adapters.store import MetricsQueries
from payments.adapters.schedule_files import load_fee_schedule, load_units
from payments.domain.receipts import receipt_book_stream
from payments.simulation import Mix, Simulation
from schemas.api.reconciliation import DayReport
from schemas.time import BUSINESS_ZONE, business_date

DEMO_DOSSIERS_PER_BATCH = 100
DEMO_OUTPUT = REPOSITORY_ROOT / "demo-output"
DEMO_PROJECTION_TIMEOUT_S = 180.0
# Short group timings so the demo's worker joins in seconds (production values: see settings).
DEMO_WORKER_SETTINGS = {
    "FEES_STREAM_SESSION_TIMEOUT_S": "10",
    "FEES_STREAM_HEARTBEAT_INTERVAL_S": "1",
    "FEES_STREAM_REBALANCE_TIMEOUT_S": "10",
    "FEES_STREAM_RECOVERY_DELAY_S": "0",
}
DEMO_CONSUME_TIMEOUT_S = 60.0
SHOWN_ARRIVALS_MAX = 12


async def run_demo(
    settings: Settings,
    console: Console,
    *,
    dossier_count: int,
    seed: int | None,
    via_gateway: int = 40,
) -> int:
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    console.rule(f"Province fees demo: {dossier_count} dossiers, seed {seed}")
    await ensure_topics(settings.kafka_bootstrap_servers, topic_specs(settings))
    async with runtime(settings) as rt:
        async with rt.pool.acquire() as connection:
            await apply_migrations(connection, all_migrations())
        consumer = await open_reader(
            settings.kafka_bootstrap_servers, rt.router.topics(), from_beginning=False
        )
        try:
            if via_gateway:
                console.rule("Citizens paying online through the sandbox gateway, over HTTP")
                today = business_date(datetime.now(UTC))
                outcomes = await pay_online_through_sandbox(
                    settings, console, via_gateway, seed, today
                )
                console.print(
                    "sandbox outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.items())
                )
            console.rule("The rest of the working day, simulated into the event store")
            appended_ids = await _append_samples(rt, console, dossier_count, seed)
            published = await _relay_pending(rt, settings)
            console.print(f"relay: published {published} events to Kafka")
            await _show_arrivals(consumer, console, appended_ids)
        finally:
            await consumer.stop()
        console.rule("Reconciliation: the next banking day's bank statement")
        payment_day = datetime.combine(business_date(datetime.now(UTC)), time(8), BUSINESS_ZONE)
        reconciliation = await reconcile_next_day(rt, console, DEMO_OUTPUT, seed, payment_day)
        published = await _relay_pending(rt, settings)
        console.print(f"relay: published {published} reconciliation events to Kafka")
        await _project(rt, settings, console)
        console.rule("Audit: the hash chain, and every projection replayed from the store")
        chain = await verify_chain(rt.store)
        verdict = "[green]intact[/green]" if chain.intact else "[red]BROKEN[/red]"
        console.print(
            f"hash chain {verdict}: {chain.checked_count} events, head {chain.head_hash_hex[:16]}…"
        )
        differences = await _replay_and_compare(rt, settings, console)
        verdicts = AuditVerdicts(
            chain.intact, chain.checked_count, chain.head_hash_hex, len(differences)
        )
        page = await _write_day_report(rt, payment_day.date(), reconciliation, verdicts)
    console.print(f"the day's report: {page}")
    console.print(f"bank files and reconciliation report: {DEMO_OUTPUT}")
    console.print(
        "next: `make test` runs the suite; `.venv/bin/fees --help` lists the commands "
        "(try `fees audit trail payment <id>`, `fees replay`, `fees recon report`)"
    )
    return 0 if chain.intact and not differences else 1


async def _replay_and_compare(
    rt: Runtime, settings: Settings, console: Console
) -> list[Difference]:
    head = (await rt.store.head()).position
    await catch_up_live_reconciliation(settings, rt.pool)
    schema = f"replay_demo_{uuid.uuid4().hex[:8]}"
    try:
        async with replay_pool(settings, schema) as pool:
            with progress_bar("replaying", console) as progress:
                task = progress.add_task("events", total=head)
                await replay_store(
                    settings, schema, head, lambda done: progress.update(task, completed=done)
                )
            differences = await compare(rt.pool, pool)
    finally:
        await drop_schema(settings, schema)
    if differences:
        console.print(f"[red]replay differs from live in {len(differences)} values[/red]")
        for difference in differences[:SHOWN_ARRIVALS_MAX]:
            console.print(f"  {difference}")
    else:
        console.print("[green]replay equals live[/green]: ledger, metrics and reconciliation")
    return differences


async def _write_day_report(
    rt: Runtime, day: date, reconciliation: DayReport, verdicts: AuditVerdicts
) -> Path:
    queries = MetricsQueries(rt.pool)
    html = demo_report_html(
        day, await queries.report(day, day, "level", "day"),
        await queries.report(day, day, "unit", "day"), reconciliation,
        await Journal(rt.pool).trial_balance(), verdicts,
    )  # fmt: skip
    path = DEMO_OUTPUT / f"day-report-{day}.html"
    await asyncio.to_thread(path.write_text, html, encoding="utf-8")
    return path


# The default day, plus a few citizens who pay twice and are refunded from suspense.
DEMO_MIX = Mix(paid_twice=0.005)


async def _simulation(rt: Runtime, seed: int) -> Simulation:
    """Today's working day (08:00 in Hanoi), with receipt books continuing from the store."""
    today = business_date(datetime.now(UTC))
    start_at = datetime.combine(today, time(8, 0), tzinfo=BUSINESS_ZONE).astimezone(UTC)
    schedule = load_fee_schedule()
    agencies = {procedure.agency_code for procedure in schedule.procedures}
    books = {
        receipt_book_stream(agency, today.year): await rt.store.stream_version(
            receipt_book_stream(agency, today.year)
        )
        for agency in sorted(agencies)
    }
    return Simulation(
        schedule, load_units(), seed=seed, start_at=start_at, mix=DEMO_MIX, book_versions=books
    )


async def _append_samples(rt: Runtime, console: Console, dossier_count: int, seed: int) -> set[str]:
    appended: set[str] = set()
    replayed = 0
    with progress_bar("appending", console) as progress:
        task = progress.add_task("append", total=dossier_count)
        simulation = await _simulation(rt, seed)
        for batch in simulation.batches(dossier_count, DEMO_DOSSIERS_PER_BATCH):
            results = await rt.store.append_batch(batch)
            for request, result in zip(batch, results, strict=True):
                if result.already_stored:
                    replayed += 1
                else:
                    appended.update(str(event.event_id) for event in request.events)
            progress.advance(task, sum(1 for r in batch if r.stream_id.startswith("dossier-")))
    head = await rt.store.head()
    console.print(f"simulated: {simulation.stats}")
    console.print(
        f"event store: {len(appended)} events appended (head position {head.position})"
        + (f", {replayed} streams were already stored (idempotent replay)" if replayed else "")
    )
    return appended


async def _relay_pending(rt: Runtime, settings: Settings) -> int:
    producer = create_producer(settings.kafka_bootstrap_servers, "demo-relay")
    await producer.start()
    try:
        outbox = OutboxRelay(rt.pool, rt.store, producer, rt.router, relay_name=settings.relay_name)
        total = 0
        while published := await outbox.relay_once():
            total += published
        return total
    finally:
        await producer.stop()


async def _show_arrivals(consumer: AIOKafkaConsumer, console: Console, expected: set[str]) -> None:
    table = Table(title="first events arriving on Kafka")
    for column in ("topic", "partition", "offset", "position", "stream", "event type"):
        table.add_column(column)
    records = await read_until_seen(consumer, expected, DEMO_CONSUME_TIMEOUT_S)
    per_type = Counter[str]()
    arrived: set[str] = set()
    for record in records:
        envelope = envelope_from_message(record.value)
        arrived.add(str(envelope.event_id))
        per_type[envelope.event_type] += 1
        if table.row_count < SHOWN_ARRIVALS_MAX:
            table.add_row(
                record.topic,
                str(record.partition),
                str(record.offset),
                str(envelope.position),
                envelope.stream_id[:28] + "…",
                (header(record.headers, "event_type") or b"").decode(),
            )
    console.print(table)
    console.print("received by type: " + ", ".join(f"{k} {v}" for k, v in sorted(per_type.items())))
    missing = expected - arrived
    if missing:
        raise RuntimeError(f"{len(missing)} appended events did not arrive on Kafka in time")
    console.print(f"[green]all {len(expected)} appended events arrived on Kafka[/green]")


async def _project(rt: Runtime, settings: Settings, console: Console) -> None:
    """Run a Faust worker until the ledger and metrics hold the whole store, then show them."""
    environment = {**os.environ, **DEMO_WORKER_SETTINGS}
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "entrypoints.cli", "worker", "--loglevel", "warn",
        cwd=REPOSITORY_ROOT, env=environment, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with console.status("Faust worker: posting the day to the ledger and the metrics ..."):
            await _wait_for_projections(rt, settings)
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), timeout=30)
    totals = await Journal(rt.pool).trial_balance()
    table = Table(title="Ledger: trial balance (VND)")
    for column in ("account", "debit", "credit"):
        table.add_column(column, justify="left" if column == "account" else "right")
    for line in totals:
        table.add_row(line.account_code, f"{line.debit_minor:,}", f"{line.credit_minor:,}")
    debit, credit = sum(t.debit_minor for t in totals), sum(t.credit_minor for t in totals)
    table.add_row("TOTAL", f"{debit:,}", f"{credit:,}")
    console.print(table)
    today = business_date(datetime.now(UTC))
    rows = await MetricsQueries(rt.pool).report(today, today, "level", "day")
    console.print(rate_table(rows, "level"))


async def _wait_for_projections(rt: Runtime, settings: Settings) -> None:
    """Until the ledger and the metrics have applied the last record of every partition."""
    ends = await end_offsets(settings.kafka_bootstrap_servers, rt.router.topics())
    deadline = monotonic() + DEMO_PROJECTION_TIMEOUT_S
    while monotonic() < deadline:
        behind = [
            partition
            for consumer in ("ledger", "metrics")
            for partition in await lagging_partitions(rt.pool, consumer, ends)
        ]
        if not behind:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the worker did not catch up in {DEMO_PROJECTION_TIMEOUT_S:.0f} s")
