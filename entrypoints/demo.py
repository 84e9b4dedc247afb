"""The main demo (for now): sample events go into the store, through the outbox relay, onto Kafka.

Later issues grow it into a simulated working day (payments, ledger, reconciliation, audit).
"""

import random
from collections import Counter

from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from entrypoints.bootstrap import Runtime, all_migrations, runtime, topic_specs
from entrypoints.sample_events import sample_batches
from entrypoints.settings import Settings
from events.kafka.messages import envelope_from_message, header
from events.kafka.producer import create_producer
from events.kafka.reading import open_reader, read_until_seen
from events.kafka.relay import OutboxRelay
from events.kafka.topics import ensure_topics
from events.store.migrations import apply_migrations
from events.store.verify import verify_chain

DEMO_DOSSIERS_PER_BATCH = 100
DEMO_CONSUME_TIMEOUT_S = 60.0
SHOWN_ARRIVALS_MAX = 12


async def run_demo(
    settings: Settings, console: Console, *, dossier_count: int, seed: int | None
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
            appended_ids = await _append_samples(rt, console, dossier_count, seed)
            published = await _relay_pending(rt, settings)
            console.print(f"relay: published {published} events to Kafka")
            await _show_arrivals(consumer, console, appended_ids)
        finally:
            await consumer.stop()
        report = await verify_chain(rt.store)
    verdict = "[green]intact[/green]" if report.intact else "[red]BROKEN[/red]"
    console.print(
        f"hash chain {verdict}: {report.checked_count} events, head {report.head_hash_hex[:16]}…"
    )
    console.print("next: `make test` runs the suite; `.venv/bin/fees --help` lists the commands")
    return 0 if report.intact else 1


async def _append_samples(rt: Runtime, console: Console, dossier_count: int, seed: int) -> set[str]:
    appended: set[str] = set()
    replayed = 0
    with Progress(
        TextColumn("appending"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("append", total=dossier_count)
        for batch in sample_batches(seed, dossier_count, DEMO_DOSSIERS_PER_BATCH):
            results = await rt.store.append_batch(batch)
            for request, result in zip(batch, results, strict=True):
                if result.already_stored:
                    replayed += 1
                else:
                    appended.update(str(event.event_id) for event in request.events)
            progress.advance(task, len(batch) // 2)
    head = await rt.store.head()
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
