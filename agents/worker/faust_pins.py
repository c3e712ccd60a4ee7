"""The private Faust, mode and aiokafka pieces cxstream's worker replaces or relies on, pinned.

Each entry names a piece, the SHA-256 (first 16 hex digits) of its source in the pinned
versions (faust-streaming 0.15.3, mode-streaming 0.7.1, aiokafka 0.14.0), and what to re-check
when an upgrade changes it. ``tests/unit/agents/worker/test_faust_overrides.py`` fails, naming
each moved piece (the versions are pinned in ``constraints.txt``, so an upgrade is a choice),
and the worker refuses to start on such an install (:func:`check_pinned`).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Callable
from importlib import metadata
from typing import Any

import aiokafka
import faust
import mode
from faust.app import base as faust_app
from faust.sensors import monitor as faust_monitor
from faust.serializers import schemas as faust_schemas
from faust.stores import rocksdb as faust_rocksdb
from faust.tables import manager as faust_tables
from faust.tables import recovery as faust_recovery
from faust.transport import consumer as faust_consumer
from faust.transport import producer as faust_producer
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.utils import queues as mode_queues

from streams.errors import ConfigError

log = logging.getLogger(__name__)
#: The versions RELIES_ON was taken from (as in constraints.txt).
PINNED = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}

#: The private pieces the overrides replace or rely on, with their source's SHA-256 (first 16
#: hex digits) in the pinned versions, and what to re-check when one changes.
RELIES_ON: dict[str, tuple[Callable[[], Any], str, str]] = {
    "faust Consumer._drain_messages": (
        lambda: faust_consumer.Consumer._drain_messages,
        "44a2500309e83c63",
        "override 2 copies this loop: copy the new one and keep only the wait_first change",
    ),
    "faust ThreadDelegateConsumer._getmany": (
        lambda: faust_consumer.ThreadDelegateConsumer._getmany,
        "f9d47aa9010b5ff2",
        "override 3 and fetch_guard.GuardedConsumer._fetch call it: its timeout must still be "
        "the wait for records",
    ),
    "faust Consumer.perform_seek": (
        lambda: faust_consumer.Consumer.perform_seek,
        "0e8c130ff4b0afd8",
        "fetch_guard: it must still seek every assigned partition back to its committed offset "
        "and leave that offset in _read_offset",
    ),
    "faust Consumer.seek": (
        lambda: faust_consumer.Consumer.seek,
        "b86a9fe05f956b30",
        "fetch_guard seeks back with it: it must still move aiokafka and the read offset",
    ),
    "faust Consumer.getmany": (
        lambda: faust_consumer.Consumer.getmany,
        "4b168d84882a70d6",
        "fetch_guard reads again the changelog records this was handed and did not yield: it "
        "must still yield (tp, message) pairs and fetch through self._getmany",
    ),
    "faust AIOKafkaConsumerThread._seek_wait": (
        lambda: faust_aiokafka.AIOKafkaConsumerThread._seek_wait,
        "9d221e816d940467",
        "fetch_guard: recovery must still position changelog partitions through seek_wait",
    ),
    "faust TableManager.changelog_queue": (
        lambda: faust_tables.TableManager.changelog_queue.fget,
        "9c7f4cac57ef1706",
        "changelog_queue wraps this queue: it must still be one queue, cleared on a revocation "
        "(clear_on_resume)",
    ),
    "mode FlowControlQueue.clear": (
        lambda: mode_queues.FlowControlQueue.clear,
        "fa9a86f6b097c90f",
        "changelog_queue reads what a clear drops from _queue and filters _put: both must "
        "still be asyncio.Queue's",
    ),
    "mode FlowControlEvent.clear": (
        lambda: mode_queues.FlowControlEvent.clear,
        "dda5e40d80288a8f",
        "cleared_inputs wraps it on the app's flow control: it must still clear every managed "
        "queue (_queues), and resume() must still call self.clear()",
    ),
    "mode FlowControlEvent.resume": (
        lambda: mode_queues.FlowControlEvent.resume,
        "4dcdc1253fd0dcb4",
        "cleared_inputs: resuming must still clear through self.clear() (an instance attribute "
        "wins)",
    ),
    "faust Consumer.on_buffer_drop": (
        lambda: faust_consumer.Consumer.on_buffer_drop,
        "4b57e8a418d5ad9c",
        "merge.fetch_again puts a partition the merge waits for back into the fetch with it: "
        "it must still undo on_buffer_full (_buffered_partitions, _active_partitions)",
    ),
    "faust Consumer.on_partitions_revoked": (
        lambda: faust_consumer.Consumer.on_partitions_revoked,
        "d04b7ae72c6fc206",
        "fetch_guard: it must still be where a revocation starts on the main thread",
    ),
    "faust Recovery._resume_streams": (
        lambda: faust_recovery.Recovery._resume_streams,
        "d986a6710c1aca98",
        "fetch_guard drops stale input records because this seeks back after each rebalance; "
        "cleared_inputs reads again what its flow_control.resume() clears after that seek",
    ),
    "faust Recovery.on_recovery_completed": (
        lambda: faust_recovery.Recovery.on_recovery_completed,
        "6ef567acf072e46d",
        "fetch_guard drops stale input records because this seeks back after each rebalance",
    ),
    "faust AIOKafkaConsumerThread._create_worker_consumer": (
        lambda: faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer,
        "c2701bfc3e6f6cad",
        "override 1 sets the fetch wait on the consumer this returns, before it starts",
    ),
    "faust aiokafka Consumer._new_consumer_thread": (
        lambda: faust_aiokafka.Consumer._new_consumer_thread,
        "0870ec53dea75083",
        "the overridden consumer creates its thread like this",
    ),
    "aiokafka AIOKafkaConsumer.start": (
        lambda: aiokafka.AIOKafkaConsumer.start,
        "2f1ba70443327538",
        "override 1: the fetcher must still be built from self._fetch_max_wait_ms",
    ),
    "faust Stream.take_events": (
        lambda: faust.Stream.take_events,
        "607d48aead118ba8",
        "take_window: it must still start each batch with self.wait_for_stopped(buffer_full, "
        "timeout=within); overlapped_take copies its loop (processor, passive drain, manual "
        "acks): copy the new one and keep only the buffer handed over at the yield",
    ),
    "faust Recovery._restart_recovery": (
        lambda: faust_recovery.Recovery._restart_recovery.fun,
        "6bd8a8558a2dffe4",
        "fast_restore runs in its _build_highwaters(..., 'active') step: that step must still "
        "come before _build_offsets reads active_offsets, bounded by broker_request_timeout",
    ),
    "faust Recovery._build_highwaters": (
        lambda: faust_recovery.Recovery._build_highwaters,
        "91b4cc0d3724ae7b",
        "fast_restore wraps it on the app's recovery: same arguments (consumer, tps, "
        "destination, title)",
    ),
    "faust Recovery._add": (
        lambda: faust_recovery.Recovery._add,
        "1584a197b11bf835",
        "fast_restore advances active_offsets: it must still hold the persisted offset Faust "
        "reads on from",
    ),
    "faust rocksdb Store.apply_changelog_batch": (
        lambda: faust_rocksdb.Store.apply_changelog_batch,
        "ea3344d369fc4ab5",
        "fast_restore applies its records with it: raw puts, deletes for tombstones, from "
        "event.message's tp, offset, partition, key and value, then the persisted offset",
    ),
    "mode Service.wait_first": (
        lambda: mode.Service.wait_first,
        "feade6a31f8a6789",
        "override 2 falls back to it when a delivery suspends",
    ),
    "faust App.on_init_dependencies": (
        lambda: faust_app.App.on_init_dependencies,
        "7621a70a9b01f93f",
        "faust_lean override 4: the app's monitor (conf.Monitor) must still be its only sensor",
    ),
    "faust Monitor.on_message_in": (
        lambda: faust_monitor.Monitor.on_message_in,
        "b2a9a9045b2f456c",
        "faust_lean override 4 skips it: nothing outside the statistics pages may read what it "
        "records",
    ),
    "faust Monitor.on_stream_event_in": (
        lambda: faust_monitor.Monitor.on_stream_event_in,
        "df6d2e5f6397ce44",
        "faust_lean override 4 keeps only its stream_inbound_time: nothing else it records may "
        "be read outside the statistics pages",
    ),
    "faust AIOKafkaConsumerThread.verify_event_path": (
        lambda: faust_aiokafka.AIOKafkaConsumerThread.verify_event_path,
        "b983e7735f647cb3",
        "faust_lean override 4: it must read no per-record monitor figure but stream_inbound_time",
    ),
    "faust Producer.__init__": (
        lambda: faust_producer.Producer.__init__,
        "5c53a4b47aa1372b",
        "faust_lean override 5 replaces the buffer it creates: still one ProducerBuffer, with "
        "app (and threaded_producer only when producer_threaded)",
    ),
    "faust ProducerBuffer.size": (
        lambda: faust_producer.ProducerBuffer.size.fget,
        "b543a978fdece62e",
        "faust_lean override 5: unthreaded, it must still be the length of pending's queue",
    ),
    "faust ProducerBuffer.put": (
        lambda: faust_producer.ProducerBuffer.put,
        "bf26dfbc01d91088",
        "faust_lean override 5: unthreaded, it must still only put_nowait into pending",
    ),
    "faust ProducerBuffer.wait_until_ebb": (
        lambda: faust_producer.ProducerBuffer.wait_until_ebb,
        "758dd5744044071b",
        "faust_lean override 5: it must still do nothing while size <= max_messages",
    ),
    "faust Schema.compile": (
        lambda: faust_schemas.Schema.compile,
        "d46eec5ce3195b2c",
        "faust_lean override 6: for raw untyped keys and values its decode must still be "
        "create_event(key, value, headers, message)",
    ),
    "faust App.create_event": (
        lambda: faust_app.App.create_event,
        "15fea3d1e95e6625",
        "faust_lean override 6 builds events as this does: conf.Event(app, key, value, headers, "
        "message)",
    ),
    "faust Consumer._commit_offsets": (
        lambda: faust_consumer.Consumer._commit_offsets,
        "1a69799041188441",
        "changelog.FlushingProducer: it must still flush app.producer before committing, or "
        "offsets could pass states whose changelog records are not acknowledged yet",
    ),
    "faust aiokafka Producer.flush": (
        lambda: faust_aiokafka.Producer.flush,
        "36d0cb3615f65b01",
        "changelog.FlushingProducer extends it: it must still wait for every buffered record",
    ),
    "faust App._producer_flush": (
        lambda: faust_app.App._producer_flush,
        "35c92baa028d57bd",
        "changelog.FlushingProducer: revocations and stops must still flush app.producer",
    ),
    "faust App._on_partitions_revoked": (
        lambda: faust_app.App._on_partitions_revoked,
        "d5c895bbe57dc73a",
        "changelog.FlushingProducer: a revocation must still wait for the agents, then flush "
        "the producer (_producer_flush) before the partitions go",
    ),
}


def source_hash(obj: Any) -> str:
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


def moved_pieces() -> dict[str, str]:
    """Each piece of :data:`RELIES_ON` whose source differs from the pinned one: name, detail."""
    moved = {}
    for name, (get, pinned, recheck) in RELIES_ON.items():
        try:
            found = source_hash(get())
        except (AttributeError, OSError, TypeError) as exc:
            found = f"missing ({exc})"
        if found != pinned:
            moved[name] = f"source {found}, pinned {pinned}; re-check: {recheck}"
    return moved


def moved_internals() -> list[str]:
    """One line per piece of :data:`RELIES_ON` whose source differs from the pinned one."""
    return [f"{name}: {detail}" for name, detail in moved_pieces().items()]


def check_pinned(allow: bool) -> None:
    """Refuse to start (or, when ``allow``, warn) if a piece the worker relies on has moved.

    A moved piece means an install without ``constraints.txt``: the overrides and guards were
    checked, chaos soaks included, against the pinned versions only.
    """
    moved = moved_pieces()
    if not moved:
        return
    # The distributions' versions: mode's own __version__ says 0.0.1 in mode-streaming 0.7.1.
    installed = ", ".join(f"{package} {metadata.version(package)}" for package in PINNED)
    pinned = ", ".join(f"{package} {version}" for package, version in PINNED.items())
    problem = (
        f"{installed} differ from the versions the worker was checked against ({pinned}) in "
        f"{len(moved)} private piece(s) it relies on: {', '.join(moved)}"
    )
    if allow:
        log.warning("--allow-unpinned-faust: starting anyway; %s", problem)
        return
    requirements = " ".join(f"{package}=={version}" for package, version in PINNED.items())
    raise ConfigError(
        f"{problem}. Install the pinned versions (pip install -c constraints.txt ., or pip "
        f"install {requirements}), or start with --allow-unpinned-faust to run anyway: records "
        "could be lost or repeated around rebalances"
    )
