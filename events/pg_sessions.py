"""Pooled PostgreSQL sessions: released without asyncpg's reset round trip, and the one rule
that makes that safe.

By default asyncpg resets every connection it takes back into a pool with a query (advisory locks
released, settings reset, listeners removed, cursors closed). That is one round trip per release:
a payment request releases several connections, and the round trips (a socket write and read on
both sides) cost the API process about a sixth of its throughput (bench/payments_http.py,
2026-12-04: 93 to 103 paid dossiers/s with the reset, 117 to 119 without, two runs each).

So this project's pools release with `release_without_reset`: asyncpg still rolls back an open
transaction and drops listeners in Python, with no query. The rule that follows is that code
which leaves session state on a pooled connection (a session advisory lock, a `set_config`)
undoes it itself, inside `terminated_on_error`: if the clean-up does not complete, the
connection is terminated instead of going back to the pool holding the state. Advisory locks
are re-entrant per session, so a connection returned still holding one would let the next
borrower "take" it while someone else thinks they hold it.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg


async def release_without_reset(_: asyncpg.Connection) -> None:
    """The pools' `reset`: nothing to send (see the module's docstring)."""


@contextmanager
def terminated_on_error(connection: asyncpg.Connection) -> Iterator[None]:
    """Around the steps that set or clear session state: any exception (a cancellation too)
    terminates the connection, so it never returns to its pool in an unknown state."""
    try:
        yield
    except BaseException:
        connection.terminate()
        raise
