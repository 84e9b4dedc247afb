"""Proves the settlement posting rules: a gateway lump debits the bank with the net and the fee
expense with the fee and clears the gateway's gross; a refund paid out clears refunds payable; a
write-off goes to suspense; several matches in one event post one entry summed per account; an
undone match posts the exact reverse, dated on the reconciliation's business day."""

import uuid
from datetime import date, timedelta

from ledger.domain.posting import SHORTFALL_FROM, entry_for
from schemas.events.reconciliation_v1 import (
    Direction,
    Match,
    MatchStage,
    MatchUndone,
    SettlementsMatched,
)
from tests.unit.ledger.test_posting import envelope

ACCOUNT = "0011001234567"
DAY = date(2026, 11, 25)
LINE = f"{uuid.uuid4()}:1"


def match(stage: MatchStage, direction: Direction, clearing: str, gross: int, net: int) -> Match:
    return Match(
        stage=stage, confidence=100, direction=direction, bank_account=ACCOUNT,
        line_keys=[LINE], item_ids=[] if stage is MatchStage.WRITE_OFF else [uuid.uuid4()],
        clearing=clearing, gross_minor=gross, fee_minor=gross - net, net_minor=net,
    )  # fmt: skip


def postings(event: SettlementsMatched | MatchUndone) -> dict[str, int]:
    entry = entry_for(envelope(event), event)
    assert entry is not None and entry.business_date == DAY
    return {p.account_code: p.amount_minor for p in entry.postings}


def settled(*matches: Match) -> SettlementsMatched:
    return SettlementsMatched(bank_account=ACCOUNT, business_date=DAY, run_id=uuid.uuid4(),
                              matches=list(matches))  # fmt: skip


def test_gateway_lump_posts_bank_fee_and_clearing() -> None:
    lump = match(MatchStage.GATEWAY_LUMP, Direction.CREDIT, "gateway:VNPAY", 1_000_000, 989_000)
    assert postings(settled(lump)) == {
        f"BANK:{ACCOUNT}": 989_000,
        "GATEWAY_FEE_EXPENSE:VNPAY": 11_000,
        "GATEWAY_CLEARING:VNPAY": -1_000_000,
    }


def on_day(day: date, *matches: Match) -> dict[str, int]:
    event = SettlementsMatched(bank_account=ACCOUNT, business_date=day, run_id=uuid.uuid4(),
                               matches=list(matches))  # fmt: skip
    entry = entry_for(envelope(event), event)
    assert entry is not None
    return {p.account_code: p.amount_minor for p in entry.postings}


def undone_on(day: date, undone: Match) -> dict[str, int]:
    event = MatchUndone(bank_account=ACCOUNT, business_date=day, decision_id=uuid.uuid4(),
                        match=undone)  # fmt: skip
    entry = entry_for(envelope(event), event)
    assert entry is not None
    return {p.account_code: p.amount_minor for p in entry.postings}


def test_a_counter_deposit_matched_short_is_a_shortfall_not_a_gateway_fee() -> None:
    """Cash taken at unit VP, deposited 20,000 short, matched by one officer and approved by a
    second: from SHORTFALL_FROM on, the gap is the unit's shortfall, and no gateway named VP
    appears in the ledger. Days before keep the rule they were posted with (a fee), so replay
    rebuilds the same ledger, and an unmatch reverses into the account its match used."""
    short = match(MatchStage.MANUAL, Direction.CREDIT, "cash:VP", 400_000, 380_000)
    assert on_day(SHORTFALL_FROM, short) == {
        f"BANK:{ACCOUNT}": 380_000,
        "SETTLEMENT_SHORTFALL:VP": 20_000,
        "CASH_ON_HAND:VP": -400_000,
    }
    card = match(MatchStage.MANUAL, Direction.CREDIT, "pos:VP", 100_000, 99_000)
    assert "SETTLEMENT_SHORTFALL:VP" in on_day(SHORTFALL_FROM, card)
    before = SHORTFALL_FROM - timedelta(days=1)
    assert on_day(before, short)["GATEWAY_FEE_EXPENSE:VP"] == 20_000
    for day in (before, SHORTFALL_FROM):
        reversed_ = undone_on(day, short)
        assert reversed_ == {k: -v for k, v in on_day(day, short).items()}


def test_refund_paid_out_clears_refunds_payable() -> None:
    refund = match(MatchStage.REFUND_DEBIT, Direction.DEBIT, "refunds:SO-TP", 45_000, 45_000)
    assert postings(settled(refund)) == {
        "REFUNDS_PAYABLE:SO-TP": 45_000,
        f"BANK:{ACCOUNT}": -45_000,
    }


def test_write_off_of_an_unknown_credit_goes_to_suspense() -> None:
    write_off = match(
        MatchStage.WRITE_OFF, Direction.CREDIT, "suspense:UNIDENTIFIED", 70_000, 70_000
    )
    assert postings(settled(write_off)) == {
        f"BANK:{ACCOUNT}": 70_000,
        "SUSPENSE:UNIDENTIFIED": -70_000,
    }


def test_many_matches_post_one_entry_summed_per_account() -> None:
    cards = [match(MatchStage.EXACT_REFERENCE, Direction.CREDIT, "pos:VP", a, a) for a in (1, 2, 3)]
    cash = match(MatchStage.TRANSFER_NOTE, Direction.CREDIT, "cash:VP", 10, 10)
    assert postings(settled(*cards, cash)) == {
        f"BANK:{ACCOUNT}": 16,
        "POS_CLEARING:VP": -6,
        "CASH_ON_HAND:VP": -10,
    }


def test_undone_match_posts_the_reverse() -> None:
    lump = match(MatchStage.GATEWAY_LUMP, Direction.CREDIT, "gateway:VNPAY", 1_000_000, 989_000)
    undone = MatchUndone(
        bank_account=ACCOUNT, business_date=DAY, decision_id=uuid.uuid4(), match=lump
    )
    assert postings(undone) == {k: -v for k, v in postings(settled(lump)).items()}
