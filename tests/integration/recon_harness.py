"""A simulated payment day in the real event store, and a reconciler over it, for the
reconciliation integration tests."""

import hashlib
import uuid
from datetime import UTC, date, datetime

from entrypoints.bootstrap import Runtime, build_reconciler
from events.clock_and_ids import FixedClock, SeededIds
from payments.adapters.schedule_files import load_fee_schedule, load_units
from payments.simulation import Simulation
from reconciliation.domain.items import ExpectedItem, expect, item_facts
from reconciliation.domain.statement_lines import StatementLines
from reconciliation.service import imports
from reconciliation.service.context import Actor, Reconciler
from reconciliation.service.imports import StatementUpload
from reconciliation.simulation import BankDay, SimulatedBank
from schemas.events.reconciliation_v1 import Direction, SettlementLine, StatementFormat

PAYMENT_DAY = date(2026, 11, 24)  # a Tuesday
SETTLEMENT_DAY = date(2026, 11, 25)
NEXT_DAY = date(2026, 11, 26)
ACCOUNT = "0011001234567"
START_AT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội


async def simulate_payment_day(rt: Runtime, dossiers: int, seed: int = 11) -> None:
    simulation = Simulation(load_fee_schedule(), load_units(), seed=seed, start_at=START_AT)
    for batch in simulation.batches(dossiers, 50):
        await rt.store.append_batch(batch)


def reconciler_for(rt: Runtime, seed: int = 5) -> Reconciler:
    clock = FixedClock(datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    return build_reconciler(rt, clock=clock, ids=SeededIds(seed))


async def expected_items(rt: Runtime, reconciler: Reconciler, day: date) -> list[ExpectedItem]:
    """Straight from the event store (not the read model): what the bank should show."""
    rules = reconciler.rules_book.in_force_on(day)
    items = []
    async for envelope in rt.store.iter_all():
        facts = item_facts(rt.registry.parse(envelope), envelope.occurred_at)
        expected = facts and expect(facts, rules, reconciler.calendar)
        if expected:
            items.append(expected)
    return items


def upload(lines: list[SettlementLine], name: str) -> StatementUpload:
    digest = hashlib.sha256(
        b"".join(line.model_dump_json().encode() for line in lines) + name.encode()
    ).hexdigest()
    return StatementUpload(
        name, StatementFormat.CSV, "generic", "test", digest, StatementLines.from_lines(lines)
    )


def officer(name: str) -> Actor:
    return Actor(f"finance:{name}", uuid.uuid4())


async def simulated_settlement(
    rt: Runtime, reconciler: Reconciler, dossiers: int, bank_seed: int
) -> BankDay:
    """A simulated payment day in the store, and the bank's lines for it on the settlement day
    (with the simulation's default quirks)."""
    await simulate_payment_day(rt, dossiers)
    items = await expected_items(rt, reconciler, SETTLEMENT_DAY)
    return SimulatedBank(ACCOUNT, seed=bank_seed).day(SETTLEMENT_DAY, NEXT_DAY, items)


async def bank_line(reconciler: Reconciler, amount_minor: int, day: date, name: str) -> str:
    """One credit line, imported on its own; its line key."""
    line = SettlementLine(
        line_no=1, location="line 1", bank_account=ACCOUNT, booking_date=day, value_date=day,
        amount_minor=amount_minor, direction=Direction.CREDIT, bank_reference=f"FT-{name}",
        remittance_info="chuyen tien",
    )  # fmt: skip
    imported = await imports.import_statement(reconciler, officer("lan"), upload([line], name))
    return f"{imported.file_id}:1"
