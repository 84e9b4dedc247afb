"""Reading the stored chain in pages and re-hashing a window of it from a trusted anchor.

Signing and exporting only need to know that the rows they cover follow, hash by hash, from a
point already trusted (the genesis, or a verified checkpoint), so they re-hash that window alone
instead of the whole history: a daily seal stays proportional to one day's events.
"""

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from events.audit.errors import ChainBrokenError
from events.chain import GENESIS_HASH, chain_hash, stored_document
from events.errors import CanonicalEncodingError
from events.store.postgres import PostgresEventStore

CHAIN_PAGE_SIZE = 5000


async def chain_pages(
    store: PostgresEventStore, after_position: int, to_position: int, page_size: int
) -> AsyncIterator[list[Any]]:
    """Rows with after_position < position <= to_position, in pages, with no position skipped.

    The loop ends because each page moves `after_position` forward by at least one row.
    """
    while after_position < to_position:
        rows = await store.read_stored_page(after_position, to_position, page_size)
        if not rows:
            raise ChainBrokenError(after_position + 1, "the row is missing")
        yield rows
        after_position = int(rows[-1]["position"])


def next_link(previous_position: int, previous_hash: bytes, row: Mapping[str, Any]) -> bytes:
    """The row's stored hash, after checking that it follows from its predecessor."""
    position = int(row["position"])
    if position != previous_position + 1:
        raise ChainBrokenError(previous_position + 1, f"the next row found is {position}")
    try:
        document = stored_document(row)
    except CanonicalEncodingError as error:
        detail = f"the row no longer encodes canonically: {error}"
        raise ChainBrokenError(position, detail) from error
    stored = bytes(row["entry_hash"])
    if chain_hash(previous_hash, document) != stored:
        raise ChainBrokenError(
            position, "its stored hash does not follow from its content; run `fees audit verify`"
        )
    return stored


async def entry_at(store: PostgresEventStore, position: int) -> tuple[bytes, Any]:
    """The stored (entry_hash, recorded_at) at a position; the genesis for position 0."""
    if position == 0:
        return GENESIS_HASH, None
    rows = await store.read_stored_page(position - 1, position, 1)
    if not rows:
        raise ChainBrokenError(position, "the row is missing")
    return bytes(rows[0]["entry_hash"]), rows[0]["recorded_at"]


async def rehash_window(
    store: PostgresEventStore,
    anchor_position: int,
    anchor_hash: bytes,
    to_position: int,
    *,
    page_size: int = CHAIN_PAGE_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> bytes:
    """Re-hash rows anchor_position+1..to_position from a trusted anchor; the last hash, or
    ChainBrokenError at the first row that does not follow."""
    position, last_hash = anchor_position, anchor_hash
    async for rows in chain_pages(store, anchor_position, to_position, page_size):
        for row in rows:
            last_hash = next_link(position, last_hash, row)
            position += 1
        if on_progress is not None:
            on_progress(position - anchor_position)
    return last_hash
