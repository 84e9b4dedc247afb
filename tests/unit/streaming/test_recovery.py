"""Proves the worker's table recovery (events/streaming/recovery.py) keeps a message that the
consumer hands over while recovery seeks the stream partitions to their committed offsets:
Faust 0.15.3's own recovery clears it from the agent's queue when it resumes flow control at
the end (the worker then idles with the message read and never processed). No broker: the
consumer's seek is replaced by a hand-over of one message, as the fetcher did in the
integration test that found it."""

import asyncio
from pathlib import Path

import faust
import pytest
from faust.tables.recovery import Recovery as FaustRecovery

from events.streaming.recovery import Recovery
from tests.unit.streaming.test_transport import PARTITION, message, offline_app


async def queued_after_recovery(app: faust.App, recovery: FaustRecovery) -> int:
    """Run the end of a recovery in which one stream message is handed over during the seek;
    returns how many messages the agent's queue holds afterwards."""
    agent_queue = app.FlowControlQueue(maxsize=10, clear_on_resume=True)  # a stream's queue
    consumer = app.consumer
    hand_overs: list[asyncio.Task[None]] = []

    async def seek_while_fetching() -> None:
        # The fetcher runs during the seek's broker round trips; the conductor acquires flow
        # control and then queues the message (FlowControlQueue.put does both).
        hand_overs.append(asyncio.create_task(agent_queue.put(message(0))))
        await asyncio.sleep(0.01)

    async def fetcher_running() -> None:
        return None

    consumer.assignment = lambda: {PARTITION}  # type: ignore[method-assign]
    consumer.perform_seek = seek_while_fetching  # type: ignore[method-assign]
    app._fetcher.maybe_start = fetcher_running  # type: ignore[method-assign]
    await recovery.on_recovery_completed(app.consumer_generation_id)
    await asyncio.wait_for(asyncio.gather(*hand_overs), timeout=1)
    return agent_queue.qsize()


@pytest.mark.asyncio
async def test_a_message_handed_over_during_the_seek_reaches_the_agent(tmp_path: Path) -> None:
    app = offline_app(tmp_path)  # flow control active, as after reading the changelogs
    recovery = app.tables.recovery
    assert isinstance(recovery, Recovery)
    assert await queued_after_recovery(app, recovery) == 1
    assert app.flow_control.is_active()


@pytest.mark.asyncio
async def test_faust_own_recovery_drops_it(tmp_path: Path) -> None:
    """The defect the subclass fixes, shown on the pinned faust-streaming: if this starts to
    fail after an upgrade, Faust fixed it and events/streaming/recovery.py can go."""
    app = offline_app(tmp_path)
    recovery = FaustRecovery(app, app.tables, beacon=app.tables.beacon)
    assert await queued_after_recovery(app, recovery) == 0
