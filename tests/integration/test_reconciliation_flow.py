"""The issue's whole flow on the real servers: a generated day of payments; the next banking
day's statement split over the three formats (gateway lumps net of fees in camt.053, card and
cash takings in CSV, the rest in MT940) with one line missing, one booked twice, one late and one
unknown credit; imports through the real parsers; a run that finds exactly those exceptions;
write-offs; the reconciliation events through the outbox and Kafka into the ledger by a Faust
worker (bank, fee expense and clearing postings equal to a direct computation, trial balance
zero); and the day closed. Then the auditors' side: replaying the store into a fresh schema
equals the live ledger, metrics and reconciliation, a live row altered behind the events' back is
reported with its key and amounts, an account's balance at a past position equals a direct
computation from the events, and the Kafka topics consumed again by a fresh consumer group give
the live ledger and metrics."""

from typing import Any

import asyncpg

from entrypoints.audit_queries import balance_at
from entrypoints.bootstrap import Runtime
from entrypoints.replay import (
    catch_up_live_reconciliation,
    compare,
    drop_schema,
    replay_pool,
    replay_store,
)
from entrypoints.replay_kafka import replay_topics
from entrypoints.settings import Settings
from ledger.adapters.journal import Journal
from reconciliation.adapters.statement_writers import camt053, generic_csv, mt940
from reconciliation.adapters.statements.csv_mapping import load_csv_mappings
from reconciliation.adapters.uploads import import_file
from reconciliation.service import decisions, runs
from reconciliation.service.decisions import DecisionRequest
from reconciliation.simulation import numbered
from schemas.events.reconciliation_v1 import DecisionKind, ExceptionKind, StatementFormat
from tests.integration.recon_harness import (
    ACCOUNT,
    SETTLEMENT_DAY,
    officer,
    reconciler_for,
    simulated_settlement,
)
from tests.integration.test_reconciliation import open_exceptions
from tests.integration.test_streaming import (
    Workers,
    direct_ledger,
    relay_all,
    wait_until_caught_up,
    workers,  # noqa: F401 (fixture)
)


async def test_statement_files_reconcile_and_post_settlements_to_the_ledger(
    runtime: Runtime,
    settings: Settings,
    kafka_topics: list[str],
    workers: Workers,  # noqa: F811
) -> None:
    rt = runtime
    reconciler = reconciler_for(rt)
    bank = await simulated_settlement(rt, reconciler, 300, bank_seed=21)
    lumps = [
        line for line in bank.lines if line.remittance_info and " TT NGAY " in line.remittance_info
    ]
    cards = [
        line
        for line in bank.lines
        if line.counterparty and line.counterparty.startswith(("POS", "CASH"))
    ]
    rest = [line for line in bank.lines if line not in lumps and line not in cards]
    assert lumps and cards and rest
    files = [
        (camt053(numbered(lumps), "STMT1", SETTLEMENT_DAY), StatementFormat.CAMT053, None),
        (generic_csv(numbered(cards)), StatementFormat.CSV, "generic"),
        (mt940(numbered(rest), "STMT3", ACCOUNT), StatementFormat.MT940, None),
    ]
    lan, minh = officer("lan"), officer("minh")
    for content, statement_format, mapping in files:
        await import_file(
            reconciler, lan, content, statement_format, file_name=statement_format.value,
            mapping_name=mapping, mappings=load_csv_mappings(),
        )  # fmt: skip
    assert await rt.pool.fetchval("SELECT count(*) FROM recon_lines") == len(bank.lines)

    await runs.run_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY)
    exceptions = await open_exceptions(rt, SETTLEMENT_DAY)
    assert {kind: len(keys) for kind, keys in exceptions.items()} == {
        ExceptionKind.DUPLICATE_SETTLEMENT: 1, ExceptionKind.NOT_SETTLED: 2,
        ExceptionKind.UNMATCHED_BANK_LINE: 1,
    }  # fmt: skip
    stages = {
        row["stage"] for row in await rt.pool.fetch("SELECT DISTINCT stage FROM recon_matches")
    }
    assert "gateway_lump" in stages

    for row in await rt.pool.fetch(
        "SELECT line_keys FROM recon_exceptions WHERE superseded_position IS NULL "
        "AND cardinality(line_keys) > 0"
    ):
        request = DecisionRequest(DecisionKind.WRITE_OFF, row["line_keys"], [], "not a fee")
        proposed = await decisions.propose(reconciler, lan, ACCOUNT, SETTLEMENT_DAY, request)
        if proposed.status == "pending":
            await decisions.approve(
                reconciler, minh, ACCOUNT, SETTLEMENT_DAY, proposed.decision_id, "checked"
            )
    await decisions.close_day(reconciler, lan, ACCOUNT, SETTLEMENT_DAY)

    await relay_all(rt, settings)
    expected_rows = await direct_ledger(rt)
    head = (await rt.store.head()).position
    workers.start()
    await wait_until_caught_up(rt.pool, head, len({row[0] for row in expected_rows}))
    journal = Journal(rt.pool)
    assert await journal.all_postings() == expected_rows
    balances = {t.account_code: t.balance_minor for t in await journal.trial_balance()}
    assert sum(balances.values()) == 0
    settled_credit = await rt.pool.fetchval(
        "SELECT sum(amount_minor) FROM recon_lines WHERE direction = 'credit'"
    )
    debits = await rt.pool.fetchval(
        "SELECT coalesce(sum(amount_minor), 0) FROM recon_lines WHERE direction = 'debit'"
    )
    assert balances[f"BANK:{ACCOUNT}"] == settled_credit - debits  # every line is settled
    fees = await rt.pool.fetchval(
        "SELECT sum(fee_minor) FROM recon_matches WHERE stage = 'gateway_lump'"
    )
    assert balances["GATEWAY_FEE_EXPENSE:VNPAY"] == fees > 0

    await replay_equals_live_and_balances_stand_at_positions(rt, settings, head, expected_rows)


async def indexes_and_keys(pool: asyncpg.Pool, schema: str) -> dict[str, str]:
    rows = await pool.fetch(
        "SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE schemaname = $1 "
        "UNION ALL SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE connamespace = $1::regnamespace",
        schema,
    )
    return {row["name"]: row["definition"].replace(f"{schema}.", "") for row in rows}


async def replay_equals_live_and_balances_stand_at_positions(
    rt: Runtime, settings: Settings, head: int, expected_rows: list[tuple[Any, ...]]
) -> None:
    # Auditors: replaying the store into a fresh schema gives exactly the live projections...
    await catch_up_live_reconciliation(settings, rt.pool)
    schema = f"{settings.database_schema}_replay"
    try:
        async with replay_pool(settings, schema) as replayed:
            assert await replay_store(settings, schema, head) == head
            assert await compare(rt.pool, replayed) == []
            # The indexes and keys the replay defers during its load are all back, as migrated.
            live_checks = await indexes_and_keys(rt.pool, settings.database_schema)
            assert await indexes_and_keys(rt.pool, schema) == live_checks
            assert {"journal_postings_account_idx", "journal_postings_event_id_fkey"} <= set(
                live_checks
            )
            # ... and a live row changed behind the events' back is named with its key and amounts.
            await rt.pool.execute(
                "UPDATE ledger_daily_balances SET debit_minor = debit_minor + 1 "
                "WHERE account_code = $1", f"BANK:{ACCOUNT}",
            )  # fmt: skip
            [difference] = await compare(rt.pool, replayed)
            assert (difference.projection, difference.key[0], difference.field) == (
                "ledger",
                f"BANK:{ACCOUNT}",
                "debit_minor",
            )
            assert difference.live == difference.replayed + 1
    finally:
        await drop_schema(settings, schema)

    # Point in time: the bank account's balance before the run, and after, as the events say.
    run_position = await rt.pool.fetchval("SELECT min(position) FROM recon_matches")
    before, _ = await balance_at(rt.pool, f"BANK:{ACCOUNT}", run_position - 1)
    direct = sum(
        row[5] for row in expected_rows if row[4] == f"BANK:{ACCOUNT}" and row[1] <= run_position
    )
    after, _ = await balance_at(rt.pool, f"BANK:{ACCOUNT}", run_position)
    assert (before, after) == (0, direct) and direct > 0

    # The topics, consumed again from offset 0 by a fresh consumer group, give the same ledger
    # and metrics as the live workers built (but for the row altered above).
    schema = f"{settings.database_schema}_kafka"
    try:
        async with replay_pool(settings, schema) as replayed:
            read = await replay_topics(settings, rt.router.topics(), replayed)
            assert read >= head  # every event, once or more (redelivery is harmless)
            differences = await compare(rt.pool, replayed)
            [altered] = [d for d in differences if d.projection in ("ledger", "metrics")]
            assert (altered.key[0], altered.field) == (f"BANK:{ACCOUNT}", "debit_minor")
            assert altered.live == altered.replayed + 1
    finally:
        await drop_schema(settings, schema)
