"""Drop input records fetched before a rebalance's seek: Faust would commit past the records
between its seek position and theirs.

Faust's consumer fetches on its own thread. A fetch that is in flight when a rebalance
starts can return its records after Faust revoked the partitions, or after it sought the
new assignment back to the committed offsets C. Nothing marks them as old: Faust's
generation check reads the generation *after* the records arrived, and the event-time merge
clears its queues at the revocation, before they arrive. Faust then delivers the first of
them, at offset X far beyond C, and ``Consumer._drain_messages`` records C+1..X-1 as a gap to
commit (``_add_gap``): the next commit skips every record in between, with nothing logged.
A full chaos soak lost 602 records that way (docs/reliability.md, run 9).

The guard counts revocations and seek-backs (an epoch). A fetch returned in a later epoch
than it was asked in keeps only the records of topics Faust does not acknowledge
(changelogs: their restore checks offsets itself). The input records it drops are read
again: every rebalance ends by seeking each assigned input partition back to its committed
offset (``Recovery._resume_streams``), and revoked ones belong to another worker.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from agents.worker.metrics import STALE_FETCH_RECORDS

log = logging.getLogger(__name__)


def keep_current(records: Any, acked: Any) -> Any:
    """What of a stale fetch may still be delivered: the records of unacknowledged topics."""
    kept = {tp: batch for tp, batch in records.items() if not acked(tp.topic)}
    dropped = sum(len(batch) for tp, batch in records.items() if tp not in kept)
    if dropped:
        STALE_FETCH_RECORDS.inc(dropped)
        log.info("dropped %d input records fetched before a rebalance (read again)", dropped)
    return kept


class GuardedConsumer(faust_aiokafka.Consumer):  # type: ignore[misc]
    """Faust's aiokafka consumer, dropping input records fetched before a seek-back."""

    _fetch_epoch: int = 0

    def invalidate_fetches(self) -> None:
        """Records of fetches in flight now lie ahead of the position about to be sought."""
        self._fetch_epoch += 1

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.invalidate_fetches()
        await super().on_partitions_revoked(revoked)

    async def perform_seek(self) -> None:
        self.invalidate_fetches()
        await super().perform_seek()

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:
        epoch = self._fetch_epoch
        records = await self._fetch(active_partitions, timeout)
        if epoch != self._fetch_epoch and records:
            return keep_current(records, self.app.topics.acks_enabled_for)
        return records

    async def _fetch(self, active_partitions: Any, timeout: float) -> Any:
        """``ThreadDelegateConsumer._getmany``: one fetch on the consumer's thread."""
        return await self._thread.getmany(active_partitions, timeout)


class GuardedTransport(faust_aiokafka.Transport):  # type: ignore[misc]
    Consumer = GuardedConsumer


def install_guard(app: faust.App) -> None:
    """Give ``app`` the guarded consumer; call right after creating the app (see
    ``faust_overrides.install``, whose consumer includes the guard)."""
    if app._transport is not None:
        raise RuntimeError("fetch_guard.install_guard: the app's transport exists already")
    app.transport = GuardedTransport(app.conf.broker_consumer, app)
