"""One batch's cycle: fold it, publish what it produced, then store states, losing nothing.

Order per batch: alerts, dead letters and health snapshots are produced and acknowledged
by the broker first; only then are customer states written to the table (and its
changelog) and the inputs acknowledged. If the worker dies in between, the redelivered
inputs produce the same alerts again with the same deterministic ids (at-least-once on the
alert topic, exactly-once in state); consumers de-duplicate by the CloudEvents id.

Faust acknowledges a batch's records when the agent's loop moves on *even if the body raised*
(``take_events`` acks in a ``finally``), so :meth:`BatchCycle.handle_safely` never lets an
exception escape: it retries, then handles the records one at a time and dead-letters only a
record that keeps failing on its own. Meanwhile ``/healthz`` reports the problem.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from agents.worker import loop_metrics, metrics
from agents.worker.batch_fold import TICK_VALUE, BatchFold
from agents.worker.budget_feed import BudgetFeed
from agents.worker.changelog import ChangelogWriter
from agents.worker.customer_fold import Record
from agents.worker.fold_ports import BatchOutput, IntegrityAccess
from agents.worker.fold_process import FoldProcess
from agents.worker.health import HealthBoard
from agents.worker.index_rebuild import RebuildLedger, StoredStates, rebuild_index
from agents.worker.outputs import OutputProducer, OutputRejected
from agents.worker.tables import FaustStates
from streams.contracts import dead_letter, processing_failure
from streams.deadline_index import DeadlineIndex
from streams.topics import Topics

log = logging.getLogger(__name__)

#: Attempts at a whole batch, then at each of its records alone, before a record that keeps
#: failing is dead-lettered (``processing_failed``) so the partition can move on.
BATCH_ATTEMPTS = 3
RECORD_ATTEMPTS = 3
AGENT_PROBLEM = "customer_agent"
INDEX_PROBLEM = "deadline_index"
MAX_RETRY_PAUSE = 30.0
#: Owner of the deadline timer's outputs (the batch's own are the producer's default owner).
TICKS_OWNER = "ticks"


def caused_by_record(exc: BaseException) -> bool:
    """Only a broker refusing a record's own output (its size) is blamed on a batch's record.

    Everything else that escapes a batch (the broker, a table, the network, a bug outside the
    per-customer fold) is retried for as long as it lasts: dead-lettering would lose good
    records for it, while a stalled partition raises the lag and agent-failing alerts.
    """
    return isinstance(exc, OutputRejected) and exc.caused_by_record


class BatchCycle:
    """The customer agent's body (its fold, :class:`BatchFold`, is, Faust-free)."""

    def __init__(
        self,
        outputs: OutputProducer,
        table: Any,
        topics: Topics,
        fold: BatchFold,
        deadlines: DeadlineIndex,
        integrity: IntegrityAccess,
        health: HealthBoard | None = None,
        retry_pause: float = 1.0,
        changelog: ChangelogWriter | None = None,
    ) -> None:
        self.outputs = outputs
        self.health = health or HealthBoard()
        self.retry_pause = retry_pause
        self.states = FaustStates(table, writer=changelog)
        self.topics = topics
        self.fold = fold
        self.deadlines = deadlines
        self.integrity = integrity
        self.has_assignment = False  # set once the first rebalance completed
        self._ledger: RebuildLedger | None = None  # while the deadline index is rebuilt
        self.indexed: set[int] | None = None  # the partitions the deadline index covers
        self.budget: BudgetFeed | None = None  # set when churn alerts compete for a budget
        self.fold_process: FoldProcess | None = None  # set with --fold-process

    async def handle_safely(self, records: Sequence[Record]) -> None:
        """Handle a batch; never raises except on cancellation (see the module docstring)."""
        if await self._attempt(records, BATCH_ATTEMPTS) is None:
            return
        for record in records:  # isolate the failure: every other record goes through
            error = await self._attempt([record], RECORD_ATTEMPTS)
            if error is not None:
                await self._give_up(record, error)
        self.health.clear(AGENT_PROBLEM)

    async def _attempt(self, records: Sequence[Record], attempts: int) -> Exception | None:
        """None once ``records`` are handled, or the record fault they still raise after
        ``attempts``; any other failure is retried for as long as it lasts."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.handle(records)
            except Exception as exc:
                metrics.AGENT_FAILURES.labels(type(exc).__name__).inc()
                self.health.raise_problem(
                    AGENT_PROBLEM,
                    f"handling a batch failed ({type(exc).__name__}), attempt {attempt}: "
                    "retrying; see the worker log and docs/runbooks/customer-agent-failing.md",
                )
                log.exception("batch of %d records failed (attempt %d)", len(records), attempt)
                if attempt >= attempts and caused_by_record(exc):
                    return exc
                await asyncio.sleep(min(MAX_RETRY_PAUSE, self.retry_pause * attempt))
            else:
                if attempt > 1:
                    self.health.clear(AGENT_PROBLEM)
                return None

    async def _give_up(self, record: Record, exc: Exception) -> None:
        """Dead-letter a record that fails even alone, retrying the dead letter until it lands."""
        key, value, headers = dead_letter(
            record.key,
            record.value,
            list(record.headers or ()),
            processing_failure(exc),
            record.topic,
            record.partition,
            record.offset,
            time.time(),
        )
        self.outputs.produce(self.topics.dead_letter, key, value, headers)
        await self.outputs.flush()
        metrics.DEAD_LETTERS.labels("processing_failed").inc()

    async def handle(self, records: Sequence[Record]) -> BatchOutput:
        try:
            if self.fold_process is not None:
                out = await self.fold_process.process(records, self.states, self.integrity)
            else:
                out = self.fold.process(records, self.states, self.integrity)
        except BaseException:
            self.integrity.discard()  # the batch will be redelivered and weighed again
            raise
        await self.complete(out)
        return out

    async def complete(self, out: BatchOutput) -> None:
        """Publish a folded batch's outputs, await the broker's acknowledgement, then store its
        states and deadlines (raises before storing anything if the outputs fail)."""
        try:
            self._publish(out)
            await self.outputs.flush()  # acknowledged before any state moves past them
        except BaseException:
            self.integrity.discard()  # the batch will be redelivered and weighed again
            raise
        for customer_id, envelope, raw, record in out.states:
            self.states.put(customer_id, envelope, raw, record)
        if self.states.writer is not None:
            self.states.writer.poll()  # delivery reports so far: the restore point moves on
        self.integrity.flush()
        self.deadlines.observe(out.stream_times)
        self.deadlines.schedule(out.deadlines)
        self.deadlines.settle((cid, record.partition) for cid, _, _, record in out.states)
        if self._ledger is not None:
            self._ledger.batch(out)
        _record_metrics(out)

    def _publish(self, out: BatchOutput) -> None:
        produce = self.outputs.produce
        for topic, key, value, headers in out.messages:
            produce(topic, key, value, headers)
        for dl_key, dl_value, dl_headers in out.dead_letters:
            produce(self.topics.dead_letter, dl_key, dl_value, dl_headers)
        if self.budget is not None and out.alerts:
            self.budget.candidates(out)

    async def rebuild(
        self,
        table: StoredStates,
        partitions: set[int],
        still_valid: Callable[[], bool] = lambda: True,
    ) -> int | None:
        """After a (re)assignment: re-index deadlines and recount the stage/band gauges, a slice
        at a time while batches go on (:mod:`agents.worker.index_rebuild`).

        Runs once per rebalance over this worker's customers only (their table partitions);
        the index lives in memory because it is cheap to derive from the table. Returns the
        customers scheduled, or None when a rebalance or new parameters cut it short (rebuild
        again later).
        """
        config = self.fold.config
        self.indexed = None
        self._ledger = RebuildLedger()
        try:
            done = await rebuild_index(
                table,
                partitions,
                self.deadlines,
                config,
                self._ledger,
                lambda: still_valid() and self.fold.config is config,
            )
        finally:
            self._ledger = None
        if done is None:
            return None
        if done.unreadable:
            self.health.raise_problem(
                INDEX_PROBLEM,
                f"{len(done.unreadable)} stored customer state(s) failed to decode and get no "
                "inactivity deadline; the worker log names them",
            )
            log.error("deadline index: undecodable states of %s", done.unreadable[:20])
        else:
            self.health.clear(INDEX_PROBLEM)
        _set_gauges(done.labels)
        self.indexed = set(partitions)
        return done.scheduled

    async def send_ticks(self) -> int:
        """Ask the agent to tick customers whose deadlines passed (a tick needs table context)."""
        due = self.deadlines.due()
        for cid, partition, until in due:
            self.outputs.produce(
                self.topics.ticks,
                cid.encode(),
                TICK_VALUE.pack(until),
                partition=partition,
                timestamp=until,
                owner=TICKS_OWNER,
            )
        if due:
            try:
                await self.outputs.flush(TICKS_OWNER)
            except OutputRejected as exc:  # a tick is tiny: the deployment's fault (ACLs...)
                self.deadlines.schedule(due)  # due again at the next tick
                log.error("the broker refused deadline ticks, retried at the next tick: %s", exc)
                return 0
        return len(due)


def _set_gauges(labels: Counter[tuple[str, str]]) -> None:
    metrics.CUSTOMERS_BY_STAGE.clear()
    metrics.CUSTOMERS_BY_BAND.clear()
    stages: Counter[str] = Counter()
    bands: Counter[str] = Counter()
    for (stage, band), count in labels.items():
        stages[stage] += count
        bands[band] += count
    for stage, count in stages.items():
        metrics.CUSTOMERS_BY_STAGE.labels(stage).set(count)
    for band, count in bands.items():
        metrics.CUSTOMERS_BY_BAND.labels(band).set(count)


def _record_metrics(out: BatchOutput) -> None:
    wall = time.time()
    for (topic, outcome), count in Counter(out.outcomes).items():  # one update per label set
        metrics.EVENTS.labels(topic, outcome).inc(count)
    for reason, count in Counter(out.dead_letter_reasons).items():
        metrics.DEAD_LETTERS.labels(reason).inc(count)
    for alert in out.alerts:
        metrics.ALERTS.labels(alert.type.value, alert.action.value, alert.priority.value).inc()
    loop_metrics.record_outcomes(out.alert_outcomes)
    if out.snapshots:
        metrics.PROCESSING_LATENCY.observe(max(0.0, wall - out.first_consumed))
        for snap in out.snapshots:
            metrics.EVENT_LATENCY.observe(max(0.0, wall - snap.as_of))
    for _, old_stage, old_band, stage, band in out.stage_moves:
        if old_stage:
            metrics.CUSTOMERS_BY_STAGE.labels(old_stage).dec()
        if old_band:
            metrics.CUSTOMERS_BY_BAND.labels(old_band).dec()
        metrics.CUSTOMERS_BY_STAGE.labels(stage).inc()
        metrics.CUSTOMERS_BY_BAND.labels(band).inc()
