"""Benchmark (issue #5): reconcile 1,000,000 settlement lines against 1,000,000 captured payments.

Setup (not timed), on a fresh schema: 1,000,000 `PaymentCaptured` events (card payments at the
counter, each with its counter reference) are appended to the event store and projected into the
reconciliation read model; the bank's CSV file (generic layout) is written with one line per
payment carrying the reference as end-to-end id, and 1% exceptions of mixed types: a payment
without a line, a line with the wrong amount, a line booked twice, a credit nobody knows.

Timed, in a child process so that its peak memory is its own: the import (hash, parse, validate,
append the file's events, project its lines) and the matching run for the day (gather inputs,
match, append matches and exceptions, project them). Besides the wall time, it prints the CPU
seconds the timed process (with its forked workers) and the PostgreSQL server spent meanwhile:
two cores give 40 CPU seconds in 20 s.

    .venv/bin/python bench/reconcile_1m.py [--payments 1000000]
"""

import argparse
import asyncio
import csv
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cpu import own_cpu_s, server_cpu_s  # bench/cpu.py, beside this one
from scratch import clean_up, prepare, scratch_settings

from entrypoints.bootstrap import build_reconciler, runtime
from entrypoints.settings import load_settings
from events.clock_and_ids import FixedClock
from events.projection import CatchUpProjector
from events.store.ports import NO_STREAM, AppendRequest
from reconciliation.adapters.projection import ReconciliationProjection
from reconciliation.adapters.statement_writers import GENERIC_CSV_HEADER
from reconciliation.adapters.statements.csv_mapping import load_csv_mappings
from reconciliation.adapters.uploads import import_file
from reconciliation.service import runs
from reconciliation.service.context import Actor
from schemas.envelope import NewEvent
from schemas.events.reconciliation_v1 import StatementFormat

ACCOUNT = "0011001234567"
CAPTURED_ON = date(2026, 11, 24)
SETTLED_ON = date(2026, 11, 25)
START_AT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
APPEND_BATCH = 5000
UNIT = "VP-TP-VINHYEN"


def captured(n: int, amount: int, rng: random.Random) -> NewEvent:
    payment_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    payload = {
        "payment_id": str(payment_id),
        "dossier_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "amount": {"amount_minor": amount, "currency": "VND"},
        "method": "counter_pos",
        "agency_code": "SO-TP",
        "unit_code": UNIT,
        "procedure_code": "TP-001",
        "captured_at": (START_AT + timedelta(milliseconds=n * 40)).isoformat(),
        "counter_reference": f"POS{n:08d}",
    }
    return NewEvent(
        event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        event_type="PaymentCaptured",
        schema_version=1,
        occurred_at=START_AT + timedelta(milliseconds=n * 40),
        correlation_id=payment_id,
        actor="clerk:bench",
        payload=payload,
    )


def bank_rows(amounts: list[int], rng: random.Random) -> list[tuple[object, ...]]:
    """One line per payment, with 1% exceptions of four kinds (0.25% each)."""
    rows: list[tuple[object, ...]] = []
    day = SETTLED_ON.isoformat()
    for n, amount in enumerate(amounts):
        reference = f"POS{n:08d}"
        quirk = n % 400 if n % 100 == 0 else -1  # 0, 100, 200, 300: the four kinds
        if quirk == 0:
            continue  # missing: the payment stays not settled
        paid = amount + 1000 if quirk == 100 else amount  # amount mismatch
        row = (
            ACCOUNT,
            day,
            day,
            paid,
            "credit",
            f"FT{n:010d}",
            reference,
            f"THE POS {reference}",
            "ACQ",
        )
        rows.append(row)
        if quirk == 200:
            rows.append((*row[:5], f"FT{n:010d}D", *row[6:]))  # booked twice
        if quirk == 300:
            rows.append(
                (
                    ACCOUNT,
                    day,
                    day,
                    rng.randrange(10, 900) * 1000,
                    "credit",
                    f"FU{n:010d}",
                    "",
                    "CHUYEN TIEN",
                    "KHONG RO",
                )
            )  # unknown credit
    return rows


async def set_up(settings, payments: int, file: Path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    amounts = [rng.randrange(10, 2000) * 1000 for _ in range(payments)]
    async with runtime(settings) as rt:
        for start in range(0, payments, APPEND_BATCH):
            requests = [
                AppendRequest(f"payment-bench{n}", NO_STREAM, [captured(n, amounts[n], rng)])
                for n in range(start, min(start + APPEND_BATCH, payments))
            ]
            await rt.store.append_batch(requests)
            print(f"setup: appended {start + len(requests):,} payments", end="\r", flush=True)
        projector = CatchUpProjector(
            rt.pool, rt.store, ReconciliationProjection(rt.registry), batch_max=5000
        )
        print(f"\nsetup: projected {await projector.catch_up():,} events")
    with file.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(GENERIC_CSV_HEADER)
        writer.writerows(bank_rows(amounts, rng))


class Meter:
    """Since the last reading: wall seconds, and CPU seconds of this process with its forked
    workers (in all, and in the kernel) and of PostgreSQL's server processes (on this machine)."""

    def __init__(self) -> None:
        self._last = self._now()

    @staticmethod
    def _now() -> tuple[float, ...]:
        return (time.perf_counter(), *own_cpu_s(), server_cpu_s(b"postgres"))

    def part(self) -> tuple[float, ...]:
        now = self._now()
        spent = tuple(after - before for before, after in zip(self._last, now, strict=True))
        self._last = now
        return spent


def described(name: str, spent: tuple[float, ...]) -> str:
    wall, python, kernel, postgres = spent
    return (
        f"{name} {wall:.1f} s (cpu: python {python:.1f} s of which kernel {kernel:.1f} s, "
        f"postgresql {postgres:.1f} s)"
    )


async def timed(settings, file: Path, content: bytes) -> None:  # type: ignore[no-untyped-def]
    async with runtime(settings) as rt:
        reconciler = build_reconciler(rt, clock=FixedClock(datetime(2026, 11, 26, 3, tzinfo=UTC)))
        actor = Actor("finance:bench", uuid.uuid4())
        meter = Meter()
        imported = await import_file(
            reconciler,
            actor,
            content,
            StatementFormat.CSV,
            file_name=file.name,
            mapping_name="generic",
            mappings=load_csv_mappings(),
        )
        import_spent = meter.part()
        outcome = await runs.run_day(reconciler, actor, ACCOUNT, SETTLED_ON)
        run_spent = meter.part()
    print(
        f"import: {imported.line_count:,} lines; run: {outcome.matched_line_count:,} matched, "
        f"{outcome.exception_count:,} exceptions"
    )
    print(described("import", import_spent) + "; " + described("run", run_spent))
    total = [a + b for a, b in zip(import_spent, run_spent, strict=True)]
    print(f"bench: reconcile_1m_seconds {total[0]:.1f}")
    print(f"bench: reconcile_1m_cpu_seconds_python {total[1]:.1f}")
    print(f"bench: reconcile_1m_cpu_seconds_postgresql {total[3]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--timed-part", metavar="SCHEMA", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.timed_part:
        settings = load_settings(database_schema=arguments.timed_part)
        asyncio.run(timed(settings, arguments.file, arguments.file.read_bytes()))
        return
    settings = scratch_settings("bench_recon")
    schema = settings.database_schema
    file = Path(os.environ.get("TMPDIR", "/tmp")) / f"{schema}.csv"
    asyncio.run(prepare(settings))
    try:
        asyncio.run(set_up(settings, arguments.payments, file))
        subprocess.run(
            [sys.executable, __file__, "--timed-part", schema, "--file", str(file)], check=True
        )
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"bench: reconcile_1m_peak_rss_mib {peak_mib:.0f}")
    finally:
        file.unlink(missing_ok=True)
        asyncio.run(clean_up(settings))


if __name__ == "__main__":
    main()
