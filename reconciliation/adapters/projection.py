"""The reconciliation read model as a catch-up projection of the event store.

Payment events become expected items; statement imports become bank lines; runs and decisions
become matches, exceptions, decisions and day status. Bulk rows (items, lines, matches) are
buffered and written with COPY; before any event whose effect depends on earlier rows (an undo,
a new exception list, a decision, a close) the buffers are flushed, so the batch applies in the
order the events were recorded. Replaying from position 0 into an empty schema rebuilds it.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from typing import Any

import asyncpg

from events.registry import EventRegistry
from events.sqlfiles import load_statements
from reconciliation.domain.items import item_facts
from schemas.envelope import EventEnvelope, EventPayload, Payload
from schemas.events.reconciliation_v1 import (
    DayClosed,
    DayReopened,
    DecisionApproved,
    DecisionProposed,
    DecisionRejected,
    ExceptionsRaised,
    MatchRunCompleted,
    MatchUndone,
    SettlementFileImported,
)

SQL = load_statements("reconciliation.adapters.sql", "reconciliation.sql")
PROJECTION_NAME = "reconciliation"
ITEM_EVENT_TYPES = {
    "PaymentCaptured", "RefundIssued", "GatewayCallbackFlagged", "FlaggedMoneyRefunded",
}  # fmt: skip
RECONCILIATION_EVENT_TYPES = {
    "SettlementFileImported",
    "SettlementLinesRecorded",
    "SettlementsMatched",
    "MatchUndone",
    "ExceptionsRaised",
    "MatchRunCompleted",
    "DecisionProposed",
    "DecisionApproved",
    "DecisionRejected",
    "DayClosed",
    "DayReopened",
}
ITEM_COLUMNS = (
    "item_id",
    "kind",
    "amount_minor",
    "clearing_kind",
    "clearing_qualifier",
    "occurred_at",
    "reference_codes",
    "position",
)
LINE_COLUMNS = (
    "line_key",
    "file_id",
    "line_no",
    "location",
    "bank_account",
    "booking_date",
    "value_date",
    "amount_minor",
    "direction",
    "bank_reference",
    "end_to_end_id",
    "remittance_info",
    "counterparty",
    "position",
)
MATCH_COLUMNS = (
    "match_key",
    "bank_account",
    "business_date",
    "stage",
    "confidence",
    "direction",
    "clearing",
    "gross_minor",
    "fee_minor",
    "net_minor",
    "run_id",
    "decision_id",
    "position",
    "line_keys",
    "item_ids",
)


Stored = tuple[Payload, int]  # a bulk event's stored payload and its position


@dataclass
class _Buffers:
    """Rows waiting for COPY. Statement lines and matches wait as their events: their rows are
    made while COPY sends them, so PostgreSQL inserts one batch while Python makes the next
    (asyncpg reads the rows as it writes, and waits whenever the server falls behind)."""

    items: list[tuple[Any, ...]] = field(default_factory=list)
    references: list[tuple[Any, ...]] = field(default_factory=list)
    line_events: list[Stored] = field(default_factory=list)
    match_events: list[Stored] = field(default_factory=list)

    async def flush(self, connection: asyncpg.Connection) -> None:
        copies: list[tuple[str, tuple[str, ...], Iterable[tuple[Any, ...]]]] = []
        if self.items:
            copies.append(("recon_items", ITEM_COLUMNS, self.items))
        if self.references:
            copies.append(("recon_item_references", ("reference", "item_id"), self.references))
        if self.line_events:
            copies.append(("recon_lines", LINE_COLUMNS, _line_rows(self.line_events)))
        if self.match_events:
            events = self.match_events
            copies.append(("recon_matches", MATCH_COLUMNS, _match_rows(events)))
            lines, items = _members(events, "line_keys"), _members(events, "item_ids")
            copies.append(("recon_match_lines", ("line_key", "match_key", "position"), lines))
            copies.append(("recon_match_items", ("item_id", "match_key", "position"), items))
        for table, columns, rows in copies:
            await connection.copy_records_to_table(table, records=rows, columns=columns)
        self.items, self.references, self.line_events, self.match_events = [], [], [], []


# The rows below come from the stored payloads as they are: each was validated against its
# model when it was appended, and the hash chain proves it unchanged since; validating a
# thousand lines or matches per event again would cost more than writing them. (asyncpg takes
# UUID text for uuid columns.)


def _match_key(position: int, index: int) -> str:
    """A match's key in the read model: its event's position and its index in that event."""
    return f"{position}.{index}"


STORED_MATCH_FIELDS = (
    "stage", "confidence", "direction", "clearing", "gross_minor", "fee_minor", "net_minor",
    "line_keys", "item_ids",
)  # fmt: skip
_stored_match_fields = itemgetter(*STORED_MATCH_FIELDS)


def _stored_matches(payload: Payload) -> Iterator[tuple[Any, ...]]:
    """(stage, confidence, direction, clearing, gross, fee, net, line keys, item ids) of each
    match of a stored `SettlementsMatched`: v1 holds a list of match objects, v2 an object of
    equal-length columns."""
    matches = payload["matches"]
    if isinstance(matches, dict):  # v2
        yield from zip(*(matches[name] for name in STORED_MATCH_FIELDS), strict=True)
        return
    yield from map(_stored_match_fields, matches)


def _match_rows(events: list[Stored]) -> Iterator[tuple[Any, ...]]:
    for payload, position in events:
        account, day = payload["bank_account"], date.fromisoformat(payload["business_date"])
        run_id, decision_id = payload.get("run_id"), payload.get("decision_id")
        for index, match in enumerate(_stored_matches(payload)):
            stage, confidence, direction, clearing, gross, fee, net, line_keys, item_ids = match
            yield (
                _match_key(position, index), account, day, stage, confidence, direction,
                clearing, gross, fee, net, run_id, decision_id, position, line_keys, item_ids,
            )  # fmt: skip


def _members(events: list[Stored], field_name: str) -> Iterator[tuple[Any, ...]]:
    """One row per member ("line_keys" or "item_ids") of each match, keyed as _match_rows
    keys the match."""
    column = STORED_MATCH_FIELDS.index(field_name)
    for payload, position in events:
        for index, match in enumerate(_stored_matches(payload)):
            key = _match_key(position, index)
            for member in match[column]:
                yield (member, key, position)


def _line_rows(events: list[Stored]) -> Iterator[tuple[Any, ...]]:
    for payload, position in events:
        file_id = payload["file_id"]
        for line in payload["lines"]:
            booking = date.fromisoformat(line["booking_date"])
            value = line["value_date"]
            yield (
                f"{file_id}:{line['line_no']}",
                file_id,
                line["line_no"],
                line["location"],
                line["bank_account"],
                booking,
                booking if value == line["booking_date"] else date.fromisoformat(value),
                line["amount_minor"],
                line["direction"],
                line["bank_reference"],
                line.get("end_to_end_id"),
                line.get("remittance_info"),
                line.get("counterparty"),
                position,
            )


Rows = list[tuple[Any, ...]]


def _writes(event: EventPayload, position: int, occurred_at: datetime) -> list[tuple[str, Rows]]:
    """(statement, rows) pairs an event writes, in order. Pure: the SQL is in reconciliation.sql."""
    match event:
        case SettlementFileImported():
            return [("insert_file", [(
                event.file_id, event.content_sha256, event.file_name, event.format.value,
                event.mapping, event.line_count, event.credit_total_minor,
                event.debit_total_minor, event.imported_by, event.imported_at, position,
            )])]  # fmt: skip
        case MatchUndone():
            return [("undo_match", [(event.match.line_keys[0], position)])]
        case ExceptionsRaised():
            day = (event.bank_account, event.business_date)
            supersede = [("supersede_exceptions", [(*day, position)])] if event.chunk == 1 else []
            return [*supersede, ("insert_exception", [
                (*day, e.key, e.kind.value, e.amount_minor, e.dated_on, e.line_keys, e.item_ids,
                 e.detail, event.run_id, position)
                for e in event.exceptions
            ])]  # fmt: skip
        case MatchRunCompleted():
            return [("insert_run", [(
                event.run_id, event.bank_account, event.business_date, event.rules_version,
                event.as_of_position, event.inputs_sha256, event.results_sha256,
                event.matched_line_count, event.exception_count, event.run_by,
                event.completed_at, position,
            )]), ("touch_day", [(event.bank_account, event.business_date, position)])]  # fmt: skip
        case DecisionProposed():
            status = "pending" if event.needs_approval else "applied"
            return [("insert_decision", [(
                event.decision_id, event.bank_account, event.business_date, event.kind.value,
                event.amount_minor, event.match.model_dump(mode="json"), event.reason,
                event.proposed_by, event.needs_approval, status, position,
            )])]  # fmt: skip
        case DecisionApproved():
            decided = (event.decision_id, "applied", event.approved_by, event.reason, position)
            return [("decide", [decided])]
        case DecisionRejected():
            decided = (event.decision_id, "rejected", event.rejected_by, event.reason, position)
            return [("decide", [decided])]
        case DayClosed():
            closed = (event.bank_account, event.business_date, event.closed_by, occurred_at)
            return [("close_day", [(*closed, position)])]
        case DayReopened():
            return [("reopen_day", [(event.bank_account, event.business_date, position)])]
    return []


class ReconciliationProjection:
    name = PROJECTION_NAME

    def __init__(self, registry: EventRegistry) -> None:
        self._registry = registry

    def wants(self, event_type: str) -> bool:
        return event_type in ITEM_EVENT_TYPES or event_type in RECONCILIATION_EVENT_TYPES

    async def apply(self, connection: asyncpg.Connection, events: list[EventEnvelope]) -> None:
        await self.apply_parsed(connection, [(envelope, None) for envelope in events])

    async def apply_parsed(
        self, connection: asyncpg.Connection,
        events: Sequence[tuple[EventEnvelope, EventPayload | None]],
    ) -> None:  # fmt: skip
        """Apply events whose payloads the caller may have parsed already (None: parsed here
        when needed; statement lines and matches are copied from the raw payload)."""
        buffers = _Buffers()
        for envelope, parsed in events:
            position = envelope.position
            if envelope.event_type == "SettlementLinesRecorded":
                buffers.line_events.append((envelope.payload, position))
                continue
            if envelope.event_type == "SettlementsMatched":
                buffers.match_events.append((envelope.payload, position))
                continue
            event = parsed if parsed is not None else self._registry.parse(envelope)
            if envelope.event_type in ITEM_EVENT_TYPES:
                facts = item_facts(event, envelope.occurred_at)
                if facts is not None:
                    buffers.items.append(
                        (
                            facts.item_id,
                            facts.kind.value,
                            facts.amount_minor,
                            facts.clearing_kind,
                            facts.clearing_qualifier,
                            facts.occurred_at,
                            list(facts.references),
                            position,
                        )
                    )
                    buffers.references.extend((r, facts.item_id) for r in facts.references)
            else:
                await buffers.flush(connection)
                for statement, rows in _writes(event, position, envelope.occurred_at):
                    if rows:
                        await connection.executemany(SQL[statement], rows)
        await buffers.flush(connection)
