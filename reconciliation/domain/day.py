"""One bank account's business day as an aggregate: runs, manual decisions (maker-checker), close
and reopen. Decide functions check the rules and return events; `evolve` folds them into state.

Whether the lines and items a decision names are still open is checked by the service against
the read model; the day's own rules live here.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from uuid import UUID

from reconciliation.domain.errors import (
    DayClosedError,
    DayNotReadyError,
    DecisionStateError,
    FourEyesError,
    NotFoundError,
    ReconciliationError,
)
from schemas.envelope import EventPayload
from schemas.events.reconciliation_v1 import (
    DayClosed,
    DayReopened,
    DecisionApproved,
    DecisionKind,
    DecisionProposed,
    DecisionRejected,
    Match,
    MatchStage,
    MatchUndone,
    SettlementsMatched,
)

MANUAL_STAGES = {
    DecisionKind.MATCH: MatchStage.MANUAL,
    DecisionKind.SPLIT: MatchStage.MANUAL,
    DecisionKind.WRITE_OFF: MatchStage.WRITE_OFF,
}


def day_stream(bank_account: str, business_date: date) -> str:
    return f"reconday-{bank_account}-{business_date:%Y%m%d}"


@dataclass(frozen=True)
class Day:
    bank_account: str
    business_date: date
    closed: bool = False
    pending: dict[UUID, DecisionProposed] = field(default_factory=dict)
    decided: frozenset[UUID] = frozenset()


def evolve(state: Day, event: EventPayload) -> Day:
    match event:
        case DecisionProposed() if event.needs_approval:
            return replace(state, pending={**state.pending, event.decision_id: event})
        case DecisionProposed():
            return replace(state, decided=state.decided | {event.decision_id})
        case DecisionApproved() | DecisionRejected():
            pending = {k: v for k, v in state.pending.items() if k != event.decision_id}
            return replace(state, pending=pending, decided=state.decided | {event.decision_id})
        case DayClosed():
            return replace(state, closed=True)
        case DayReopened():
            return replace(state, closed=False)
    return state


def fold(bank_account: str, business_date: date, events: Iterable[EventPayload]) -> Day:
    state = Day(bank_account, business_date)
    for event in events:
        state = evolve(state, event)
    return state


def ensure_open(state: Day, command: str) -> None:
    if state.closed:
        raise DayClosedError(
            f"cannot {command}: {state.bank_account} {state.business_date} is closed; reopen it",
            bank_account=state.bank_account,
            business_date=state.business_date.isoformat(),
        )


def _effect(state: Day, proposal: DecisionProposed) -> EventPayload:
    if proposal.kind is DecisionKind.UNMATCH:
        return MatchUndone(
            bank_account=state.bank_account,
            business_date=state.business_date,
            decision_id=proposal.decision_id,
            match=proposal.match,
        )
    return SettlementsMatched(
        bank_account=state.bank_account,
        business_date=state.business_date,
        decision_id=proposal.decision_id,
        matches=[proposal.match],
    )


def decision_amount(match: Match) -> int:
    """What a decision moves: the larger of what its bank lines and its items are worth (a
    match short of its items settles all of them, the gap booked as fees)."""
    return max(match.gross_minor, match.net_minor)


def needs_second_officer(
    match: Match, approval_limit_minor: int, fees_explained_minor: int
) -> bool:
    """Above the approval limit, or short of its items by more than their route's fees explain
    (else a small line could settle a large payment, the gap booked as a gateway fee)."""
    return decision_amount(match) > approval_limit_minor or match.fee_minor > fees_explained_minor


def decide_proposal(
    state: Day, proposal: DecisionProposed, approval_limit_minor: int, fees_explained_minor: int
) -> list[EventPayload]:
    """A decision that `needs_second_officer` waits for one; any other takes effect now."""
    ensure_open(state, f"record a {proposal.kind.value} decision")
    expected_stage = MANUAL_STAGES.get(proposal.kind)
    if expected_stage is not None and proposal.match.stage is not expected_stage:
        raise ReconciliationError(
            f"a {proposal.kind.value} decision records stage {expected_stage}"
        )
    if proposal.decision_id in state.pending or proposal.decision_id in state.decided:
        raise DecisionStateError(f"decision {proposal.decision_id} already exists")
    if proposal.amount_minor != decision_amount(proposal.match):
        raise ReconciliationError("amount_minor must be the larger of the lines' and items' totals")
    wanted = needs_second_officer(proposal.match, approval_limit_minor, fees_explained_minor)
    if proposal.needs_approval != wanted:
        raise ReconciliationError("needs_approval must say whether a second officer must decide")
    if proposal.needs_approval:
        return [proposal]
    return [proposal, _effect(state, proposal)]


def _pending(state: Day, decision_id: UUID) -> DecisionProposed:
    proposal = state.pending.get(decision_id)
    if proposal is None:
        if decision_id in state.decided:
            raise DecisionStateError(f"decision {decision_id} was already decided")
        raise NotFoundError(f"no decision {decision_id} on this day", decision_id=str(decision_id))
    return proposal


def decide_approval(state: Day, decision_id: UUID, officer: str, reason: str) -> list[EventPayload]:
    ensure_open(state, "approve a decision")
    proposal = _pending(state, decision_id)
    if proposal.proposed_by == officer:
        raise FourEyesError(
            f"{officer} proposed decision {decision_id}; a second finance officer must approve it"
        )
    approved = DecisionApproved(decision_id=decision_id, approved_by=officer, reason=reason)
    return [approved, _effect(state, proposal)]


def decide_rejection(
    state: Day, decision_id: UUID, officer: str, reason: str
) -> list[EventPayload]:
    ensure_open(state, "reject a decision")
    _pending(state, decision_id)
    return [DecisionRejected(decision_id=decision_id, rejected_by=officer, reason=reason)]


@dataclass(frozen=True)
class DaySummary:
    """What the read model says about the day when an officer asks to close it."""

    unresolved_line_count: int  # the day's own lines not matched, written off or explained
    matched_line_count: int
    settled_minor: int
    carried_forward_count: int  # items due and not yet at the bank: they stay on the queue


def decide_close(state: Day, officer: str, summary: DaySummary) -> list[EventPayload]:
    ensure_open(state, "close the day")
    if state.pending:
        raise DayNotReadyError(f"{len(state.pending)} decision(s) still wait for approval")
    if summary.unresolved_line_count:
        raise DayNotReadyError(
            f"{summary.unresolved_line_count} bank line(s) of the day are unresolved: match, "
            "split or write them off first",
            unresolved_line_count=summary.unresolved_line_count,
        )
    return [
        DayClosed(
            bank_account=state.bank_account,
            business_date=state.business_date,
            closed_by=officer,
            matched_line_count=summary.matched_line_count,
            settled_minor=summary.settled_minor,
            carried_forward_count=summary.carried_forward_count,
        )
    ]


def decide_reopen(state: Day, officer: str, reason: str) -> list[EventPayload]:
    if not state.closed:
        raise DecisionStateError(f"{state.bank_account} {state.business_date} is not closed")
    return [
        DayReopened(
            bank_account=state.bank_account,
            business_date=state.business_date,
            reopened_by=officer,
            reason=reason,
        )
    ]


def manual_match(match: Match) -> Match:
    """The same figures, recorded as a manual stage with full confidence (a person decided)."""
    stage = MatchStage.WRITE_OFF if not match.item_ids else MatchStage.MANUAL
    return match.model_copy(update={"stage": stage, "confidence": 100})
