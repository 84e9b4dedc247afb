"""Manual decisions and imports against the real PostgreSQL store, where a careless or dishonest
request could slip past maker-checker or corrupt the read model: a small line matched to a large
payment waits for a second officer; an unmatch approved twice undoes once; lines are decided on
their own day only; a line named twice is refused before anything is stored; a closed day takes
no new lines until it is reopened; a day's statement imported again in another format is not
settled twice."""

import asyncio
from collections import Counter
from dataclasses import replace

import pytest

from entrypoints.bootstrap import Runtime
from reconciliation.domain.errors import (
    DayClosedError,
    DayNotReadyError,
    ItemNotOpenError,
    ReconciliationError,
)
from reconciliation.domain.items import ExpectedItem
from reconciliation.service import decisions, imports, runs
from reconciliation.service.context import Actor, Reconciler
from reconciliation.service.decisions import DecisionRequest
from schemas.events.reconciliation_v1 import DecisionKind, Direction, SettlementLine
from tests.integration.recon_harness import (
    ACCOUNT,
    NEXT_DAY,
    SETTLEMENT_DAY,
    bank_line,
    expected_items,
    officer,
    reconciler_for,
    simulate_payment_day,
    upload,
)

LIMIT = 5_000_000  # approval_limit_minor of the rules in force (reconciliation/data)


async def cash_or_pos_item(rt: Runtime, reconciler: Reconciler) -> ExpectedItem:
    items = await expected_items(rt, reconciler, SETTLEMENT_DAY)
    return next(item for item in items if item.route.clearing_kind in ("cash", "pos"))


async def stored_events(rt: Runtime) -> int:
    return int(await rt.pool.fetchval("SELECT count(*) FROM events"))


async def test_a_small_line_matched_to_a_payment_waits_for_a_second_officer(
    runtime: Runtime,
) -> None:
    """The bank shows 1,000 VND; the payment was worth more. Matching them settles the whole
    payment and books the gap as fees, which no fee of a counter payment explains: pending."""
    rt = runtime
    await simulate_payment_day(rt, 40)
    reconciler = reconciler_for(rt)
    item = await cash_or_pos_item(rt, reconciler)
    assert item.amount_minor <= LIMIT  # the old check (on the line's 1,000 VND) let it through
    key = await bank_line(reconciler, 1_000, SETTLEMENT_DAY, "tiny")
    request = DecisionRequest(DecisionKind.MATCH, [key], [item.item_id], "paid by phone")
    proposed = await decisions.propose(reconciler, officer("lan"), ACCOUNT, SETTLEMENT_DAY, request)
    assert proposed.status == "pending"
    assert proposed.amount_minor == item.amount_minor
    exact = await bank_line(reconciler, item.amount_minor, SETTLEMENT_DAY, "exact")
    again = DecisionRequest(DecisionKind.MATCH, [exact], [item.item_id], "paid by phone")
    applied = await decisions.propose(reconciler, officer("lan"), ACCOUNT, SETTLEMENT_DAY, again)
    assert applied.status == "applied"  # the full amount, under the limit: one officer is enough


def with_approval_limit(reconciler: Reconciler, limit_minor: int) -> Reconciler:
    """The same reconciler under rules whose approval limit is `limit_minor`."""
    book = reconciler.rules_book
    versions = [v.model_copy(update={"approval_limit_minor": limit_minor}) for v in book.versions]
    return replace(reconciler, rules_book=book.model_copy(update={"versions": versions}))


async def test_a_pending_unmatch_is_refused_once_its_match_is_gone(runtime: Runtime) -> None:
    """Two officers each propose to undo one match; both wait for a checker. The first approval
    undoes it; the second finds the match no longer live and is refused: one reversal only."""
    rt = runtime
    await simulate_payment_day(rt, 40)
    reconciler = with_approval_limit(reconciler_for(rt), 0)  # every decision needs a checker
    item = await cash_or_pos_item(rt, reconciler)
    key = await bank_line(reconciler, item.amount_minor, SETTLEMENT_DAY, "undo")
    matched = DecisionRequest(DecisionKind.MATCH, [key], [item.item_id], "paid by phone")
    pending = await decisions.propose(reconciler, officer("lan"), ACCOUNT, SETTLEMENT_DAY, matched)
    await decisions.approve(
        reconciler, officer("minh"), ACCOUNT, SETTLEMENT_DAY, pending.decision_id, "slip seen"
    )
    undo = DecisionRequest(DecisionKind.UNMATCH, [key], [], "wrong payer")
    one = await decisions.propose(reconciler, officer("lan"), ACCOUNT, SETTLEMENT_DAY, undo)
    two = await decisions.propose(reconciler, officer("thu"), ACCOUNT, SETTLEMENT_DAY, undo)
    assert one.status == two.status == "pending"
    await decisions.approve(
        reconciler, officer("minh"), ACCOUNT, SETTLEMENT_DAY, one.decision_id, "agreed"
    )
    with pytest.raises(ItemNotOpenError, match="no live match"):
        await decisions.approve(
            reconciler, officer("minh"), ACCOUNT, SETTLEMENT_DAY, two.decision_id, "agreed too"
        )
    undone = await rt.pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'MatchUndone'")
    assert undone == 1


async def test_lines_are_decided_on_their_own_day_only(runtime: Runtime) -> None:
    """A closed day stays as it was closed: its lines cannot be matched, written off or
    unmatched through another day's stream."""
    rt = runtime
    await simulate_payment_day(rt, 40)
    reconciler = reconciler_for(rt)
    item = await cash_or_pos_item(rt, reconciler)
    key = await bank_line(reconciler, item.amount_minor, SETTLEMENT_DAY, "own-day")
    head = await stored_events(rt)
    for kind, items in ((DecisionKind.MATCH, [item.item_id]), (DecisionKind.WRITE_OFF, [])):
        elsewhere = DecisionRequest(kind, [key], items, "tidying up")
        with pytest.raises(ReconciliationError, match="decide it on that day"):
            await decisions.propose(reconciler, officer("lan"), ACCOUNT, NEXT_DAY, elsewhere)
    assert await stored_events(rt) == head
    matched = DecisionRequest(DecisionKind.MATCH, [key], [item.item_id], "paid by phone")
    await decisions.propose(reconciler, officer("lan"), ACCOUNT, SETTLEMENT_DAY, matched)
    undo = DecisionRequest(DecisionKind.UNMATCH, [key], [], "wrong payer")
    with pytest.raises(ReconciliationError, match="undo it on that day"):
        await decisions.propose(reconciler, officer("lan"), ACCOUNT, NEXT_DAY, undo)


async def test_a_line_named_twice_is_refused_before_anything_is_stored(runtime: Runtime) -> None:
    """Recorded, it would fail the read model's unique index on every catch-up after."""
    rt = runtime
    await simulate_payment_day(rt, 40)
    reconciler = reconciler_for(rt)
    key = await bank_line(reconciler, 250_000, SETTLEMENT_DAY, "twice")
    head = await stored_events(rt)
    twice = DecisionRequest(DecisionKind.WRITE_OFF, [key, key], [], "unknown payer")
    with pytest.raises(ReconciliationError, match="named twice"):
        await decisions.propose(reconciler, officer("lan"), ACCOUNT, SETTLEMENT_DAY, twice)
    assert await stored_events(rt) == head
    assert await reconciler.read_model.catch_up() > 0  # the read model still applies


async def test_a_day_imported_again_in_another_format_is_not_counted_twice(
    runtime: Runtime,
) -> None:
    """Other bytes, same bank entry: the file hash does not catch it, the bank reference does.
    The copy of a line matched by amount and date is a duplicate, although its first copy was
    matched on the same day rather than an earlier one (it used to stay an unknown credit, or
    settle another payment of the same amount)."""
    rt = runtime
    await simulate_payment_day(rt, 40)
    reconciler = reconciler_for(rt)
    items = await expected_items(rt, reconciler, SETTLEMENT_DAY)
    amounts = Counter(item.amount_minor for item in items)
    item = next(
        i for i in items
        if amounts[i.amount_minor] == 1 and i.due_on == SETTLEMENT_DAY and not i.route.lump
        and i.facts.direction is Direction.CREDIT
    )  # fmt: skip
    line = SettlementLine(
        line_no=1, location="line 1", bank_account=ACCOUNT, booking_date=SETTLEMENT_DAY,
        value_date=SETTLEMENT_DAY, amount_minor=item.amount_minor, direction=Direction.CREDIT,
        bank_reference="FT-TWICE", remittance_info="chuyen tien",
    )  # fmt: skip
    lan = officer("lan")
    await imports.import_statement(reconciler, lan, upload([line], "as-csv"))
    first = await runs.run_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY)
    assert first.matched_line_count == 1
    await imports.import_statement(reconciler, lan, upload([line], "as-camt"))
    second = await runs.run_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY)
    assert second.matched_line_count == 0
    kinds = await rt.pool.fetch(
        "SELECT kind, detail FROM recon_exceptions WHERE business_date = $1 "
        "AND superseded_position IS NULL AND line_keys <> '{}'",
        SETTLEMENT_DAY,
    )
    assert [(row["kind"], row["detail"]) for row in kinds] == [
        ("duplicate_settlement", "bank reference FT-TWICE was already booked")
    ]


async def test_a_closed_day_takes_no_new_lines_until_it_is_reopened(runtime: Runtime) -> None:
    rt = runtime
    reconciler = reconciler_for(rt)
    lan = officer("lan")
    key = await bank_line(reconciler, 250_000, SETTLEMENT_DAY, "before-close")
    written_off = DecisionRequest(DecisionKind.WRITE_OFF, [key], [], "unknown payer")
    await decisions.propose(reconciler, lan, ACCOUNT, SETTLEMENT_DAY, written_off)
    await decisions.close_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY)
    head = await stored_events(rt)
    with pytest.raises(DayClosedError, match="reopen it first"):
        await bank_line(reconciler, 300_000, SETTLEMENT_DAY, "after-close")
    assert await stored_events(rt) == head
    await decisions.reopen_day(reconciler, officer("minh"), ACCOUNT, SETTLEMENT_DAY, "late file")
    assert await bank_line(reconciler, 300_000, SETTLEMENT_DAY, "after-close")


WAITED_S = 0.3  # long enough for a task that does not wait for the lock to finish here


async def day_ready_to_close(rt: Runtime) -> tuple[Reconciler, Actor]:
    """A settlement day whose one line is written off: nothing stops it from closing."""
    reconciler, lan = reconciler_for(rt), officer("lan")
    key = await bank_line(reconciler, 250_000, SETTLEMENT_DAY, "before-close")
    written_off = DecisionRequest(DecisionKind.WRITE_OFF, [key], [], "unknown payer")
    await decisions.propose(reconciler, lan, ACCOUNT, SETTLEMENT_DAY, written_off)
    return reconciler, lan


async def test_an_import_waits_for_a_close_in_progress_and_then_sees_the_day_closed(
    runtime: Runtime,
) -> None:
    rt = runtime
    reconciler, lan = await day_ready_to_close(rt)
    async with reconciler.settlement_lock.held():  # as close_day holds it
        late = asyncio.create_task(bank_line(reconciler, 300_000, SETTLEMENT_DAY, "late"))
        await asyncio.sleep(WAITED_S)
        assert not late.done(), "the import ran while the day was being closed"
        await decisions._close_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY)
    with pytest.raises(DayClosedError, match="reopen it first"):
        await late
    lines = await rt.pool.fetchval(
        "SELECT count(*) FROM recon_lines WHERE booking_date = $1", SETTLEMENT_DAY
    )
    assert lines == 1


async def test_a_close_waits_for_an_import_in_progress_and_then_counts_its_lines(
    runtime: Runtime,
) -> None:
    reconciler, lan = await day_ready_to_close(runtime)
    line = SettlementLine(
        line_no=1, location="line 1", bank_account=ACCOUNT, booking_date=SETTLEMENT_DAY,
        value_date=SETTLEMENT_DAY, amount_minor=300_000, direction=Direction.CREDIT,
        bank_reference="FT-DURING-CLOSE", remittance_info="chuyen tien",
    )  # fmt: skip
    async with reconciler.settlement_lock.held():  # as import_statement holds it
        closing = asyncio.create_task(decisions.close_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY))
        await asyncio.sleep(WAITED_S)
        assert not closing.done(), "the day closed while a statement for it was being imported"
        await imports._append_import(reconciler, lan, upload([line], "during-close"))
    with pytest.raises(DayNotReadyError, match="1 bank line"):
        await closing
