"""Automatic matching of one bank account's business day, in stages.

Stages run in a fixed order, each on what the previous ones left open, and each match records
the stage that made it and a confidence:

1. exact reference: the line's end-to-end id or remittance tokens name one open item;
2. transfer note: a payment or dossier code found in a hand-typed note (see references.py);
3. split credits: several lines naming one item that together pay exactly its amount;
4. gateway lump: one credit per gateway and capture day, net of fees within the tolerance;
5. amount and date window: the only open line and the only open item of an amount within the
   window (never a guess between two candidates), credits against payments and debits against
   refunds.

What is left becomes exceptions. The function is pure and deterministic (inputs are sorted), so
a run can be repeated and its results hash compared.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from operator import attrgetter
from typing import Any
from uuid import UUID

from events.errors import ensure
from reconciliation.domain import lumps
from reconciliation.domain.calendar import BankingCalendar
from reconciliation.domain.items import CREDIT, DEBIT, BankLine, ExpectedItem
from reconciliation.domain.references import codes_in_note, tokens
from reconciliation.domain.rules import MatchingRules
from schemas.codes import REFUND_PREFIX, canonical_code
from schemas.events.reconciliation_v1 import (
    Direction,
    ExceptionKind,
    MatchStage,
    ReconciliationException,
)

CONFIDENCE_EXACT = 100
BY_LINE_KEY = attrgetter("key")  # a sort key in C: a run sorts a million lines several times
CONFIDENCE_AMOUNT_DATE = 70


@dataclass(slots=True)
class MatchRecord:
    """A match as a run makes it: the fields of the `Match` contract in a plain slotted record.

    A run makes up to a million of them; building and dumping pydantic models cost a fifth of
    the run (measured), and a frozen dataclass's setup almost three times a plain one's
    (domain/items.py). Every field comes from validated lines and items, `build_match` holds
    the invariants the model's validator would check, and the run validates its matches against
    the contract as columns (`match_columns`, `SettlementsMatched` v2) before appending them.

    The fields are declared in alphabetical order on purpose: orjson writes a dataclass's fields
    in declaration order, so a record encodes exactly as its `Match` does with sorted keys, which
    is what a run's results fingerprint hashes (fingerprints.py).
    """

    bank_account: str
    clearing: str
    confidence: int
    direction: Direction
    fee_minor: int
    gross_minor: int
    item_ids: list[UUID]
    line_keys: list[str]
    net_minor: int
    stage: MatchStage


MATCH_FIELDS = tuple(record_field.name for record_field in fields(MatchRecord))


def match_columns(matches: Sequence[MatchRecord]) -> dict[str, list[Any]]:
    """The matches as one list per field: the shape `SettlementsMatched` v2 records them in."""
    return {name: [getattr(match, name) for match in matches] for name in MATCH_FIELDS}


@dataclass(frozen=True)
class DayInputs:
    bank_account: str
    business_date: date
    lines: Sequence[BankLine]  # the account's open lines booked on the day
    items: Sequence[ExpectedItem]  # open items routed to the account, due on the day or before
    settled_references: Mapping[str, UUID]  # references of items settled earlier -> item
    matched_bank_references: frozenset[str]  # bank references of lines matched earlier


@dataclass(frozen=True)
class DayOutcome:
    matches: list[MatchRecord]
    exceptions: list[ReconciliationException]


@dataclass
class _Work:
    inputs: DayInputs
    rules: MatchingRules
    open_lines: dict[str, BankLine]
    open_items: dict[UUID, ExpectedItem]
    by_reference: dict[str, UUID | None]  # None: two open items share the reference
    settled: dict[str, UUID]  # references of items settled by earlier runs
    matches: list[MatchRecord] = field(default_factory=list)
    exceptions: dict[str, ReconciliationException] = field(default_factory=dict)
    claims: dict[UUID, list[tuple[BankLine, int]]] = field(default_factory=dict)

    def settle(
        self, stage: MatchStage, confidence: int, lines: list[BankLine], items: list[ExpectedItem]
    ) -> None:
        self.matches.append(build_match(stage, confidence, lines, items))
        for line in lines:
            del self.open_lines[line.key]
        for item in items:
            del self.open_items[item.facts.item_id]

    def flag(
        self,
        kind: ExceptionKind,
        amount_minor: int,
        dated_on: date,
        detail: str,
        lines: Iterable[BankLine] = (),
        items: Iterable[ExpectedItem] = (),
    ) -> None:
        line_list, item_list = list(lines), list(items)
        subject = line_list[0].key if line_list else str(item_list[0].item_id)
        self.exceptions[f"{kind.value}:{subject}"] = ReconciliationException(
            key=f"{kind.value}:{subject}",
            kind=kind,
            amount_minor=amount_minor,
            dated_on=dated_on,
            line_keys=sorted(line.key for line in line_list),
            item_ids=sorted(item.item_id for item in item_list),
            detail=detail[:300],
        )
        for line in line_list:
            self.open_lines.pop(line.key, None)


def build_match(
    stage: MatchStage, confidence: int, lines: list[BankLine], items: list[ExpectedItem]
) -> MatchRecord:
    """The match of these lines and items, with the contract's invariants checked."""
    if len(lines) == 1 and len(items) == 1:  # most matches: no sets, no sorting
        line, facts = lines[0], items[0].facts
        direction, net, gross = line.direction, line.amount_minor, facts.amount_minor
        ensure(direction is facts.direction, "a match mixes credits and debits")
        ensure(0 < net <= gross, "a match for more than its item")
        ensure(direction is CREDIT or net == gross, "a debit fee")
        # Positional, in MatchRecord's (alphabetical) field order: a run builds a million.
        return MatchRecord(
            line.bank_account, facts.clearing, confidence, direction, gross - net, gross,
            [facts.item_id], [line.key], net, stage,
        )  # fmt: skip
    clearings = {item.facts.clearing for item in items}
    ensure(len(clearings) == 1, f"a match mixes clearing accounts {sorted(clearings)}")
    directions = {line.direction for line in lines} | {item.facts.direction for item in items}
    ensure(len(directions) == 1, "a match mixes credits and debits")
    net = sum(line.amount_minor for line in lines)
    gross = sum(item.amount_minor for item in items)
    ensure(0 < net <= gross, f"a match of {net} VND against items of {gross} VND")
    direction = directions.pop()
    ensure(direction is CREDIT or net == gross, "a debit match carries a fee")
    return MatchRecord(
        stage=stage,
        confidence=confidence,
        direction=direction,
        bank_account=lines[0].bank_account,
        line_keys=sorted(line.key for line in lines),
        item_ids=sorted(item.item_id for item in items),
        clearing=clearings.pop(),
        gross_minor=gross,
        fee_minor=gross - net,
        net_minor=net,
    )


def _reference_index(items: Iterable[ExpectedItem]) -> dict[str, UUID | None]:
    index: dict[str, UUID | None] = {}
    for item in items:
        facts = item.facts
        item_id = facts.item_id
        for reference in facts.references:
            index[reference] = None if reference in index else item_id
    return index


def _settled_direction(reference: str) -> Direction:
    """Which way the money of the settled item a reference names moved. A refund is known to
    reconciliation by its refund code alone (items.item_facts), so a refund code names money
    paid out; every other reference names money received."""
    is_refund = reference.startswith(REFUND_PREFIX) and canonical_code(reference) == reference
    return DEBIT if is_refund else CREDIT


def _item_of(work: _Work, line: BankLine, reference: str) -> UUID | None:
    """The open item a reference names, else the settled one (under rules that leave debits
    citing a settled payment to a person, only one that moved money the line's way)."""
    open_item = work.by_reference.get(reference)
    if open_item is not None:
        return open_item
    settled = work.settled.get(reference)
    if settled is None:
        return None
    if work.rules.settled_cited_the_other_way == "duplicate":
        return settled
    return settled if _settled_direction(reference) is line.direction else None


def _cited_the_other_way(work: _Work, line: BankLine) -> UUID | None:
    """A settled item the line cites whose money moved the other way, if any. A refund paid
    out often cites the payment it gives back ("HOAN TIEN TT…"), but so may a reversal: the
    citation says which payment, not which refund, so the line goes to a person rather than
    to whatever refund has the same amount (and likewise a credit citing a paid-out refund)."""
    if work.rules.settled_cited_the_other_way != "to_person":
        return None
    references = tokens(line.end_to_end_id, line.remittance_info)
    minimum = work.rules.note_confidence_min
    references.update(
        hit.code for hit in codes_in_note(line.remittance_info) if hit.confidence >= minimum
    )
    if any(reference in work.by_reference for reference in references):
        return None  # it names open items (several, or the other way): not a citation alone
    for reference in sorted(references):
        settled = work.settled.get(reference)
        if settled is not None and _settled_direction(reference) is not line.direction:
            return settled
    return None


def _named_item(work: _Work, line: BankLine) -> tuple[UUID | None, MatchStage, int]:
    """The one open or settled item a line names, how it was found, and with what confidence."""
    direct = (line.end_to_end_id or "").upper()
    if direct and (item_id := work.by_reference.get(direct)):
        return item_id, MatchStage.EXACT_REFERENCE, CONFIDENCE_EXACT
    named = {
        item_id
        for token in tokens(line.end_to_end_id, line.remittance_info)
        if (item_id := _item_of(work, line, token)) is not None
    }
    if len(named) == 1:
        return named.pop(), MatchStage.EXACT_REFERENCE, CONFIDENCE_EXACT
    if named:
        return None, MatchStage.EXACT_REFERENCE, 0  # names several items: leave to a person
    found: dict[UUID, int] = {}  # every item the note's codes name, with its best confidence
    for hit in codes_in_note(line.remittance_info):
        if hit.confidence < work.rules.note_confidence_min:
            break
        item_id = _item_of(work, line, hit.code)
        if item_id is not None:
            found.setdefault(item_id, hit.confidence)
    if len(found) == 1:
        [(item_id, confidence)] = found.items()
        return item_id, MatchStage.TRANSFER_NOTE, confidence
    return None, MatchStage.EXACT_REFERENCE, 0  # none, or several: leave to a person


def _by_reference(work: _Work) -> None:
    """Stages 1 and 2, plus duplicates: lines naming an item that is already settled."""
    for line in sorted(work.open_lines.values(), key=BY_LINE_KEY):
        item_id, stage, confidence = _named_item(work, line)
        if item_id is None:
            if (cited := _cited_the_other_way(work, line)) is not None:
                work.flag(
                    ExceptionKind.UNMATCHED_BANK_LINE,
                    line.amount_minor,
                    line.booking_date,
                    f"{line.direction.value} citing settled item {cited}, whose money moved "
                    "the other way: a refund or a reversal of it",
                    lines=[line],
                )
            continue
        item = work.open_items.get(item_id)
        if item is None:  # settled by an earlier run, or by an earlier line of this one
            _names_a_settled_item(work, line, item_id)
            continue
        facts = item.facts
        if facts.direction is not line.direction:
            continue
        if line.amount_minor == facts.amount_minor:
            work.settle(stage, confidence, [line], [item])
        else:
            work.claims.setdefault(item_id, []).append((line, confidence))


def _names_a_settled_item(work: _Work, line: BankLine, item_id: UUID) -> None:
    work.flag(
        ExceptionKind.DUPLICATE_SETTLEMENT,
        line.amount_minor,
        line.booking_date,
        f"names an item that is already settled ({item_id})",
        lines=[line],
    )


def _split_credits(work: _Work) -> None:
    """Stage 3: claims on one item that add up to it; claims that do not are amount mismatches."""
    for item_id, claims in sorted(work.claims.items(), key=lambda pair: str(pair[0])):
        item = work.open_items.get(item_id)
        lines = [line for line, _ in claims if line.key in work.open_lines]
        if item is None:  # settled by another line meanwhile: these cannot also pay it
            for line in lines:
                _names_a_settled_item(work, line, item_id)
            continue
        if not lines:
            continue
        if len(lines) >= 2 and sum(line.amount_minor for line in lines) == item.amount_minor:
            confidence = min(confidence for _, confidence in claims)
            work.settle(MatchStage.SPLIT_CREDITS, confidence, lines, [item])
            continue
        for line in lines:
            work.flag(
                ExceptionKind.AMOUNT_MISMATCH,
                line.amount_minor,
                line.booking_date,
                f"names an item of {item.amount_minor} VND but carries {line.amount_minor} VND",
                lines=[line],
                items=[item],
            )


def _repeated_bank_entries(work: _Work) -> None:
    """A bank entry seen before (same bank reference on this account) is a duplicate."""
    seen = set(work.inputs.matched_bank_references)
    for line in sorted(work.open_lines.values(), key=BY_LINE_KEY):
        if line.bank_reference in seen:
            work.flag(
                ExceptionKind.DUPLICATE_SETTLEMENT,
                line.amount_minor,
                line.booking_date,
                f"bank reference {line.bank_reference} was already booked",
                lines=[line],
            )
        seen.add(line.bank_reference)


def _by_amount_and_date(work: _Work, calendar: BankingCalendar) -> None:
    """Stage 5: only where exactly one line and one item share an amount within the window."""
    day, window = work.inputs.business_date, work.rules.amount_date_window_banking_days
    lines_by_amount: dict[tuple[Direction, int], list[BankLine]] = defaultdict(list)
    items_by_amount: dict[tuple[Direction, int], list[ExpectedItem]] = defaultdict(list)
    distance: dict[date, int] = {}
    for line in work.open_lines.values():
        lines_by_amount[(line.direction, line.amount_minor)].append(line)
    for item in work.open_items.values():
        if item.route.lump or item.taken_on > day:
            continue
        if item.due_on not in distance:
            distance[item.due_on] = abs(calendar.banking_days_between(item.due_on, day))
        if distance[item.due_on] <= window:
            items_by_amount[(item.facts.direction, item.amount_minor)].append(item)
    for key in sorted(lines_by_amount.keys() & items_by_amount.keys()):
        lines, items = lines_by_amount[key], items_by_amount[key]
        if len(lines) == 1 and len(items) == 1:
            stage = MatchStage.REFUND_DEBIT if key[0] is Direction.DEBIT else MatchStage.AMOUNT_DATE
            work.settle(stage, CONFIDENCE_AMOUNT_DATE, lines, items)


def _leftovers(work: _Work) -> None:
    day = work.inputs.business_date
    for line in sorted(work.open_lines.values(), key=BY_LINE_KEY):
        work.flag(
            ExceptionKind.UNMATCHED_BANK_LINE,
            line.amount_minor,
            line.booking_date,
            f"{line.direction.value} {line.bank_reference}: no payment or refund found",
            lines=[line],
        )
    flagged = {item_id for exc in work.exceptions.values() for item_id in exc.item_ids}
    for item in sorted(work.open_items.values(), key=lambda item: str(item.item_id)):
        if item.due_on > day or item.item_id in flagged:
            continue
        refund = item.facts.direction is Direction.DEBIT
        work.flag(
            ExceptionKind.REFUND_NOT_SETTLED if refund else ExceptionKind.NOT_SETTLED,
            item.amount_minor,
            item.due_on,
            f"{item.facts.kind.value} via {item.facts.clearing} due on {item.due_on}, not at bank",
            items=[item],
        )


def match_day(inputs: DayInputs, rules: MatchingRules, calendar: BankingCalendar) -> DayOutcome:
    ensure(
        all(line.bank_account == inputs.bank_account for line in inputs.lines),
        "a line of another bank account was given to match_day",
    )
    work = _Work(
        inputs=inputs,
        rules=rules,
        open_lines={line.key: line for line in inputs.lines},
        open_items={item.facts.item_id: item for item in inputs.items},
        by_reference=_reference_index(inputs.items),
        settled=dict(inputs.settled_references),
    )
    # A bank entry seen twice (the same day imported in two formats) is set aside first, so
    # its copies cannot add up to one payment as split credits.
    _repeated_bank_entries(work)
    _by_reference(work)
    _split_credits(work)
    for line_group, item_group, stage_outcome in lumps.match_lumps(
        work.open_lines.values(), work.open_items.values(), rules, inputs.business_date
    ):
        if stage_outcome.matched:
            work.settle(MatchStage.GATEWAY_LUMP, stage_outcome.confidence, line_group, item_group)
        else:
            work.flag(
                stage_outcome.exception_kind,
                line_group[0].amount_minor,
                line_group[0].booking_date,
                stage_outcome.detail,
                lines=line_group,
                items=item_group,
            )
    _by_amount_and_date(work, calendar)
    _leftovers(work)
    return DayOutcome(work.matches, sorted(work.exceptions.values(), key=lambda e: e.key))
