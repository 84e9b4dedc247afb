"""Benchmark (issue #2): append 200,000 events across 10,000 streams, relay to Kafka, read back.

Phases run one after the other on a fresh schema and fresh topics, so each figure is clean:
  1. append   - batches of 1,000 events (one per stream) from WRITERS concurrent writers, each
                owning its own streams; 20 rounds, so every stream ends at version 20
  2. relay    - the outbox relay drains the whole backlog to Kafka (acks=all, idempotent producer)
  3. consume  - a plain consumer reads every message back from the topic
Prints `bench: <metric> <value>` lines: append_events_per_s, relay_events_per_s,
append_relay_seconds (first append to last event consumed). Event construction is not timed.

    .venv/bin/python bench/append_relay.py [--streams 10000] [--events-per-stream 20]
"""

import argparse
import asyncio
import gc
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from scratch import clean_up, prepare, scratch_settings  # bench/scratch.py, beside this one

from entrypoints.bootstrap import runtime
from entrypoints.settings import Settings
from events.kafka.producer import create_producer
from events.kafka.reading import open_reader
from events.kafka.relay import OutboxRelay
from events.store.ports import AppendRequest
from events.store.postgres import PostgresEventStore
from schemas.envelope import NewEvent
from schemas.events.payments_v1 import AdministrativeLevel, Channel, DossierFiled
from schemas.money import Money

START_AT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
CONSUME_TIMEOUT_S = 600.0


def build_rounds(
    streams: int, rounds: int, batch_streams: int, seed: int
) -> list[list[AppendRequest]]:
    """Batches in round-major order; each batch appends one ~300-byte event to `batch_streams`."""
    rng = random.Random(seed)
    stream_ids = [
        f"dossier-{uuid.UUID(int=rng.getrandbits(128), version=4)}" for _ in range(streams)
    ]
    batches: list[list[AppendRequest]] = []
    for round_index in range(rounds):
        for start in range(0, streams, batch_streams):
            batch = [
                AppendRequest(stream, round_index, [bench_event(rng, round_index * streams + i)])
                for i, stream in enumerate(stream_ids[start : start + batch_streams], start)
            ]
            batches.append(batch)
    return batches


def bench_event(rng: random.Random, index: int) -> NewEvent:
    payload = DossierFiled(
        dossier_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        citizen_id=f"{rng.randrange(10**11, 10**12)}",
        schedule_version="2026.1+3f2a9c0d1e7b",
        payment_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        # Real Vietnamese national procedure codes look like this, which makes a ~300-byte payload.
        procedure_code=f"1.00{rng.randrange(1000, 9999)}.000.00.00.H56-TP-HT-{index % 97:02d}",
        agency_code="000.00.15.H56-SO-TU-PHAP",
        unit_code=f"000.{index % 9:02d}.32.H56-XA-{index % 211:03d}",
        administrative_level=AdministrativeLevel.COMMUNE,
        channel=Channel.ONLINE if index % 4 else Channel.COUNTER,
        fee=Money(amount_minor=rng.choice((0, 2_000, 8_000, 50_000, 100_000))),
    )
    return NewEvent.from_payload(
        payload,
        event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        occurred_at=START_AT + timedelta(milliseconds=index),
        correlation_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        actor=f"citizen:{rng.randrange(10**11, 10**12)}",
    )


async def append_all(store: PostgresEventStore, batches: list[list[AppendRequest]]) -> None:
    for batch in batches:
        await store.append_batch(batch)


async def consume_count(settings: Settings, topics: list[str], total: int) -> int:
    consumer = await open_reader(settings.kafka_bootstrap_servers, topics, from_beginning=True)
    count = 0
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        while count < total and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=20_000)
            count += sum(len(records) for records in batches.values())
    finally:
        await consumer.stop()
    return count


async def run(arguments: argparse.Namespace) -> None:
    settings = scratch_settings("bench", database_pool_size_max=4)
    groups = -(-arguments.streams // arguments.batch_streams)
    if groups % arguments.writers:
        raise SystemExit(
            "streams / batch-streams must divide by writers (each writer owns streams)"
        )
    await prepare(settings)
    try:
        batches = build_rounds(
            arguments.streams, arguments.events_per_stream, arguments.batch_streams, 7
        )
        # The 200,000 prepared events stay in memory for the whole run; a real writer holds one
        # batch. Freezing them keeps the cyclic GC from re-scanning them on every collection.
        gc.freeze()
        total = sum(len(batch) for batch in batches)
        async with runtime(settings) as rt:
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    append_all(rt.store, batches[writer :: arguments.writers])
                    for writer in range(arguments.writers)
                )
            )
            appended = time.perf_counter()

            producer = create_producer(settings.kafka_bootstrap_servers, "bench-relay")
            await producer.start()
            try:
                relay = OutboxRelay(rt.pool, rt.store, producer, rt.router)
                relayed_count = 0
                while published := await relay.relay_once():
                    relayed_count += published
            finally:
                await producer.stop()
            relayed = time.perf_counter()
        consumed_count = await consume_count(settings, rt.router.topics(), total)
        consumed = time.perf_counter()
    finally:
        if not arguments.keep:
            await clean_up(settings)

    if relayed_count != total or consumed_count < total:
        raise SystemExit(
            f"incomplete: {total} appended, {relayed_count} relayed, {consumed_count} read"
        )
    print(f"events: {total} in {len(batches)} append batches across {arguments.streams} streams")
    print(f"bench: append_events_per_s {total / (appended - started):.0f}")
    print(f"bench: relay_events_per_s {total / (relayed - appended):.0f}")
    print(f"bench: consume_events_per_s {total / (consumed - relayed):.0f}")
    print(f"bench: append_relay_seconds {consumed - started:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--events-per-stream", type=int, default=20)
    parser.add_argument("--batch-streams", type=int, default=1_250, help="streams per append batch")
    parser.add_argument("--writers", type=int, default=4, help="concurrent appenders")
    parser.add_argument("--keep", action="store_true", help="keep the bench schema and topics")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
