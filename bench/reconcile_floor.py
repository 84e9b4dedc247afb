"""The floor under issue #5's target: the least work a 1,000,000-line reconciliation must do here.

`bench/reconcile_1m.py` times the real import and run. This times, on the same machine and the
same generated bank file, only what the architecture makes unavoidable, each step done the
cheapest way Python and PostgreSQL allow, with no validation, no rules and no error reporting:

1. hash the file (its SHA-256 is its identity);
2. parse the CSV into tuples (csv module, `int()`, dates parsed once per distinct text);
3. the file's events: 1,000 chunk payloads of 1,000 lines as canonical JSON, each hashed into a
   chain, COPYd into a table shaped like `events` (same columns, indexes and lz4 payloads);
4. the lines' read-model rows, COPYd into a table keyed by (file, line) and nothing else;
5. the open payments read back from PostgreSQL (1,000,000 rows: id, amount, reference);
6. matching: one dict look-up of each line's end-to-end id, amounts compared;
7. the run's events: 1,000 chunks of matches as canonical JSON, hashed, COPYd like step 3;
8. the matches' read-model rows (line, payment) COPYd into a table with a unique index on the
   payment (what stops a payment being settled twice).

Each step runs alone and is timed alone; the sum is a floor for doing them one after another.
Prints `bench: reconcile_floor_seconds <sum>` and each step.

    .venv/bin/python bench/reconcile_floor.py [--payments 1000000]
"""

import argparse
import asyncio
import csv
import gc
import hashlib
import io
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import orjson
from reconcile_1m import bank_rows  # beside this one: the same bank file as the real benchmark
from scratch import clean_up, prepare, scratch_settings

from reconciliation.adapters.statement_writers import GENERIC_CSV_HEADER

CHUNK_LINES = 1000
NOW = datetime(2026, 11, 26, 3, tzinfo=UTC)
TABLES = """
CREATE TABLE floor_events (LIKE events INCLUDING ALL);
CREATE TABLE floor_items (item_id uuid PRIMARY KEY, amount_minor bigint NOT NULL,
                          reference text NOT NULL);
CREATE TABLE floor_lines (file_id uuid, line_no integer, bank_account text, booking_date date,
                          amount_minor bigint, direction text, bank_reference text,
                          end_to_end_id text, remittance_info text, counterparty text,
                          PRIMARY KEY (file_id, line_no));
CREATE TABLE floor_matches (file_id uuid, line_no integer, item_id uuid NOT NULL);
CREATE UNIQUE INDEX floor_matches_item ON floor_matches (item_id);
"""
EVENT_COLUMNS = (
    "position", "event_id", "stream_id", "stream_version", "event_type", "schema_version",
    "occurred_at", "recorded_at", "correlation_id", "actor", "payload", "entry_hash",
)  # fmt: skip


class Steps:
    """Runs and times the steps in order, printing each."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    async def time(self, name: str, step: Callable[[], Any]) -> Any:
        began = time.perf_counter()
        result = step()
        if asyncio.iscoroutine(result):
            result = await result
        self.seconds[name] = time.perf_counter() - began
        print(f"  {name}: {self.seconds[name]:.2f} s")
        return result


def parse(content: bytes) -> list[tuple[Any, ...]]:
    rows = csv.reader(io.StringIO(content.decode("utf-8")))
    next(rows)
    dates: dict[str, date] = {}
    lines = []
    for line_no, row in enumerate(rows, start=1):
        day = dates.get(row[1]) or dates.setdefault(row[1], date.fromisoformat(row[1]))
        lines.append((line_no, row[0], day, int(row[3]), row[4], row[5], row[6], row[7], row[8]))
    return lines


def chained_events(
    payloads: list[dict[str, Any]], event_type: str, stream_id: str, first_position: int
) -> list[tuple[Any, ...]]:
    """Event rows with canonical JSON payloads, each hashed into a chain."""
    rows, previous = [], bytes(32)
    for offset, payload in enumerate(payloads):
        document = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
        previous = hashlib.sha256(previous + document).digest()
        rows.append((
            first_position + offset, uuid.uuid4(), stream_id, offset + 1, event_type, 1, NOW,
            NOW, uuid.uuid4(), "finance:floor", document.decode(), previous,
        ))  # fmt: skip
    return rows


def line_chunks(file_id: str, lines: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    keys = ("line_no", "bank_account", "booking_date", "amount_minor", "direction",
            "bank_reference", "end_to_end_id", "remittance_info", "counterparty")  # fmt: skip
    chunks = []
    for start in range(0, len(lines), CHUNK_LINES):
        batch = [dict(zip(keys, line, strict=True)) for line in lines[start : start + CHUNK_LINES]]
        chunks.append({"file_id": file_id, "chunk": len(chunks) + 1, "lines": batch})
    return chunks


def match(lines: list[tuple[Any, ...]], items: list[asyncpg.Record]) -> list[tuple[int, uuid.UUID]]:
    by_reference = {row[2]: (row[0], row[1]) for row in items}
    matched = []
    for line in lines:
        found = by_reference.pop(line[6], None)
        if found is not None and found[1] == line[3]:
            matched.append((line[0], found[0]))
    return matched


def match_chunks(file_id: str, matched: list[tuple[int, uuid.UUID]]) -> list[dict[str, Any]]:
    chunks = []
    for start in range(0, len(matched), CHUNK_LINES):
        batch = [
            {"line_keys": [f"{file_id}:{line_no}"], "item_ids": [str(item_id)]}
            for line_no, item_id in matched[start : start + CHUNK_LINES]
        ]
        chunks.append({"run_id": file_id, "matches": batch})
    return chunks


async def set_up(connection: asyncpg.Connection, payments: int) -> bytes:
    await connection.execute(TABLES)
    rng = random.Random(7)
    amounts = [rng.randrange(10, 2000) * 1000 for _ in range(payments)]
    items = [(uuid.uuid4(), amount, f"POS{n:08d}") for n, amount in enumerate(amounts)]
    await connection.copy_records_to_table("floor_items", records=items)
    await connection.execute("ANALYZE floor_items")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(GENERIC_CSV_HEADER)
    writer.writerows(bank_rows(amounts, rng))
    return out.getvalue().encode()


async def timed(connection: asyncpg.Connection, content: bytes) -> Steps:
    gc.disable()  # as the real bulk path does (events/gc_pause.py): millions of live objects
    steps, file_id = Steps(), str(uuid.uuid4())
    copy = connection.copy_records_to_table
    await steps.time("1 hash", lambda: hashlib.sha256(content).hexdigest())
    lines = await steps.time("2 parse", lambda: parse(content))
    events = await steps.time(
        "3a file events: JSON and chain",
        lambda: chained_events(line_chunks(file_id, lines), "SettlementLinesRecorded", "f-1", 1),
    )
    await steps.time(
        "3b file events: COPY", lambda: copy("floor_events", records=events, columns=EVENT_COLUMNS)
    )
    rows = [(file_id, *line) for line in lines]
    await steps.time("4 lines: COPY", lambda: copy("floor_lines", records=rows))
    items = await steps.time(
        "5 open payments: read",
        lambda: connection.fetch("SELECT item_id, amount_minor, reference FROM floor_items"),
    )
    matched = await steps.time("6 match", lambda: match(lines, items))
    run_events = await steps.time(
        "7a run events: JSON and chain",
        lambda: chained_events(
            match_chunks(file_id, matched), "SettlementsMatched", "d-1", len(events) + 1
        ),
    )
    await steps.time(
        "7b run events: COPY",
        lambda: copy("floor_events", records=run_events, columns=EVENT_COLUMNS),
    )
    members = [(file_id, line_no, item_id) for line_no, item_id in matched]
    await steps.time("8 matches: COPY", lambda: copy("floor_matches", records=members))
    print(f"lines: {len(lines):,}, matched: {len(matched):,}")
    gc.enable()
    return steps


async def run(payments: int) -> None:
    settings = scratch_settings("bench_floor")
    await prepare(settings)
    dsn = settings.database_dsn.get_secret_value()
    connection = await asyncpg.connect(
        dsn, server_settings={"search_path": settings.database_schema}
    )
    try:
        content = await set_up(connection, payments)
        steps = await timed(connection, content)
    finally:
        await connection.close()
        await clean_up(settings)
    print(f"bench: reconcile_floor_seconds {sum(steps.seconds.values()):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--payments", type=int, default=1_000_000)
    asyncio.run(run(parser.parse_args().payments))


if __name__ == "__main__":
    main()
