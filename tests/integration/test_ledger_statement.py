"""An account statement on the real PostgreSQL journal: the running balance from the opening
balance, and a closing balance over every movement of the period even when the listing is cut
at its line limit (it used to be the sum of the lines shown), which the statement then says."""

from collections import Counter
from datetime import timedelta
from typing import Any

from entrypoints.bootstrap import Runtime
from ledger.adapters import journal as journal_module
from ledger.adapters.journal import Journal
from ledger.domain.posting import entry_for
from tests.integration.recon_harness import START_AT, simulate_payment_day


async def post_everything(rt: Runtime) -> Counter[str]:
    """The store's money events posted to the journal; how many postings each account got."""
    entries = []
    async for envelope in rt.store.iter_all(page_size=2000):
        entry = entry_for(envelope, rt.registry.parse(envelope))
        if entry is not None:
            entries.append(entry)
    async with rt.pool.acquire() as connection, connection.transaction():
        await Journal.post_on(connection, entries)
    return Counter(p.account_code for entry in entries for p in entry.postings)


async def test_a_cut_statement_still_closes_on_the_periods_balance(
    runtime: Runtime, monkeypatch: Any
) -> None:
    rt = runtime
    await simulate_payment_day(rt, 60)
    counts = await post_everything(rt)
    account, postings = counts.most_common(1)[0]
    assert postings > 3
    journal = Journal(rt.pool)
    start, end = START_AT - timedelta(days=1), START_AT + timedelta(days=3)
    whole = await journal.statement(account, start, end)
    assert not whole.truncated and len(whole.lines) == postings
    assert whole.closing_balance_minor == whole.lines[-1].balance_after_minor
    monkeypatch.setattr(journal_module, "STATEMENT_LINES_MAX", 3)
    cut = await journal.statement(account, start, end)
    assert cut.truncated and len(cut.lines) == 3
    assert cut.lines == whole.lines[:3]
    assert cut.closing_balance_minor == whole.closing_balance_minor
