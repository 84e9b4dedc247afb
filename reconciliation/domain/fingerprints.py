"""SHA-256 fingerprints of a run's inputs and results, so a re-run can be proven identical."""

import hashlib
from typing import Any

import orjson

from reconciliation.domain.matching import DayInputs, DayOutcome


def _digest(value: object) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def inputs_sha256(inputs: DayInputs, rules_fingerprint: str) -> str:
    lines = sorted(
        (
            line.key,
            line.booking_date.isoformat(),
            line.amount_minor,
            line.direction.value,
            line.bank_reference,
            line.end_to_end_id,
            line.remittance_info,
            line.counterparty,
        )
        for line in inputs.lines
    )
    items = sorted(
        (
            str(item.item_id),
            item.facts.kind.value,
            item.amount_minor,
            item.facts.clearing,
            item.facts.occurred_at.isoformat(),
            list(item.facts.references),
        )
        for item in inputs.items
    )
    return _digest(
        {
            "bank_account": inputs.bank_account,
            "business_date": inputs.business_date.isoformat(),
            "rules": rules_fingerprint,
            "lines": lines,
            "items": items,
            "settled_references": sorted((k, str(v)) for k, v in inputs.settled_references.items()),
            "matched_bank_references": sorted(inputs.matched_bank_references),
        }
    )


JsonRecords = list[dict[str, Any]]


def dumped(outcome: DayOutcome) -> tuple[JsonRecords, JsonRecords]:
    """Matches and exceptions as the JSON the run's events carry, dumped once for both uses."""
    return (
        [match.to_json() for match in outcome.matches],
        [exception.model_dump(mode="json") for exception in outcome.exceptions],
    )


def results_sha256(matches: JsonRecords, exceptions: JsonRecords) -> str:
    return _digest({"matches": matches, "exceptions": exceptions})
