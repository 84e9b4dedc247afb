"""Proves the forked-child helper: a value computed in a child is the value computed here, and
the child really is another process working at the same time; a failure there is an error
here; a child not waited for is stopped; and a child's signals stay its own."""

import asyncio
import os
import signal
import time
from multiprocessing.connection import Connection

import pytest

from events.forked import ForkedChild, Pending


def _pid_and_sum(numbers: list[int]) -> tuple[int, int]:
    return os.getpid(), sum(numbers)


def _fails(message: str) -> int:
    raise ValueError(message)


def _answers(link: Connection, parent: int) -> None:
    assert os.getpid() != parent
    link.send("ready")
    link.send(link.recv() * 2)


def _signals_itself(link: Connection) -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    link.send("survived")  # not reached: SIGTERM's default action ends the child


async def test_a_value_computed_in_a_child_is_the_value_computed_here() -> None:
    numbers = list(range(100_000))
    with (
        Pending(_pid_and_sum, numbers, in_child=True) as there,
        Pending(_pid_and_sum, numbers, in_child=False) as here,
    ):
        (pid_there, sum_there), (pid_here, sum_here) = await there.value(), await here.value()
    assert sum_there == sum_here == sum(numbers)
    assert pid_here == os.getpid() and pid_there != os.getpid()
    assert await there.value() == (pid_there, sum_there)  # asked again: the same answer


async def test_the_child_runs_while_this_process_goes_on() -> None:
    child = ForkedChild(_answers, os.getpid())
    try:
        assert await child.receive() == "ready"  # the child is up while this side awaits
        child.send(21)  # ... and still there, reading, after this side went on
        assert await child.receive() == 42
    finally:
        child.stop()


async def test_a_failure_in_the_child_is_an_error_here() -> None:
    with (
        Pending(_fails, "no such line", in_child=True) as failing,
        pytest.raises(RuntimeError, match="ValueError: no such line"),
    ):
        await failing.value()


def test_a_child_never_asked_is_stopped() -> None:
    with Pending(_sleeps_value, 60.0, in_child=True) as pending:
        process = pending._child.process if pending._child else None
    assert process is not None and not process.is_alive()
    assert process.exitcode == -signal.SIGKILL


def _sleeps_value(seconds: float) -> str:
    time.sleep(seconds)
    return "late"


async def test_a_signal_in_the_child_is_not_the_services() -> None:
    received: list[int] = []
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, received.append, signal.SIGTERM)
    try:
        child = ForkedChild(_signals_itself)
        with pytest.raises(RuntimeError, match="ended without answering"):
            await child.receive()
        child.stop()
        await asyncio.sleep(0.1)  # a signal read here would be handled by now
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
    assert child.process.exitcode == -signal.SIGTERM
    assert received == []
