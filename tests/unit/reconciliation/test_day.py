"""The day aggregate: small decisions take effect at once, large ones wait for a second officer
(never the proposer), a closed day refuses changes until reopened, and a day with unresolved bank
lines or pending decisions cannot close."""

import uuid
from datetime import date

import pytest

from reconciliation.domain.day import (
    DaySummary,
    decide_approval,
    decide_close,
    decide_proposal,
    decide_rejection,
    decide_reopen,
    fold,
)
from reconciliation.domain.errors import (
    DayClosedError,
    DayNotReadyError,
    DecisionStateError,
    FourEyesError,
    ReconciliationError,
)
from schemas.envelope import EventPayload
from schemas.events.reconciliation_v1 import (
    DayClosed,
    DecisionApproved,
    DecisionKind,
    DecisionProposed,
    Direction,
    Match,
    MatchStage,
    MatchUndone,
    SettlementsMatched,
)
from tests.unit.reconciliation.recon_factories import ACCOUNT, FILE_ID

DAY = date(2026, 11, 25)
LIMIT = 5_000_000
READY = DaySummary(
    unresolved_line_count=0, matched_line_count=3, settled_minor=9, carried_forward_count=1
)


def proposal(
    amount: int,
    kind: DecisionKind = DecisionKind.MATCH,
    by: str = "finance:lan",
    *,
    short_by: int = 0,
) -> DecisionProposed:
    """A decision on `amount` VND of items; its bank lines `short_by` less (the gap as fees)."""
    match = Match(
        stage=MatchStage.WRITE_OFF if kind is DecisionKind.WRITE_OFF else MatchStage.MANUAL,
        confidence=100,
        direction=Direction.CREDIT,
        bank_account=ACCOUNT,
        line_keys=[f"{FILE_ID}:1"],
        item_ids=[] if kind is DecisionKind.WRITE_OFF else [uuid.uuid4()],
        clearing="suspense:UNIDENTIFIED" if kind is DecisionKind.WRITE_OFF else "pos:UNIT-1",
        gross_minor=amount,
        fee_minor=short_by,
        net_minor=amount - short_by,
    )
    return DecisionProposed(
        decision_id=uuid.uuid4(),
        bank_account=ACCOUNT,
        business_date=DAY,
        kind=kind,
        amount_minor=amount,
        match=match,
        reason="payer forgot the code",
        proposed_by=by,
        needs_approval=amount > LIMIT or short_by > 0,
    )


def day(*events: EventPayload):  # type: ignore[no-untyped-def]
    return fold(ACCOUNT, DAY, events)


def test_small_decision_takes_effect_at_once() -> None:
    small = proposal(100_000)
    events = decide_proposal(day(), small, LIMIT, 0)
    assert [type(e) for e in events] == [DecisionProposed, SettlementsMatched]
    assert events[1].matches == [small.match]  # type: ignore[attr-defined]


def test_large_decision_waits_and_the_proposer_cannot_approve_it() -> None:
    large = proposal(9_000_000)
    assert decide_proposal(day(), large, LIMIT, 0) == [large]
    with pytest.raises(FourEyesError):
        decide_approval(day(large), large.decision_id, "finance:lan", "looks right")
    approved = decide_approval(day(large), large.decision_id, "finance:minh", "checked the slip")
    assert [type(e) for e in approved] == [DecisionApproved, SettlementsMatched]


def test_the_amount_checked_is_what_the_items_are_worth_not_what_the_bank_paid() -> None:
    """A 1,000 VND line matched to a 9,000,000 VND payment settles the whole payment: above the
    limit, whatever the line says."""
    tiny_line = proposal(9_000_000, short_by=8_999_000)
    assert tiny_line.amount_minor == 9_000_000 and tiny_line.match.net_minor == 1_000
    assert decide_proposal(day(), tiny_line, LIMIT, 8_999_000) == [tiny_line]
    understated = tiny_line.model_copy(update={"amount_minor": 1_000})
    with pytest.raises(ReconciliationError, match="larger of the lines"):
        decide_proposal(day(), understated, LIMIT, 8_999_000)


def test_a_gap_beyond_the_fees_explained_needs_a_second_officer_below_the_limit() -> None:
    short = proposal(1_000_000, short_by=50_000)  # a cash payment 50,000 VND short
    assert decide_proposal(day(), short, LIMIT, 0) == [short]  # waits: no fee explains it
    explained = short.model_copy(update={"needs_approval": False})
    assert len(decide_proposal(day(), explained, LIMIT, 50_000)) == 2  # a gateway's fees do
    with pytest.raises(ReconciliationError, match="second officer"):
        decide_proposal(day(), explained, LIMIT, 0)


def test_a_decided_proposal_cannot_be_approved_twice() -> None:
    large = proposal(9_000_000)
    events = [
        large,
        *decide_rejection(day(large), large.decision_id, "finance:minh", "wrong payer"),
    ]
    with pytest.raises(DecisionStateError):
        decide_approval(day(*events), large.decision_id, "finance:minh", "changed my mind")


def test_unmatch_undoes_the_match() -> None:
    undo = proposal(100_000, DecisionKind.UNMATCH)
    assert isinstance(decide_proposal(day(), undo, LIMIT, 0)[1], MatchUndone)


def test_close_needs_resolved_lines_and_no_pending_decision() -> None:
    with pytest.raises(DayNotReadyError, match="2 bank line"):
        decide_close(day(), "finance:lan", DaySummary(2, 0, 0, 0))
    with pytest.raises(DayNotReadyError, match="wait for approval"):
        decide_close(day(proposal(9_000_000)), "finance:lan", READY)
    [closed] = decide_close(day(), "finance:lan", READY)
    assert isinstance(closed, DayClosed) and closed.carried_forward_count == 1


def test_closed_day_is_locked_until_reopened() -> None:
    [closed] = decide_close(day(), "finance:lan", READY)
    with pytest.raises(DayClosedError):
        decide_proposal(day(closed), proposal(100_000), LIMIT, 0)
    [reopened] = decide_reopen(day(closed), "finance:minh", "bank sent a correction")
    assert decide_proposal(day(closed, reopened), proposal(100_000), LIMIT, 0)
    with pytest.raises(DecisionStateError):
        decide_reopen(day(), "finance:minh", "not closed")
