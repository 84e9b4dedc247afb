"""A statement file from its bytes to an import: hash first (a known file is answered without
parsing it again), then parse all of it (any error refuses the whole file; a large file is
parsed in worker processes), then import."""

import hashlib

from events.gc_pause import collector_paused
from reconciliation.adapters.statements import PARSER_VERSION, StatementError
from reconciliation.adapters.statements.csv_mapping import CsvMapping
from reconciliation.adapters.statements.parsing_processes import parse_for_import
from reconciliation.domain.statement_lines import StatementLines
from reconciliation.service.context import Actor, Reconciler
from reconciliation.service.imports import (
    ImportOutcome,
    StatementUpload,
    find_import,
    import_statement,
)
from schemas.events.reconciliation_v1 import StatementFormat


async def import_file(
    reconciler: Reconciler,
    actor: Actor,
    content: bytes,
    statement_format: StatementFormat,
    *,
    file_name: str,
    mapping_name: str | None,
    mappings: dict[str, CsvMapping],
) -> ImportOutcome:
    content_sha256 = hashlib.sha256(content).hexdigest()
    known = await find_import(reconciler, content_sha256)
    if known is not None:
        return known
    mapping = None
    if statement_format is StatementFormat.CSV:
        if mapping_name not in mappings:
            raise StatementError(
                "mapping", f"unknown CSV mapping {mapping_name!r}; known: {sorted(mappings)}"
            )
        mapping = mappings[mapping_name]
    lines = await parse_for_import(content, statement_format, mapping=mapping)
    with collector_paused():  # the lines become events and rows (events/gc_pause.py says why)
        return await _import(
            reconciler,
            actor,
            lines,
            statement_format,
            mapping_name if mapping else None,
            file_name,
            content_sha256,
        )


async def _import(
    reconciler: Reconciler,
    actor: Actor,
    lines: StatementLines,
    statement_format: StatementFormat,
    mapping_name: str | None,
    file_name: str,
    content_sha256: str,
) -> ImportOutcome:
    upload = StatementUpload(
        file_name=file_name,
        format=statement_format,
        mapping=mapping_name,
        parser_version=PARSER_VERSION,
        content_sha256=content_sha256,
        lines=lines,
    )
    return await import_statement(reconciler, actor, upload)
