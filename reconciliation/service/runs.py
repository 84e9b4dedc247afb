"""Running automatic matching for one bank account's business day, and proving a past run.

A run folds the day's stream (a closed day refuses), brings the read model up to the store's
head, takes the account's open lines and open items as of that position, matches them with the
rules in force that day, and appends matches, the day's open exceptions and the run's
fingerprint in one append on the day's stream. `verify_run` repeats a past run from the read
model as it stood at the run's position, with the run's own rules version, and compares hashes.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

from events.forked import Pending
from events.gc_pause import collector_paused
from reconciliation.domain.day import Day, ensure_open
from reconciliation.domain.errors import NotFoundError
from reconciliation.domain.fingerprints import (
    JsonRecords,
    dumped_exceptions,
    inputs_sha256,
    results_sha256,
)
from reconciliation.domain.items import Expectations
from reconciliation.domain.matching import DayInputs, MatchRecord, match_columns, match_day
from reconciliation.domain.references import codes_in_note, tokens
from reconciliation.domain.rules import MatchingRules
from reconciliation.service.context import Actor, Dumped, Reconciler, append_to_day, load_day
from schemas.api.reconciliation import RunResponse
from schemas.envelope import EventPayload
from schemas.events.reconciliation_v1 import (
    EXCEPTIONS_PER_EVENT_MAX,
    MATCHES_PER_EVENT_MAX,
    ExceptionsRaised,
    MatchRunCompleted,
)
from schemas.events.reconciliation_v2 import SettlementsMatchedV2
from schemas.time import BUSINESS_ZONE

# From this many lines and items on, the inputs fingerprint is computed in a forked child while
# this process matches (a fork costs milliseconds; hashing 20,000 records, about 0.1 s).
HASH_ELSEWHERE_RECORDS_MIN = 20_000


@dataclass(frozen=True)
class RunCheck:
    run_id: UUID
    recorded_results_sha256: str
    recomputed_results_sha256: str
    recorded_inputs_sha256: str
    recomputed_inputs_sha256: str

    @property
    def identical(self) -> bool:
        return (self.recorded_results_sha256, self.recorded_inputs_sha256) == (
            self.recomputed_results_sha256,
            self.recomputed_inputs_sha256,
        )


def start_of_next_day(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), BUSINESS_ZONE)


async def gather_inputs(
    reconciler: Reconciler, bank_account: str, day: date, rules: MatchingRules, as_of: int
) -> DayInputs:
    model = reconciler.read_model
    # All as of one position, so they agree whatever else commits meanwhile; read at once, the
    # database runs the queries while the rows of the first to answer are decoded here.
    lines, facts, matched = await asyncio.gather(
        model.open_lines(bank_account, day, as_of),
        model.open_items(start_of_next_day(day), as_of),
        model.matched_bank_references(bank_account, day, as_of),
    )
    expected = map(Expectations(rules, reconciler.calendar), facts)
    items = [item for item in expected if item and item.route.bank_account == bank_account]
    open_references = {reference for item in items for reference in item.facts.references}
    named: set[str] = set()
    for line in lines:
        if line.end_to_end_id and line.end_to_end_id.upper() in open_references:
            continue  # settled by its end-to-end id: nothing else of it is looked up
        named |= tokens(line.end_to_end_id, line.remittance_info)
        named.update(hit.code for hit in codes_in_note(line.remittance_info))
    settled = await model.settled_references(sorted(named - open_references), as_of)
    return DayInputs(bank_account, day, lines, items, settled, matched)


def _run_events(
    matches: Sequence[MatchRecord],
    exceptions: JsonRecords,
    bank_account: str,
    day: date,
    run_id: UUID,
) -> list[EventPayload | Dumped]:
    """The run's matches in chunks of columns (SettlementsMatched v2, validated here), then its
    exceptions in chunks (validated by the store)."""
    common = {"bank_account": bank_account, "business_date": day.isoformat(), "run_id": str(run_id)}
    events: list[EventPayload | Dumped] = [
        SettlementsMatchedV2.model_validate(
            {**common, "matches": match_columns(matches[start : start + MATCHES_PER_EVENT_MAX])}
        )
        for start in range(0, len(matches), MATCHES_PER_EVENT_MAX)
    ]
    starts = range(0, max(len(exceptions), 1), EXCEPTIONS_PER_EVENT_MAX)  # always one chunk
    events.extend(
        Dumped(
            ExceptionsRaised,
            {
                **common,
                "chunk": number + 1,
                "exceptions": exceptions[start : start + EXCEPTIONS_PER_EVENT_MAX],
            },
        )
        for number, start in enumerate(starts)
    )
    return events


async def run_day(
    reconciler: Reconciler, actor: Actor, bank_account: str, day: date
) -> RunResponse:
    async with reconciler.settlement_lock.held():  # no decision settles items mid-run
        state, version = await load_day(reconciler, bank_account, day)
        ensure_open(state, "run matching")
        with collector_paused():  # a day can hold a million lines (events/gc_pause.py says why)
            return await _run(reconciler, actor, state, version)


async def _run(reconciler: Reconciler, actor: Actor, state: Day, version: int) -> RunResponse:
    bank_account, day = state.bank_account, state.business_date
    as_of = await reconciler.read_model.catch_up()
    rules = reconciler.rules_book.in_force_on(day)
    inputs = await gather_inputs(reconciler, bank_account, day, rules, as_of)
    # A large day's inputs are hashed by a forked child while this process matches them.
    large = len(inputs.lines) + len(inputs.items) >= HASH_ELSEWHERE_RECORDS_MIN
    with Pending(inputs_sha256, inputs, rules.fingerprint, in_child=large) as inputs_hash:
        outcome = match_day(inputs, rules, reconciler.calendar)
        exceptions = dumped_exceptions(outcome)
        fingerprint = (await inputs_hash.value(), results_sha256(outcome.matches, exceptions))
    run_id = reconciler.ids.next()
    matched_lines = sum(len(match.line_keys) for match in outcome.matches)
    completed = MatchRunCompleted(
        run_id=run_id,
        bank_account=bank_account,
        business_date=day,
        rules_version=rules.fingerprint,
        as_of_position=as_of,
        inputs_sha256=fingerprint[0],
        results_sha256=fingerprint[1],
        matched_line_count=matched_lines,
        exception_count=len(outcome.exceptions),
        run_by=actor.officer,
        completed_at=reconciler.clock.now(),
    )
    events: list[EventPayload | Dumped] = [
        *_run_events(outcome.matches, exceptions, bank_account, day, run_id),
        completed,
    ]
    await append_to_day(reconciler, actor, state, version, events)
    return RunResponse(
        run_id=run_id,
        rules_version=rules.fingerprint,
        matched_line_count=matched_lines,
        match_count=len(outcome.matches),
        exception_count=len(outcome.exceptions),
        inputs_sha256=fingerprint[0],
        results_sha256=fingerprint[1],
    )


async def verify_run(reconciler: Reconciler, run_id: UUID) -> RunCheck:
    """Recompute a recorded run from the read model as of its position, with its rules."""
    await reconciler.read_model.catch_up()
    position = await reconciler.read_model.recorded_run(run_id)
    if position is None:
        raise NotFoundError(f"no matching run {run_id}", run_id=str(run_id))
    [envelope] = await reconciler.store.read_all(position - 1, 1)
    recorded = reconciler.registry.parse(envelope)
    if not isinstance(recorded, MatchRunCompleted) or recorded.run_id != run_id:
        raise NotFoundError(f"position {position} does not record run {run_id}")
    rules = reconciler.rules_book.by_fingerprint(recorded.rules_version)
    inputs = await gather_inputs(
        reconciler, recorded.bank_account, recorded.business_date, rules, recorded.as_of_position
    )
    outcome = match_day(inputs, rules, reconciler.calendar)
    return RunCheck(
        run_id,
        recorded.results_sha256,
        results_sha256(outcome.matches, dumped_exceptions(outcome)),
        recorded.inputs_sha256,
        inputs_sha256(inputs, rules.fingerprint),
    )
