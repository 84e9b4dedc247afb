"""Faust's table recovery, with the stream partitions resumed while flow control is suspended.

faust-streaming 0.15.3 loses stream messages when a worker with a table starts (found on
2026-12-03, tests/integration/test_streaming.py -k killed with the live counters on). At the
end of a rebalance, `Recovery.on_recovery_completed` resumes the stream partitions, seeks them
to their committed offsets (one broker round trip per partition, about 100 ms here) and only
then resumes flow control. Flow control was already active, resumed to read the changelogs, so
the messages fetched during that seek were put in the agents' queues; resuming flow control
then clears every queue (`clear_on_resume`) while the consumer's read offsets had moved past
them. Nothing reads them again until the next rebalance: the worker applied one batch and
idled with every partition fetched to its end.

Suspending flow control first makes the consumer's hand-over wait (the conductor acquires flow
control before it puts a message in a queue) until the queues have been cleared, so nothing
read during the seek is thrown away. Without tables Faust takes another path, which resumes
flow control only after the seek.
"""

from faust.tables import TableManager as FaustTableManager
from faust.tables.recovery import Recovery as FaustRecovery


class Recovery(FaustRecovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.app.flow_control.suspend()
        await super().on_recovery_completed(generation_id)


class TableManager(FaustTableManager):
    @property
    def recovery(self) -> FaustRecovery:
        if self._recovery is None:
            self._recovery = Recovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
