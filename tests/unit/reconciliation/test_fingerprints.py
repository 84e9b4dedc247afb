"""Proves a run's inputs and results fingerprints are the SHA-256 of the documented JSON documents,
built here independently with every value converted by hand (isoformat, enum value, str of the
UUID, keys sorted): the fast paths that let orjson convert them (and write match records in their
declaration order) must give the same bytes, or past runs stop verifying."""

import hashlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from asyncpg.pgproto.pgproto import UUID as PgUuid

from reconciliation.domain import fingerprints
from reconciliation.domain.fingerprints import inputs_sha256, results_sha256
from reconciliation.domain.items import ItemKind
from reconciliation.domain.matching import DayInputs, MatchRecord
from schemas.events.reconciliation_v1 import Direction, MatchStage
from tests.unit.reconciliation.recon_factories import item, line


def documented_sha256(inputs: DayInputs, rules: str) -> str:
    lines = sorted(
        [x.key, x.booking_date.isoformat(), x.amount_minor, x.direction.value, x.bank_reference,
         x.end_to_end_id, x.remittance_info, x.counterparty]
        for x in inputs.lines
    )  # fmt: skip
    items = sorted(
        [str(x.item_id), x.facts.kind.value, x.amount_minor, x.facts.clearing,
         x.facts.occurred_at.isoformat(), list(x.facts.references)]
        for x in inputs.items
    )  # fmt: skip
    document = {
        "bank_account": inputs.bank_account,
        "business_date": inputs.business_date.isoformat(),
        "rules": rules,
        "lines": lines,
        "items": items,
        "settled_references": sorted([k, str(v)] for k, v in inputs.settled_references.items()),
        "matched_bank_references": sorted(inputs.matched_bank_references),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def awkward_inputs() -> DayInputs:
    """Values whose conversions differ most easily: microseconds present and absent, an offset
    other than UTC, UUIDs whose text and number orders could disagree, asyncpg's own UUID type,
    None fields, Vietnamese text, debits, an item with no references."""
    hanoi = timezone(timedelta(hours=7))
    moments = [
        datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 3, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 11, 24, 23, 59, 59, 999999, tzinfo=hanoi),
    ]
    ids = [uuid.UUID(int=n) for n in (0xF << 124, 0xA << 124, 9, 0xFFFF)] + [uuid.uuid4()]
    ids[3] = PgUuid(str(ids[3]))  # what asyncpg returns for a uuid column (a UUID subclass)
    items = [
        item(1000 * (n + 1), at=moments[n % 3], item_id=identifier,
             references=() if n == 2 else (f"REF{n}", f"HS-{n}"),
             kind=ItemKind.REFUND if n == 1 else ItemKind.PAYMENT)
        for n, identifier in enumerate(ids)
    ]  # fmt: skip
    lines = [
        line(5000, note="Nộp phí hồ sơ HS 123", counterparty="NGUYỄN VĂN A"),
        line(7000, direction=Direction.DEBIT, end_to_end_id="E2E-1"),
        line(9000, booked_on=date(2026, 11, 24), bank_reference="FT-Ω"),
    ]
    return DayInputs(
        "0011001234567", date(2026, 11, 25), lines[::-1], items,
        {"HS-OLD": ids[-1], "PAY-1": ids[0]}, frozenset({"FT2", "FT1"}),
    )  # fmt: skip


def test_the_fingerprint_is_the_documented_documents_sha256() -> None:
    inputs = awkward_inputs()
    assert inputs_sha256(inputs, "rules-v3") == documented_sha256(inputs, "rules-v3")


@pytest.mark.parametrize("piece", [1, 2, 3, 4, 5, 6])
def test_the_document_hashed_in_pieces_is_the_whole_documents(
    monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    """Arrays are encoded a piece at a time: every cut (before, at and past each array's end;
    empty arrays too) must give the bytes of the document written whole."""
    monkeypatch.setattr(fingerprints, "ELEMENTS_PER_PIECE", piece)
    inputs = awkward_inputs()
    assert inputs_sha256(inputs, "rules-v3") == documented_sha256(inputs, "rules-v3")
    no_references = DayInputs(
        inputs.bank_account, inputs.business_date, inputs.lines, inputs.items, {}, frozenset()
    )
    assert inputs_sha256(no_references, "r") == documented_sha256(no_references, "r")
    exceptions = [{"key": f"k{n}", "detail": "Nộp phí"} for n in range(piece + 1)]
    whole = json.dumps({"exceptions": exceptions, "matches": []}, sort_keys=True,
                       separators=(",", ":"), ensure_ascii=False)  # fmt: skip
    assert results_sha256([], exceptions) == hashlib.sha256(whole.encode("utf-8")).hexdigest()


def test_the_fingerprint_changes_with_any_input() -> None:
    inputs = awkward_inputs()
    moved = DayInputs(
        inputs.bank_account, inputs.business_date, inputs.lines[1:], inputs.items,
        inputs.settled_references, inputs.matched_bank_references,
    )  # fmt: skip
    assert inputs_sha256(moved, "rules-v3") != inputs_sha256(inputs, "rules-v3")
    assert inputs_sha256(inputs, "rules-v4") != inputs_sha256(inputs, "rules-v3")


def test_the_results_fingerprint_is_the_documented_documents_sha256() -> None:
    """Matches as the `Match` contract's JSON with sorted keys, as every run recorded them: item
    ids of asyncpg's UUID type (what the read model returns), a lump of several lines and items,
    a write-off without items, Vietnamese text in an exception."""
    file_id = uuid.uuid4()
    records = [
        MatchRecord(
            bank_account="0011001234567", clearing="gateway:VNPAY", confidence=100,
            direction=Direction.CREDIT, fee_minor=1_100, gross_minor=100_000,
            item_ids=[PgUuid(str(uuid.uuid4())), uuid.uuid4()],
            line_keys=[f"{file_id}:1", f"{file_id}:2"], net_minor=98_900,
            stage=MatchStage.GATEWAY_LUMP,
        ),
        MatchRecord(
            bank_account="0011001234567", clearing="suspense:UNIDENTIFIED", confidence=100,
            direction=Direction.DEBIT, fee_minor=0, gross_minor=7_000, item_ids=[],
            line_keys=[f"{file_id}:3"], net_minor=7_000, stage=MatchStage.WRITE_OFF,
        ),
    ]  # fmt: skip
    exceptions = [{"key": "unmatched_bank_line:x", "detail": "Nộp phí, không rõ hồ sơ"}]
    matches = [
        {"bank_account": r.bank_account, "clearing": r.clearing, "confidence": r.confidence,
         "direction": r.direction.value, "fee_minor": r.fee_minor, "gross_minor": r.gross_minor,
         "item_ids": [str(i) for i in r.item_ids], "line_keys": r.line_keys,
         "net_minor": r.net_minor, "stage": r.stage.value}
        for r in records
    ]  # fmt: skip
    text = json.dumps(
        {"matches": matches, "exceptions": exceptions},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip
    documented = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert results_sha256(records, exceptions) == documented
    assert results_sha256(records[:1], exceptions) != documented
