"""A finance officer's manual work: match, split, write off, unmatch; approve or reject another
officer's decision; close and reopen a day. Every one is an event on the day's stream, with a
mandatory reason and the officer's name; above the approval limit a second officer decides."""

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from reconciliation.domain import day as day_rules
from reconciliation.domain.errors import ItemNotOpenError, NotFoundError, ReconciliationError
from reconciliation.service.context import Actor, Reconciler, append_to_day, load_day
from reconciliation.service.ports import ItemState, LineState
from schemas.api.reconciliation import DecisionResponse
from schemas.events.reconciliation_v1 import (
    DecisionKind,
    DecisionProposed,
    Direction,
    ExceptionKind,
    Match,
    MatchStage,
)

WRITE_OFF_CLEARING = "suspense:UNIDENTIFIED"
DECISION_LINES_MAX = 1000
DECISION_ITEMS_MAX = 1000
CARRIED_FORWARD_KINDS = {ExceptionKind.NOT_SETTLED.value, ExceptionKind.REFUND_NOT_SETTLED.value}


@dataclass(frozen=True)
class DecisionRequest:
    kind: DecisionKind
    line_keys: list[str]
    item_ids: list[UUID]
    reason: str


def _check_lines(states: list[LineState], keys: list[str], bank_account: str, day: date) -> None:
    found = {state.line.key: state for state in states}
    for key in keys:
        state = found.get(key)
        if state is None:
            raise NotFoundError(f"bank line {key} does not exist", line_key=key)
        if state.settled:
            raise ItemNotOpenError(f"bank line {key} is already matched or written off")
        if state.line.bank_account != bank_account:
            raise ReconciliationError(f"bank line {key} belongs to {state.line.bank_account}")
        if state.line.booking_date != day:  # another day's lines change only on that day
            raise ReconciliationError(
                f"bank line {key} is booked on {state.line.booking_date}: decide it on that day"
            )


def _check_items(states: list[ItemState], item_ids: list[UUID], direction: Direction) -> None:
    found = {state.facts.item_id: state for state in states}
    for item_id in item_ids:
        state = found.get(item_id)
        if state is None:
            raise NotFoundError(f"no captured payment or refund {item_id}", item_id=str(item_id))
        if state.settled:
            raise ItemNotOpenError(f"{item_id} is already settled")
        if state.facts.direction is not direction:
            raise ReconciliationError(f"{item_id} cannot settle a {direction.value} line")


def _check_distinct(request: DecisionRequest) -> None:
    """A key named twice would be recorded, then refused by the read model's unique indexes on
    every catch-up after: refused here instead."""
    if len(set(request.line_keys)) != len(request.line_keys):
        raise ReconciliationError("a bank line is named twice", field="line_keys")
    if len(set(request.item_ids)) != len(request.item_ids):
        raise ReconciliationError("a payment or refund is named twice", field="item_ids")


@dataclass(frozen=True)
class _Decided:
    match: Match
    fees_explained_minor: int  # how far short of its items the match may be without a checker


async def _live_match(reconciler: Reconciler, bank_account: str, day: date, line_key: str) -> Match:
    live = await reconciler.read_model.live_match_of_line(line_key)
    if live is None or live.match.bank_account != bank_account:
        raise ItemNotOpenError(f"line {line_key} is in no live match to undo")
    if live.business_date != day:
        raise ReconciliationError(
            f"line {line_key} was matched on {live.business_date}: undo it on that day"
        )
    return live.match


async def _decided(
    reconciler: Reconciler, bank_account: str, day: date, request: DecisionRequest
) -> _Decided:
    """The match a decision records, checked against the read model as it stands."""
    _check_distinct(request)
    model = reconciler.read_model
    if request.kind is DecisionKind.UNMATCH:
        live = await _live_match(reconciler, bank_account, day, request.line_keys[0])
        return _Decided(live, fees_explained_minor=live.fee_minor)  # undoing asks no fee
    lines = await model.lines(request.line_keys)
    _check_lines(lines, request.line_keys, bank_account, day)
    directions = {state.line.direction for state in lines}
    if len(directions) != 1:
        raise ReconciliationError("a decision cannot mix credit and debit lines")
    direction = directions.pop()
    net = sum(state.line.amount_minor for state in lines)
    common = {
        "confidence": 100,
        "direction": direction,
        "bank_account": bank_account,
        "line_keys": sorted(request.line_keys),
        "net_minor": net,
    }
    if request.kind is DecisionKind.WRITE_OFF:
        if request.item_ids:
            raise ReconciliationError("a write-off names bank lines only")
        match = Match(
            stage=MatchStage.WRITE_OFF,
            item_ids=[],
            clearing=WRITE_OFF_CLEARING,
            gross_minor=net,
            fee_minor=0,
            **common,
        )
        return _Decided(match, fees_explained_minor=0)
    items = await model.items(request.item_ids)
    _check_items(items, request.item_ids, direction)
    clearings = {state.facts.clearing for state in items}
    if len(clearings) != 1:
        raise ReconciliationError(f"the items settle through {sorted(clearings)}; one at a time")
    gross = sum(state.facts.amount_minor for state in items)
    if net > gross or (direction is Direction.DEBIT and net != gross):
        raise ReconciliationError(
            f"the lines total {net} VND but the items {gross} VND: split or write off the rest",
            lines_minor=net,
            items_minor=gross,
        )
    match = Match(
        stage=MatchStage.MANUAL,
        item_ids=sorted(request.item_ids),
        clearing=clearings.pop(),
        gross_minor=gross,
        fee_minor=gross - net,
        **common,
    )
    facts = items[0].facts  # all of one clearing, checked above
    route = reconciler.rules_book.in_force_on(day).route_for(
        facts.clearing_kind, facts.clearing_qualifier
    )
    explained = 0 if route is None else route.fees_explained([s.facts.amount_minor for s in items])
    return _Decided(match, fees_explained_minor=explained)


async def propose(
    reconciler: Reconciler, actor: Actor, bank_account: str, day: date, request: DecisionRequest
) -> DecisionResponse:
    if not 1 <= len(request.line_keys) <= DECISION_LINES_MAX:
        raise ReconciliationError(f"a decision names 1..{DECISION_LINES_MAX} bank lines")
    if len(request.item_ids) > DECISION_ITEMS_MAX:
        raise ReconciliationError(f"a decision names at most {DECISION_ITEMS_MAX} items")
    async with reconciler.settlement_lock.held():  # checked open and settled in one go
        await reconciler.read_model.catch_up()
        state, version = await load_day(reconciler, bank_account, day)
        decided = await _decided(reconciler, bank_account, day, request)
        limit = reconciler.rules_book.in_force_on(day).approval_limit_minor
        match, explained = decided.match, decided.fees_explained_minor
        proposal = DecisionProposed(
            decision_id=reconciler.ids.next(),
            bank_account=bank_account,
            business_date=day,
            kind=request.kind,
            amount_minor=day_rules.decision_amount(match),
            match=match,
            reason=request.reason,
            proposed_by=actor.officer,
            needs_approval=day_rules.needs_second_officer(match, limit, explained),
        )
        events = day_rules.decide_proposal(state, proposal, limit, explained)
        await append_to_day(reconciler, actor, state, version, events)
    status = "pending" if proposal.needs_approval else "applied"
    return DecisionResponse(
        decision_id=proposal.decision_id, status=status, amount_minor=proposal.amount_minor
    )


async def approve(
    reconciler: Reconciler,
    actor: Actor,
    bank_account: str,
    day: date,
    decision_id: UUID,
    reason: str,
) -> DecisionResponse:
    async with reconciler.settlement_lock.held():  # checked open and settled in one go
        await reconciler.read_model.catch_up()
        state, version = await load_day(reconciler, bank_account, day)
        events = day_rules.decide_approval(state, decision_id, actor.officer, reason)
        proposal = state.pending[decision_id]
        # Still what was proposed, after the time it waited? Its lines and items still open, or
        # for an unmatch, the very match still live (not undone, nor matched anew, since).
        if proposal.kind is DecisionKind.UNMATCH:
            live = await _live_match(reconciler, bank_account, day, proposal.match.line_keys[0])
            if live != proposal.match:
                raise ItemNotOpenError("the match this decision would undo is no longer live")
        else:
            request = DecisionRequest(
                proposal.kind, proposal.match.line_keys, proposal.match.item_ids, proposal.reason
            )
            await _decided(reconciler, bank_account, day, request)
        await append_to_day(reconciler, actor, state, version, events)
    return DecisionResponse(
        decision_id=decision_id, status="applied", amount_minor=proposal.amount_minor
    )


async def reject(
    reconciler: Reconciler,
    actor: Actor,
    bank_account: str,
    day: date,
    decision_id: UUID,
    reason: str,
) -> DecisionResponse:
    state, version = await load_day(reconciler, bank_account, day)
    events = day_rules.decide_rejection(state, decision_id, actor.officer, reason)
    await append_to_day(reconciler, actor, state, version, events)
    amount = state.pending[decision_id].amount_minor
    return DecisionResponse(decision_id=decision_id, status="rejected", amount_minor=amount)


async def close_day(reconciler: Reconciler, actor: Actor, bank_account: str, day: date) -> None:
    # Under the settlement lock: no import adds lines to the day, and no run or decision settles
    # its lines, between the counts below and the close.
    async with reconciler.settlement_lock.held():
        await _close_day(reconciler, actor, bank_account, day)


async def _close_day(reconciler: Reconciler, actor: Actor, bank_account: str, day: date) -> None:
    await reconciler.read_model.catch_up()
    state, version = await load_day(reconciler, bank_account, day)
    counts = await reconciler.read_model.day_counts(bank_account, day)
    kinds = await reconciler.read_model.open_exception_kinds(bank_account, day)
    summary = day_rules.DaySummary(
        unresolved_line_count=counts.line_count - counts.settled_count,
        matched_line_count=counts.settled_count,
        settled_minor=counts.settled_minor,
        carried_forward_count=sum(1 for kind in kinds if kind in CARRIED_FORWARD_KINDS),
    )
    events = day_rules.decide_close(state, actor.officer, summary)
    await append_to_day(reconciler, actor, state, version, events)


async def reopen_day(
    reconciler: Reconciler, actor: Actor, bank_account: str, day: date, reason: str
) -> None:
    state, version = await load_day(reconciler, bank_account, day)
    events = day_rules.decide_reopen(state, actor.officer, reason)
    await append_to_day(reconciler, actor, state, version, events)
