"""Benchmark (issue #6): replay 1,000,000 events from the event store into fresh projections.

Setup (not timed): a seeded simulation of payment days (dossiers filed online and at the counter,
checkouts, captures, failures, expiries, receipts, refunds: the real event mix) appended to a
fresh schema until it holds the wanted number of events, then vacuumed and analysed, as
autovacuum leaves a store whose history an auditor replays (otherwise autovacuum's pass over the
million new rows starts inside the timed part and competes with it). Timed:
`entrypoints.replay.replay_store` into another fresh schema: reading, validating and applying
every event to the ledger, the metrics and the reconciliation read model, page by page, each
page in one transaction.

    .venv/bin/python bench/replay_1m.py [--events 1000000]
"""

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

from scratch import clean_up, prepare, scratch_settings  # bench/scratch.py, beside this one

from entrypoints.bootstrap import runtime
from entrypoints.replay import drop_schema, replay_pool, replay_store
from payments.adapters.schedule_files import load_fee_schedule, load_units
from payments.domain.receipts import receipt_book_stream
from payments.simulation import Simulation

DOSSIERS_PER_DAY = 20_000
START_AT = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
AGENCIES = sorted({procedure.agency_code for procedure in load_fee_schedule().procedures})


async def fill(settings, events_wanted: int) -> int:  # type: ignore[no-untyped-def]
    async with runtime(settings) as rt:
        day = 0
        while (head := (await rt.store.head()).position) < events_wanted:
            start = START_AT + timedelta(days=day)
            books = {
                receipt_book_stream(agency, start.year): await rt.store.stream_version(
                    receipt_book_stream(agency, start.year)
                )
                for agency in AGENCIES
            }
            simulation = Simulation(load_fee_schedule(), load_units(), seed=day, start_at=start,
                                    book_versions=books)  # fmt: skip
            for batch in simulation.batches(DOSSIERS_PER_DAY, 200):
                await rt.store.append_batch(batch)
            day += 1
            print(f"setup: {head:,} events", end="\r", flush=True)
        print(f"setup: {head:,} events in {day} simulated days")
        async with rt.pool.acquire() as connection:
            await connection.execute("VACUUM (ANALYZE) events, event_store_commits")
        return head


async def timed(settings, head: int) -> None:  # type: ignore[no-untyped-def]
    schema = f"bench_replay_target_{uuid.uuid4().hex[:8]}"
    async with replay_pool(settings, schema):
        started = time.perf_counter()
        count = await replay_store(settings, schema, head)
        elapsed = time.perf_counter() - started
    await drop_schema(settings, schema)
    print(f"replayed {count:,} events in {elapsed:.1f} s")
    print(f"bench: replay_events_per_s {count / elapsed:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    arguments = parser.parse_args()
    settings = scratch_settings("bench_replay")
    asyncio.run(prepare(settings))
    try:
        head = asyncio.run(fill(settings, arguments.events))
        asyncio.run(timed(settings, head))
    finally:
        asyncio.run(clean_up(settings))


if __name__ == "__main__":
    main()
