"""Parsing a large statement file in worker processes: the service's event loop stays free, and
every core parses.

A file under PARSE_ELSEWHERE_BYTES_MIN is parsed at once, in this process (a few tenths of a
second at most). A larger one goes to worker processes forked from this one: a CSV file cut
into one piece per core (`csv_pieces`: each piece is the file's header and a run of whole
records), camt.053 and MT940 whole, in one worker. The talk with each worker has two turns,
because a line's number depends on how many lines the pieces before it hold:

1. the worker parses and validates its piece, and answers with its line count and accounts
   (or the StatementError it met);
2. told the number of its first line, it sends back its lines as StatementLines: encoded chunks
   and figures, which cost next to nothing to send (sent as models, a million lines cost as much
   to send as to parse; as dicts, a second and more to unpickle and encode here).

Errors are the file's first, as a parse in one piece reports them: if any piece fails, or the
pieces together break a whole-file rule (entries, accounts), the whole file is parsed again in
one worker, which reports the error. A piece can end cleanly only at a true record end (the CSV
reader is strict: a piece cut inside a quoted cell ends with "unexpected end of data"), so
pieces that all parse read the file exactly as one parse would.
"""

import asyncio
import multiprocessing
import os
import signal
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from events.gc_pause import collector_paused
from reconciliation.adapters.statements.common import ENTRY_COUNT_MAX, StatementError
from reconciliation.adapters.statements.csv_mapping import CsvMapping
from reconciliation.adapters.statements.csv_statement import csv_pieces, parse_csv
from reconciliation.adapters.statements.statement import (
    BANK_ACCOUNTS_PER_FILE_MAX,
    parse_statement,
)
from reconciliation.domain.statement_lines import StatementLines
from schemas.events.reconciliation_v1 import SettlementLine, StatementFormat

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
    context = _workers_context()
    links: list[Connection] = []
    workers: list[BaseProcess] = []
    try:
        for piece, lines_skipped in pieces:
            ours, theirs = context.Pipe()
            worker = context.Process(
                target=_parse_in_worker,
                args=(theirs, piece, format, mapping, lines_skipped, whole),
                daemon=True,
            )
            worker.start()
            theirs.close()
            links.append(ours)
            workers.append(worker)
        answers = await _receive_all(links, workers)
        for answer in answers:
            if isinstance(answer, StatementError):
                if whole:
                    raise answer
                return None
        counts = [count for count, _ in answers]
        accounts = set().union(*(accounts for _, accounts in answers))
        if sum(counts) > ENTRY_COUNT_MAX or len(accounts) > BANK_ACCOUNTS_PER_FILE_MAX:
            return None  # the whole-file parse names the line
        first_line_no = 1
        for link, count in zip(links, counts, strict=True):
            link.send(first_line_no)
            first_line_no += count
        return StatementLines.joined(await _receive_all(links, workers))
    finally:
        for link in links:
            link.close()
        for started in workers:  # done (all received) or no longer wanted: no wait either way
            started.kill()
            started.join()


async def _receive_all(links: Sequence[Connection], workers: Sequence[BaseProcess]) -> list[Any]:
    """One message from each worker, waited for in threads (a recv blocks)."""
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.gather(*(loop.run_in_executor(None, link.recv) for link in links))
    except EOFError:
        codes = [worker.exitcode for worker in workers]
        message = f"a parsing process ended without answering (exit codes {codes})"
        raise RuntimeError(message) from None


def _workers_context() -> multiprocessing.context.ForkContext:
    """Workers forked from this process: ready at once, with the parsers already imported.
    Spawned workers, or ones from a fork server, import this process's main module first (the
    whole service): about a second more per import, measured. A forked worker touches nothing
    it inherits but its pipe and the file's bytes; `_parse_in_worker` first detaches it from
    this process's signal handling, and it is stopped, if ever, with SIGKILL."""
    return multiprocessing.get_context("fork")


def _parse_in_worker(
    link: Connection,
    content: bytes,
    format: StatementFormat,
    mapping: CsvMapping | None,
    lines_skipped: int,
    whole: bool,
) -> None:
    """A worker's side of the talk (module docstring)."""
    # The handlers and wake-up pipe inherited from the service's event loop are its own: a
    # signal here must not be read there as one the service got.
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)
    with collector_paused():
        try:
            lines = _parsed(content, format, mapping, lines_skipped, whole)
        except StatementError as error:
            link.send(error)
            return
        link.send((len(lines), {line.bank_account for line in lines}))
        try:
            first_line_no = link.recv()
        except EOFError:  # the file failed elsewhere: nothing more is wanted
            return
        link.send(StatementLines.from_lines(lines, first_line_no))


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
