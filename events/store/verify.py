"""Walk the stored hash chain and report intact, or the first position where history was changed."""

from collections.abc import Callable
from dataclasses import dataclass

from events.chain import ChainFinding, ChainVerifier
from events.store.postgres import PostgresEventStore

VERIFY_PAGE_SIZE = 5000


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    checked_count: int
    head_position: int
    head_hash_hex: str
    finding: ChainFinding | None


async def verify_chain(
    store: PostgresEventStore,
    *,
    page_size: int = VERIFY_PAGE_SIZE,
    on_progress: Callable[[int, int], None] | None = None,
) -> ChainReport:
    """Check every row up to the head as it was when the walk started.

    Appends that land during the walk are outside this report; a later run covers them.
    """
    head = await store.head()
    verifier = ChainVerifier()
    after = 0
    while verifier.finding is None and after < head.position:
        rows = await store.read_stored_page(after, head.position, page_size)
        if not rows:
            break
        for row in rows:
            if verifier.check(row) is not None:
                break
        after = int(rows[-1]["position"])
        if on_progress is not None:
            on_progress(verifier.checked_count, head.position)
    finding = verifier.check_head(head.position, head.entry_hash)
    if finding is None and (past := await store.rows_past_head()):
        finding = ChainFinding(
            position=head.position + 1,
            problem="rows_past_head",
            detail=f"{past} row(s) stored after the head's position: written around the store",
        )
    return ChainReport(
        intact=finding is None,
        checked_count=verifier.checked_count,
        head_position=head.position,
        head_hash_hex=head.entry_hash.hex(),
        finding=finding,
    )
