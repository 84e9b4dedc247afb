"""Work handed to a child process forked from this one, so that the second core does it while
this one goes on with its own.

Forked, not spawned: a spawned child (or one from a fork server) imports this process's main
module first, the whole service, which cost about a second per use, measured; a forked one
starts in milliseconds with everything it needs already in memory, including the data it is to
work on, which is not sent at all. A child touches nothing it inherits but its pipe and its
arguments. Its first act is to detach from this process's signal handling (the handlers and the
event loop's wake-up pipe it inherited are this process's own: a signal there must not be read
here as one the service got), and it is stopped, when no longer wanted, with SIGKILL.
"""

import asyncio
import multiprocessing
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from events.gc_pause import collector_paused

Result = TypeVar("Result")
Received = TypeVar("Received")
_FORK = multiprocessing.get_context("fork")


class ForkedChild:
    """A child running `target(link, *args)`, with this side of the pipe between them."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        self.link, theirs = _FORK.Pipe()
        self.process = _FORK.Process(target=_detached, args=(target, theirs, *args), daemon=True)
        self.process.start()
        theirs.close()

    async def receive(self) -> Any:
        """The child's next message, waited for in a thread (a pipe's recv blocks)."""
        return await self._read(self.link.recv)

    async def receive_bytes(self, count: int) -> list[bytes]:
        """The child's next `count` messages sent with `send_bytes`, read in one thread."""
        return await self._read(lambda: [self.link.recv_bytes() for _ in range(count)])

    async def _read(self, read: Callable[[], Received]) -> Received:
        try:
            return await asyncio.get_running_loop().run_in_executor(None, read)
        except EOFError:
            message = f"a child process ended without answering (exit code {self.process.exitcode})"
            raise RuntimeError(message) from None

    def send(self, message: Any) -> None:
        self.link.send(message)

    def stop(self) -> None:
        """Done with it (everything received) or no longer wanted: no wait either way. Killed
        before its pipe is closed, so that a thread still waiting on the pipe reads its end."""
        self.process.kill()
        self.process.join()
        self.link.close()


def _detached(target: Callable[..., None], link: Connection, *args: Any) -> None:
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)
    with collector_paused():  # bulk work, no cycles (events/gc_pause.py)
        target(link, *args)


class Pending(Generic[Result]):
    """A value being computed, here (already done) or in a forked child; a context manager
    that stops the child if the value is never asked for."""

    def __init__(self, function: Callable[..., Result], *args: Any, in_child: bool) -> None:
        self._child: ForkedChild | None = None
        self._ready: tuple[Result] | None = None
        if in_child:
            self._child = ForkedChild(_send_value, function, *args)
        else:
            self._ready = (function(*args),)

    async def value(self) -> Result:
        if self._ready is None:
            if self._child is None:
                raise RuntimeError("the child was stopped before its value was asked for")
            try:
                computed, value = await self._child.receive()
            finally:
                self._child.stop()
                self._child = None
            if not computed:
                raise RuntimeError(f"a child process failed: {value}")
            self._ready = (value,)
        return self._ready[0]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None


def _send_value(link: Connection, function: Callable[..., Any], *args: Any) -> None:
    try:
        value = function(*args)
    except Exception as error:  # sent as text: an exception may not survive pickling
        link.send((False, f"{type(error).__name__}: {error}"))
        return
    link.send((True, value))
