"""The customer agent's body: publish what a batch produced, in an order that loses nothing.

Order per batch: alerts, dead letters and health snapshots are produced and acknowledged
by the broker first; only then are customer states written to the table (and its
changelog) and the inputs acknowledged. If the worker dies in between, the redelivered
inputs produce the same alerts again with the same deterministic ids (at-least-once on the
alert topic, exactly-once in state); consumers de-duplicate by the CloudEvents id.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from agents import metrics
from agents.envelope import Envelope, decode_envelope, encode_envelope
from agents.faust_compat import event_context
from agents.outputs import OutputProducer
from agents.processor import TICK_VALUE, BatchOutput, BatchProcessor, IntegrityAccess, Record
from agents.ticker import DeadlineIndex
from streams.contracts import encode_alert, encode_snapshot
from streams.model import next_deadline
from streams.topics import Topics


class FaustStates:
    """``StateAccess`` over a Faust table whose values are encoded envelopes.

    Decoded envelopes of recently active customers stay in a bounded LRU, so a busy customer
    is decoded once, not once per batch. This worker is the only writer of its partitions, so
    the cache can only go stale across a rebalance: :meth:`forget` is called on every revoke.
    """

    def __init__(self, table: Any, capacity: int = 100_000) -> None:
        self.table = table
        self.capacity = capacity
        self._cache: OrderedDict[str, Envelope] = OrderedDict()

    def get(self, customer_id: str, record: Record) -> Envelope | None:
        cached = self._cache.get(customer_id)
        if cached is not None:
            self._cache.move_to_end(customer_id)
            return cached
        with event_context(record):
            raw = self.table.get(customer_id)
        return decode_envelope(raw) if raw else None

    def put(self, customer_id: str, envelope: Envelope, record: Record) -> None:
        with event_context(record):
            self.table[customer_id] = encode_envelope(envelope)  # reassign: reaches changelog
        self._cache[customer_id] = envelope
        self._cache.move_to_end(customer_id)
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)

    def forget(self) -> None:
        self._cache.clear()


class CustomerPipeline:
    def __init__(
        self,
        outputs: OutputProducer,
        table: Any,
        topics: Topics,
        processor: BatchProcessor,
        deadlines: DeadlineIndex,
        integrity: IntegrityAccess,
    ) -> None:
        self.outputs = outputs
        self.states = FaustStates(table)
        self.topics = topics
        self.processor = processor
        self.deadlines = deadlines
        self.integrity = integrity
        self.has_assignment = False  # set once the first rebalance completed

    async def handle(self, records: Sequence[Record]) -> BatchOutput:
        try:
            out = self.processor.process(records, self.states, self.integrity)
            self._publish(out)
            await self.outputs.flush()  # acknowledged before any state moves past them
        except BaseException:
            self.integrity.discard()  # the batch will be redelivered and weighed again
            raise
        for customer_id, envelope, record in out.states:
            self.states.put(customer_id, envelope, record)
        self.integrity.flush()
        self.deadlines.observe(out.stream_times)
        self.deadlines.schedule(out.deadlines)
        _record_metrics(out)
        return out

    def _publish(self, out: BatchOutput) -> None:
        produce = self.outputs.produce
        for alert in out.alerts:
            key, value, headers = encode_alert(alert)
            produce(self.topics.alerts, key, value, headers)
        for dl_key, dl_value, dl_headers in out.dead_letters:
            produce(self.topics.dead_letter, dl_key, dl_value, dl_headers)
        for snap in out.snapshots:
            key, value, headers = encode_snapshot(snap)
            produce(self.topics.health, key, value, headers)

    def rebuild(self, items: Iterable[tuple[Any, bytes | None]], partitions: set[int]) -> int:
        """After a (re)assignment: re-index deadlines and recount stage/band gauges.

        Runs once per rebalance over this worker's customers only (their table partitions);
        the index lives in memory because it is cheap to derive from the table.
        """
        self.deadlines.forget_partitions(partitions)
        stages: Counter[str] = Counter()
        bands: Counter[str] = Counter()
        entries: list[tuple[str, int, float]] = []
        stream_times: dict[int, float] = {}
        for key, raw in items:
            if not raw:
                continue
            envelope = decode_envelope(raw)
            if envelope.partition not in partitions:
                continue
            stream_times[envelope.partition] = max(
                stream_times.get(envelope.partition, 0.0), envelope.event_time
            )
            stages[envelope.stage] += 1
            bands[envelope.band] += 1
            deadline = next_deadline(envelope.state, self.processor.config)
            if deadline is not None:
                customer_id = key.decode() if isinstance(key, bytes) else str(key)
                entries.append((customer_id, envelope.partition, deadline))
        self.deadlines.observe(stream_times)
        self.deadlines.schedule(entries)
        _set_gauges(stages, bands)
        return len(entries)

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
            )
        if due:
            await self.outputs.flush()
        return len(due)


def _set_gauges(stages: Counter[str], bands: Counter[str]) -> None:
    metrics.CUSTOMERS_BY_STAGE.clear()
    metrics.CUSTOMERS_BY_BAND.clear()
    for stage, count in stages.items():
        metrics.CUSTOMERS_BY_STAGE.labels(stage).set(count)
    for band, count in bands.items():
        metrics.CUSTOMERS_BY_BAND.labels(band).set(count)


def _record_metrics(out: BatchOutput) -> None:
    wall = time.time()
    for alert in out.alerts:
        metrics.ALERTS.labels(alert.type.value, alert.action.value, alert.priority.value).inc()
    if out.snapshots:
        metrics.PROCESSING_LATENCY.observe(max(0.0, wall - out.first_consumed))
        for snap in out.snapshots:
            metrics.EVENT_LATENCY.observe(max(0.0, wall - snap.as_of))
    for old_stage, old_band, stage, band in out.stage_moves:
        if old_stage:
            metrics.CUSTOMERS_BY_STAGE.labels(old_stage).dec()
        if old_band:
            metrics.CUSTOMERS_BY_BAND.labels(old_band).dec()
        metrics.CUSTOMERS_BY_STAGE.labels(stage).inc()
        metrics.CUSTOMERS_BY_BAND.labels(band).inc()
