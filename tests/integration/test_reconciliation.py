"""Reconciliation against the real PostgreSQL event store: a simulated payment day, the next
day's bank lines with quirks (fees netted, one missing, one duplicate, one late, one unknown
credit), a run that finds exactly those exceptions, maker-checker decisions, day close and lock,
a re-run proven identical from its fingerprint, and idempotent imports."""

import asyncio

import pytest

from entrypoints.bootstrap import Runtime
from reconciliation.adapters.settlement_lock import PostgresSettlementLock
from reconciliation.domain.errors import (
    DayClosedError,
    DayNotReadyError,
    FourEyesError,
    ItemNotOpenError,
    SettlementBusyError,
)
from reconciliation.service import decisions, imports, runs
from reconciliation.service.decisions import DecisionRequest
from reconciliation.simulation import numbered
from schemas.api.reconciliation import DecisionResponse
from schemas.events.reconciliation_v1 import (
    DecisionKind,
    ExceptionKind,
)
from tests.integration.recon_harness import (
    ACCOUNT,
    NEXT_DAY,
    SETTLEMENT_DAY,
    bank_line,
    expected_items,
    officer,
    reconciler_for,
    simulate_payment_day,
    simulated_settlement,
    upload,
)


async def open_exceptions(rt: Runtime, day: object) -> dict[str, list[str]]:
    rows = await rt.pool.fetch(
        "SELECT kind, key, line_keys FROM recon_exceptions WHERE bank_account = $1 "
        "AND business_date = $2 AND superseded_position IS NULL ORDER BY key", ACCOUNT, day,
    )  # fmt: skip
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["kind"], []).append(row["key"])
    return found


async def test_inputs_hashed_in_a_forked_child_are_the_inputs_hashed_here(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconciler = reconciler_for(runtime)
    bank = await simulated_settlement(runtime, reconciler, 60, bank_seed=5)
    lan = officer("lan")
    await imports.import_statement(reconciler, lan, upload(numbered(bank.lines), "forked"))
    monkeypatch.setattr(runs, "HASH_ELSEWHERE_RECORDS_MIN", 1)  # every day counts as large
    outcome = await runs.run_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY)
    check = await runs.verify_run(reconciler, outcome.run_id)  # hashes here
    assert outcome.inputs_sha256 == check.recomputed_inputs_sha256 and check.identical


async def test_a_day_with_quirks_reconciles_to_exactly_its_exceptions(runtime: Runtime) -> None:
    rt = runtime
    reconciler = reconciler_for(rt)
    bank = await simulated_settlement(rt, reconciler, 240, bank_seed=3)
    lan, minh = officer("lan"), officer("minh")

    imported = await imports.import_statement(reconciler, lan, upload(numbered(bank.lines), "d1"))
    again = await imports.import_statement(reconciler, lan, upload(numbered(bank.lines), "d1"))
    assert again.already_imported and again.file_id == imported.file_id
    assert await rt.pool.fetchval("SELECT count(*) FROM recon_files") == 1

    outcome = await runs.run_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY)
    exceptions = await open_exceptions(rt, SETTLEMENT_DAY)
    assert sorted(exceptions) == [
        ExceptionKind.DUPLICATE_SETTLEMENT, ExceptionKind.NOT_SETTLED,
        ExceptionKind.UNMATCHED_BANK_LINE,
    ]  # fmt: skip
    assert len(exceptions[ExceptionKind.NOT_SETTLED]) == 2  # the missing line and the late one
    assert len(exceptions[ExceptionKind.DUPLICATE_SETTLEMENT]) == 1
    assert len(exceptions[ExceptionKind.UNMATCHED_BANK_LINE]) == 1
    assert outcome.matched_line_count == len(bank.lines) - 2
    stages = {row["stage"] for row in await rt.pool.fetch("SELECT stage FROM recon_matches")}
    assert {"gateway_lump", "transfer_note"} <= stages or {
        "gateway_lump",
        "exact_reference",
    } <= stages

    # The run is reproducible from the read model as it stood at the run's position.
    check = await runs.verify_run(reconciler, outcome.run_id)
    assert check.identical and check.recomputed_results_sha256 == outcome.results_sha256

    # The day cannot close while its duplicate and unknown lines are unresolved.
    with pytest.raises(DayNotReadyError, match="2 bank line"):
        await decisions.close_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY)
    unresolved = await rt.pool.fetch(
        "SELECT line_key, amount_minor FROM recon_lines l WHERE NOT EXISTS (SELECT 1 FROM "
        "recon_match_lines m WHERE m.line_key = l.line_key AND m.undone_position IS NULL)"
    )
    waited = 0
    for row in unresolved:
        request = DecisionRequest(DecisionKind.WRITE_OFF, [row["line_key"]], [], "unknown payer")
        outcome_ = await decisions.propose(reconciler, lan, ACCOUNT, SETTLEMENT_DAY, request)
        if outcome_.status == "pending":  # above the limit: maker-checker
            waited += 1
            with pytest.raises(FourEyesError):
                await decisions.approve(
                    reconciler, lan, ACCOUNT, SETTLEMENT_DAY, outcome_.decision_id, "self"
                )
            await decisions.approve(
                reconciler, minh, ACCOUNT, SETTLEMENT_DAY, outcome_.decision_id, "checked"
            )
    await decisions.close_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY)
    assert (
        await rt.pool.fetchval(
            "SELECT status FROM recon_days WHERE business_date = $1", SETTLEMENT_DAY
        )
        == "closed"
    )
    with pytest.raises(DayClosedError):
        await runs.run_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY)

    # Next day: the late line arrives and settles its payment by reference.
    await imports.import_statement(reconciler, lan, upload(numbered(bank.late_lines), "d2"))
    await runs.run_day(reconciler, lan, ACCOUNT, NEXT_DAY)
    late_items = await rt.pool.fetchval(
        "SELECT count(*) FROM recon_match_items mi JOIN recon_matches m USING (match_key) "
        "WHERE m.business_date = $1 AND mi.undone_position IS NULL", NEXT_DAY,
    )  # fmt: skip
    assert late_items == 1


async def test_past_runs_still_verify_after_a_match_they_relied_on_is_undone(
    runtime: Runtime,
) -> None:
    """A run's inputs are read as of its position: a match undone later still held its line and
    item then. The next day's run saw the item settled; undoing the match afterwards must not
    change what that run is recomputed from, while today's read model shows both open again."""
    rt = runtime
    reconciler = reconciler_for(rt)
    bank = await simulated_settlement(rt, reconciler, 120, bank_seed=5)
    lan, minh = officer("lan"), officer("minh")
    await imports.import_statement(reconciler, lan, upload(numbered(bank.lines), "u1"))
    first = await runs.run_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY)
    await imports.import_statement(reconciler, lan, upload(numbered(bank.late_lines), "u2"))
    second = await runs.run_day(reconciler, lan, ACCOUNT, NEXT_DAY)

    undone = await rt.pool.fetchrow(
        "SELECT ml.line_key, mi.item_id FROM recon_matches m "
        "JOIN recon_match_lines ml USING (match_key) JOIN recon_match_items mi USING (match_key) "
        "WHERE m.business_date = $1 AND m.stage = 'exact_reference' ORDER BY ml.line_key LIMIT 1",
        SETTLEMENT_DAY,
    )  # fmt: skip
    assert undone is not None
    request = DecisionRequest(DecisionKind.UNMATCH, [undone["line_key"]], [], "wrong payer")
    proposed = await decisions.propose(reconciler, lan, ACCOUNT, SETTLEMENT_DAY, request)
    if proposed.status == "pending":
        await decisions.approve(
            reconciler, minh, ACCOUNT, SETTLEMENT_DAY, proposed.decision_id, "checked"
        )

    for run in (first, second):
        check = await runs.verify_run(reconciler, run.run_id)
        assert check.identical, check
    head = await reconciler.read_model.catch_up()
    open_now = await reconciler.read_model.open_lines(ACCOUNT, SETTLEMENT_DAY, head)
    assert undone["line_key"] in {line.key for line in open_now}
    open_items = await reconciler.read_model.open_items(runs.start_of_next_day(NEXT_DAY), head)
    assert undone["item_id"] in {facts.item_id for facts in open_items}
    settled = await reconciler.read_model.settled_references(
        [reference for facts in open_items for reference in facts.references
         if facts.item_id == undone["item_id"]], head,
    )  # fmt: skip
    assert settled == {}


async def test_two_days_cannot_settle_the_same_payment_at_once(runtime: Runtime) -> None:
    """The day streams guard one day each; the settlement lock guards the payment across days.
    Two officers match one payment against lines of two different days, concurrently: exactly
    one decision applies, the other is refused, and the payment is settled once."""
    rt = runtime
    await simulate_payment_day(rt, 40)
    reconciler = reconciler_for(rt)
    [item, *_] = await expected_items(rt, reconciler, SETTLEMENT_DAY)
    amount = item.facts.amount_minor
    keys = [
        await bank_line(reconciler, amount, day, f"RACE-{number}")
        for number, day in enumerate((SETTLEMENT_DAY, NEXT_DAY), start=1)
    ]

    def proposal(key: str) -> DecisionRequest:
        return DecisionRequest(DecisionKind.MATCH, [key], [item.facts.item_id], "by phone")

    outcomes = await asyncio.gather(
        decisions.propose(reconciler, officer("lan"), ACCOUNT, SETTLEMENT_DAY, proposal(keys[0])),
        decisions.propose(reconciler, officer("minh"), ACCOUNT, NEXT_DAY, proposal(keys[1])),
        return_exceptions=True,
    )
    applied = [o for o in outcomes if isinstance(o, DecisionResponse)]
    refused = [o for o in outcomes if isinstance(o, ItemNotOpenError)]
    assert len(applied) == len(refused) == 1, outcomes
    assert applied[0].status == "applied"
    matches_of_item = await rt.pool.fetchval(
        "SELECT count(*) FROM recon_match_items WHERE item_id = $1 AND undone_position IS NULL",
        item.facts.item_id,
    )
    assert matches_of_item == 1


async def test_a_settlement_waits_for_the_lock_and_then_says_busy(runtime: Runtime) -> None:
    holder = PostgresSettlementLock(runtime.pool)
    impatient = PostgresSettlementLock(runtime.pool, wait_max_s=0.2)
    async with holder.held():
        with pytest.raises(SettlementBusyError, match="try again"):
            async with impatient.held():
                pass
    async with impatient.held():  # released: the next holder gets it at once
        pass
