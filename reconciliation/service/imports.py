"""Importing a bank statement: all of it or nothing, once per file content.

The parsed file becomes one `SettlementFileImported` event and its lines in chunks, appended in
one transaction together with a command receipt keyed by the file's SHA-256: importing the same
bytes again (even concurrently) is answered with the first import and writes nothing. The
closed-day check and the append run under the settlement lock, which a close also takes.
"""

from dataclasses import dataclass
from uuid import UUID

import orjson

from events.errors import DuplicateCommandError
from events.store.ports import NO_STREAM, AppendRequest, CommandReceipt
from reconciliation.domain.errors import DayClosedError
from reconciliation.domain.statement_lines import StatementLines
from reconciliation.service.context import Actor, Dumped, Reconciler, new_events
from schemas.events.reconciliation_v1 import (
    SettlementFileImported,
    SettlementLinesRecorded,
    StatementFormat,
)

IMPORT_SCOPE = "settlement-import"
IMPORT_LINES_MAX = 2_000_000


@dataclass(frozen=True)
class StatementUpload:
    file_name: str
    format: StatementFormat
    mapping: str | None
    parser_version: str
    content_sha256: str
    lines: StatementLines


@dataclass(frozen=True)
class ImportOutcome:
    file_id: UUID
    line_count: int
    already_imported: bool


async def find_import(reconciler: Reconciler, content_sha256: str) -> ImportOutcome | None:
    await reconciler.read_model.catch_up()
    known = await reconciler.read_model.file_by_hash(content_sha256)
    if known is None:
        return None
    return ImportOutcome(known.file_id, known.line_count, already_imported=True)


def _header(
    upload: StatementUpload, file_id: UUID, officer: str, reconciler: Reconciler
) -> SettlementFileImported:
    figures = upload.lines.figures
    return SettlementFileImported(
        file_id=file_id,
        file_name=upload.file_name,
        format=upload.format,
        mapping=upload.mapping,
        parser_version=upload.parser_version,
        content_sha256=upload.content_sha256,
        bank_accounts=list(figures.bank_accounts),
        first_booking_date=figures.first_booking_date,
        last_booking_date=figures.last_booking_date,
        line_count=figures.line_count,
        credit_total_minor=figures.credit_total_minor,
        debit_total_minor=figures.debit_total_minor,
        imported_by=officer,
        imported_at=reconciler.clock.now(),
    )


async def _refuse_closed_days(reconciler: Reconciler, lines: StatementLines) -> None:
    """A closed day stays as it was closed: lines booked on it come in only after a reopening,
    which is itself recorded with its reason."""
    closed = await reconciler.read_model.closed_days(sorted(lines.days))
    if closed:
        account, day = closed[0]
        raise DayClosedError(
            f"the statement has lines booked on {day} for account {account}, a closed day: "
            "reopen it first (nothing was imported)",
            bank_account=account,
            business_date=day.isoformat(),
        )


async def import_statement(
    reconciler: Reconciler, actor: Actor, upload: StatementUpload
) -> ImportOutcome:
    known = await find_import(reconciler, upload.content_sha256)
    if known is not None:
        return known
    line_count = upload.lines.figures.line_count
    if not 1 <= line_count <= IMPORT_LINES_MAX:
        raise ValueError(f"a statement holds 1..{IMPORT_LINES_MAX} lines, got {line_count}")
    # Under the settlement lock, as a close is: a day closed after the check below and before
    # the append would otherwise take the statement's lines while closed.
    async with reconciler.settlement_lock.held():
        await reconciler.read_model.catch_up()
        await _refuse_closed_days(reconciler, upload.lines)
        return await _append_import(reconciler, actor, upload)


async def _append_import(
    reconciler: Reconciler, actor: Actor, upload: StatementUpload
) -> ImportOutcome:
    file_id = reconciler.ids.next()
    line_count = upload.lines.figures.line_count
    chunks = [
        Dumped(
            SettlementLinesRecorded,
            {"file_id": str(file_id), "chunk": number + 1, "lines": orjson.Fragment(lines)},
            validated=True,  # every line validated when parsed; the rest is built here
        )
        for number, lines in enumerate(upload.lines.encoded_chunks)
    ]
    header = _header(upload, file_id, actor.officer, reconciler)
    events = new_events(reconciler, actor, [header, *chunks])
    receipt = CommandReceipt(
        scope=IMPORT_SCOPE,
        key=upload.content_sha256,
        request_hash=bytes.fromhex(upload.content_sha256),
        status_code=201,
        response={"file_id": str(file_id), "line_count": line_count},
    )
    try:
        await reconciler.store.append_batch(
            [AppendRequest(f"settlementfile-{file_id}", NO_STREAM, events)], receipt=receipt
        )
    except DuplicateCommandError:
        stored = await reconciler.store.find_receipt(IMPORT_SCOPE, upload.content_sha256)
        if stored is None:
            raise
        return ImportOutcome(
            UUID(str(stored.response["file_id"])), int(stored.response["line_count"]), True
        )
    await reconciler.read_model.catch_up()
    return ImportOutcome(file_id, line_count, already_imported=False)
