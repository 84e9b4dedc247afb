"""Parsing a large statement file in worker processes: the service's event loop stays free, and
every core parses.

A file under PARSE_ELSEWHERE_BYTES_MIN is parsed at once, in this process (a few tenths of a
second at most). A larger one goes to worker processes forked from this one (events/forked.py
says why forked): a CSV file cut
into one piece per core (`csv_pieces`: each piece is the file's header and a run of whole
records), camt.053 and MT940 whole, in one worker. The talk with each worker has two turns,
because a line's number depends on how many lines the pieces before it hold:

1. the worker parses and validates its piece, and answers with its lines' figures (count,
   accounts, totals) and days, or with the StatementError it met;
2. told the number of its first line, it sends back each chunk as it encodes it, as a message
   of raw bytes: the canonical JSON its import stores.
   That costs next to nothing to send (sent as models, a million lines cost as much to send as
   to parse; as dicts, a second and more to unpickle and encode here), and neither side ever
   holds a message of all its lines (one such message was copied three times on its way in).

Errors are the file's first, as a parse in one piece reports them: if any piece fails, or the
pieces together break a whole-file rule (entries, accounts), the whole file is parsed again in
one worker, which reports the error. A piece can end cleanly only at a true record end (the CSV
reader is strict: a piece cut inside a quoted cell ends with "unexpected end of data"), so
pieces that all parse read the file exactly as one parse would.
"""

import asyncio
import math
import os
from collections.abc import Sequence
from multiprocessing.connection import Connection

from events.forked import ForkedChild
from events.gc_pause import collector_paused
from reconciliation.adapters.statements.common import ENTRY_COUNT_MAX, StatementError
from reconciliation.adapters.statements.csv_mapping import CsvMapping
from reconciliation.adapters.statements.csv_statement import csv_pieces, parse_csv
from reconciliation.adapters.statements.statement import (
    BANK_ACCOUNTS_PER_FILE_MAX,
    parse_statement,
)
from reconciliation.domain.statement_lines import (
    StatementLines,
    encoded_chunks,
    merged_figures,
    statement_days,
    statement_figures,
)
from schemas.events.reconciliation_v1 import LINES_PER_EVENT_MAX, SettlementLine, StatementFormat

PARSE_ELSEWHERE_BYTES_MIN = 4 * 1024 * 1024  # about 40,000 CSV lines, half a second of parsing
PARSING_PROCESSES_MAX = 8


async def parse_for_import(
    content: bytes,
    format: StatementFormat,
    *,
    mapping: CsvMapping | None = None,
    processes: int | None = None,
    elsewhere_bytes_min: int = PARSE_ELSEWHERE_BYTES_MIN,
) -> StatementLines:
    """The file's lines as an import stores them, or StatementError at its first problem.
    `processes` defaults to the cores this process may use; the last two arguments let tests
    send small files to the workers."""
    if len(content) < elsewhere_bytes_min:
        with collector_paused():
            return StatementLines.from_lines(
                parse_statement(content, format, mapping=mapping).lines
            )
    count = processes or min(len(os.sched_getaffinity(0)), PARSING_PROCESSES_MAX)
    if mapping is not None and count > 1:
        pieces = csv_pieces(content, mapping, count)
        if len(pieces) > 1:
            parsed = await _in_workers(pieces, format, mapping, whole=False)
            if parsed is not None:
                return parsed
    parsed = await _in_workers([(content, 0)], format, mapping, whole=True)
    if parsed is None:  # a whole-file parse raises its error instead
        raise RuntimeError("the whole-file parse reported no error and returned no lines")
    return parsed


async def _in_workers(
    pieces: Sequence[tuple[bytes, int]],
    format: StatementFormat,
    mapping: CsvMapping | None,
    *,
    whole: bool,
) -> StatementLines | None:
    """The pieces' lines joined, or None when a piece failed or the pieces together break a
    whole-file rule. `whole`: the one piece is the file, and its StatementError is raised."""
    workers: list[ForkedChild] = []
    try:
        for piece, lines_skipped in pieces:
            workers.append(
                ForkedChild(_parse_in_worker, piece, format, mapping, lines_skipped, whole)
            )
        answers = await asyncio.gather(*(worker.receive() for worker in workers))
        for answer in answers:
            if isinstance(answer, StatementError):
                if whole:
                    raise answer
                return None
        figures = [part_figures for part_figures, _ in answers]
        file_figures = merged_figures(figures)
        if (
            file_figures.line_count > ENTRY_COUNT_MAX
            or len(file_figures.bank_accounts) > BANK_ACCOUNTS_PER_FILE_MAX
        ):
            return None  # the whole-file parse names the line
        first_line_no = 1
        for worker, part_figures in zip(workers, figures, strict=True):
            worker.send(first_line_no)
            first_line_no += part_figures.line_count
        chunks = await asyncio.gather(
            *(
                worker.receive_bytes(math.ceil(part_figures.line_count / LINES_PER_EVENT_MAX))
                for worker, part_figures in zip(workers, figures, strict=True)
            )
        )
        return StatementLines(
            encoded_chunks=[chunk for part in chunks for chunk in part],
            figures=file_figures,
            days=frozenset().union(*(days for _, days in answers)),
        )
    finally:
        for worker in workers:
            worker.stop()


def _parse_in_worker(
    link: Connection,
    content: bytes,
    format: StatementFormat,
    mapping: CsvMapping | None,
    lines_skipped: int,
    whole: bool,
) -> None:
    """A worker's side of the talk (module docstring)."""
    try:
        lines = _parsed(content, format, mapping, lines_skipped, whole)
    except StatementError as error:
        link.send(error)
        return
    link.send((statement_figures(lines), statement_days(lines)))
    try:
        first_line_no = link.recv()
    except EOFError:  # the file failed elsewhere: nothing more is wanted
        return
    for chunk in encoded_chunks(lines, first_line_no):
        link.send_bytes(chunk)


def _parsed(
    content: bytes,
    format: StatementFormat,
    mapping: CsvMapping | None,
    lines_skipped: int,
    whole: bool,
) -> Sequence[SettlementLine]:
    if whole or mapping is None:
        return parse_statement(content, format, mapping=mapping).lines
    lines = parse_csv(content, mapping, lines_skipped)
    if not lines:
        raise StatementError("file", "a piece without booked entries")  # parsed again whole
    return lines
