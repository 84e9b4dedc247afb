"""SHA-256 fingerprints of a run's inputs and results, so a re-run can be proven identical."""

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

import orjson

from events.chain import uuid_subclass_text
from reconciliation.domain.items import ItemFacts
from reconciliation.domain.matching import BY_LINE_KEY, DayInputs, DayOutcome, MatchRecord

ELEMENTS_PER_PIECE = 10_000


def _encoded(value: object) -> bytes:
    return orjson.dumps(value, default=uuid_subclass_text, option=orjson.OPT_SORT_KEYS)


def _pieces(elements: Iterable[Any]) -> Iterator[list[Any]]:
    iterator = iter(elements)
    while piece := list(islice(iterator, ELEMENTS_PER_PIECE)):
        yield piece


def _document_sha256(fields: dict[str, object], arrays: dict[str, Iterable[Any]]) -> str:
    """SHA-256 of the JSON document holding `fields` and `arrays` (as lists), keys sorted, as
    `_encoded` writes it whole, but written into the hash in pieces: orjson writes a list as "["
    + its elements joined by "," + "]", so each array is encoded ELEMENTS_PER_PIECE elements at
    a time and its elements are made only then. A million-line day's document (about 300 MB)
    is never held, nor its million element tuples."""
    sha = hashlib.sha256(b"{")
    for number, key in enumerate(sorted({*fields, *arrays})):
        sha.update((b"," if number else b"") + _encoded(key) + b":")
        if key in fields:
            sha.update(_encoded(fields[key]))
            continue
        sha.update(b"[")
        for index, piece in enumerate(_pieces(arrays[key])):
            sha.update((b"," if index else b"") + _encoded(piece)[1:-1])
        sha.update(b"]")
    sha.update(b"}")
    return sha.hexdigest()


def inputs_sha256(inputs: DayInputs, rules_fingerprint: str) -> str:
    """SHA-256 of the inputs as one JSON document (keys sorted): lines as [key, booking date,
    amount, direction, bank reference, end-to-end id, remittance info, counterparty] sorted by
    key; items as [item id, kind, amount, clearing, occurred at (ISO 8601), references] sorted
    by item id. orjson writes the dates, enums, UUIDs and tuples itself, exactly as their
    isoformat(), value, str() and lists would read: a million lines are not converted first."""
    lines = (
        (
            line.key,
            line.booking_date,
            line.amount_minor,
            line.direction,
            line.bank_reference,
            line.end_to_end_id,
            line.remittance_info,
            line.counterparty,
        )
        for line in sorted(inputs.lines, key=BY_LINE_KEY)
    )
    items = (
        (
            facts.item_id,
            facts.kind,
            facts.amount_minor,
            facts.clearing,
            facts.occurred_at,
            facts.references,
        )
        for facts in sorted((item.facts for item in inputs.items), key=_item_order)
    )
    return _document_sha256(
        {
            "bank_account": inputs.bank_account,
            "business_date": inputs.business_date.isoformat(),
            "rules": rules_fingerprint,
        },
        {
            "lines": lines,
            "items": items,
            "settled_references": sorted((k, str(v)) for k, v in inputs.settled_references.items()),
            "matched_bank_references": sorted(inputs.matched_bank_references),
        },
    )


def _item_order(facts: ItemFacts) -> int:
    """A UUID's number orders as its canonical text does (fixed width, lower-case hex)."""
    return facts.item_id.int


JsonRecords = list[dict[str, Any]]


def dumped_exceptions(outcome: DayOutcome) -> JsonRecords:
    """The exceptions as the JSON the run's events carry, dumped once for the events and the
    fingerprint."""
    return [exception.model_dump(mode="json") for exception in outcome.exceptions]


def results_sha256(matches: Sequence[MatchRecord], exceptions: JsonRecords) -> str:
    """SHA-256 of {"matches": [...], "exceptions": [...]} with every object's keys sorted. orjson
    writes each match record itself, its fields in their (alphabetical) declaration order, so the
    document is the one that every run recorded its matches' sorted-key JSON in."""
    return _document_sha256({}, {"matches": matches, "exceptions": exceptions})
