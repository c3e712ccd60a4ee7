"""The worker's model parameters: the latest record on the compacted model-parameters topic.

``cxstream fit --publish`` writes versioned parameter records (JSON, key = segment) to
``cx.model-parameters``. Every worker reads that topic from the beginning (no consumer group
offsets: a small task like the side consumers) and judges customers with the latest record of
the population segment ``all`` (and, for customers of a segment the same fit has a record
for, that record: see ``streams.model.loss.params_for``); until one arrives it runs on the
packaged cold-start defaults, says so in its log and sets ``cxstream_model_parameters_default``
to 1.

``--params-version V`` pins a record: the worker ignores every other version and holds its
first batch until V has been read, so its alerts equal the pure fold given that record (each
alert names the version it was judged with). Without a pin the worker waits at start until the
topic has been read to its end (at most ``startup_wait`` seconds), then takes later records
as they come; a record never changes a batch already being folded.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from agents.settings import KafkaSettings, WorkerOptions
from agents.worker import metrics
from streams.model import ModelConfig, config_with_record

log = logging.getLogger(__name__)
SEGMENT = "all"


class ModelParameters:
    """The config customers are judged with, replaced when a newer record arrives."""

    def __init__(
        self, base: ModelConfig, pinned: str | None = None, startup_wait: float = 15.0
    ) -> None:
        self.base, self.pinned, self.startup_wait = base, pinned, startup_wait
        self.config = base
        self.version = base.loss.params_version
        self.is_default = True
        self.population: dict[str, Any] | None = None  # the "all" record in use
        self.segments: dict[str, dict[str, Any]] = {}  # latest record of every other segment
        self.used: list[dict[str, Any]] = []  # the segment records in use
        self.listeners: list[Callable[[ModelConfig], None]] = []
        self._caught_up = asyncio.Event()
        metrics.MODEL_PARAMETERS_DEFAULT.set(1)

    def offer(self, record: dict[str, Any]) -> bool:
        """Use ``record`` (a ``ParamRecord.to_dict``) if it is for segment "all" and, when a
        version is pinned, that version; a segment's record is used with the "all" record of
        the same fit (same ``fitted_at``), for that segment's customers. True when the config
        changed."""
        version = str(record.get("version", ""))
        if record.get("segment") != SEGMENT:
            self.segments[str(record.get("segment"))] = record
            if self.population is None or record.get("fitted_at") != self.population["fitted_at"]:
                return False
            record = self.population
            version = self.version
        elif self.pinned and version != self.pinned:
            return False
        same_fit = [r for r in self.segments.values() if r.get("fitted_at") == record["fitted_at"]]
        if not self.is_default and version == self.version and same_fit == self.used:
            return False
        config = config_with_record(self.base, record, same_fit)
        self.population, self.used = record, same_fit
        self.config, self.version, self.is_default = config, version, False
        metrics.MODEL_PARAMETERS_DEFAULT.set(0)
        log.info("model parameters %s in use (fitted at %s)", version, record.get("fitted_at"))
        for listener in self.listeners:
            listener(config)
        if self.pinned:
            self._caught_up.set()
        return True

    def caught_up(self) -> None:
        """The topic has been read to its end once."""
        if self.is_default:
            hint = f"version {self.pinned} not found yet" if self.pinned else "no record yet"
            log.warning(
                "model parameters: packaged cold-start defaults in use (%s); publish a fitted "
                "record with `cxstream fit FILE --publish`",
                hint,
            )
        if not self.pinned:
            self._caught_up.set()

    async def ready(self) -> None:
        """Return once customers may be judged: the pinned record is in use, or (unpinned)
        the topic was read to its end or ``startup_wait`` passed."""
        if self._caught_up.is_set():
            return
        if self.pinned:
            await self._caught_up.wait()
            return
        try:
            await asyncio.wait_for(self._caught_up.wait(), self.startup_wait)
        except TimeoutError:
            self._caught_up.set()


def decode_record(value: bytes | None) -> dict[str, Any] | None:
    """A record from a message value; None (logged) for anything else."""
    if not value:
        return None
    try:
        record = json.loads(value)
    except ValueError:
        log.warning("model parameters: ignored a message that is not JSON")
        return None
    if not isinstance(record, dict) or not {"version", "params", "segment"} <= set(record):
        log.warning("model parameters: ignored a message that is not a parameter record")
        return None
    return record


class ParametersReader:
    """Reads the model-parameters topic from the beginning into a :class:`ModelParameters`."""

    def __init__(
        self, kafka: KafkaSettings, topic: str, group: str, params: ModelParameters
    ) -> None:
        conf = {"group.id": group, "enable.auto.commit": False, "enable.partition.eof": True}
        self._conf = kafka.confluent(**conf)
        self._topic, self._params = topic, params
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        consumer = Consumer(self._conf)
        consumer.assign([TopicPartition(self._topic, 0, OFFSET_BEGINNING)])
        try:
            while not self._stopping.is_set():
                msg = await asyncio.to_thread(consumer.poll, 0.5)
                if msg is None:
                    continue
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        self._params.caught_up()
                    elif error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                        self._params.caught_up()  # no topic yet: nothing was published
                    else:
                        log.warning("model parameters: %s", error)
                    continue
                record = decode_record(msg.value())
                if record is not None:
                    try:
                        self._params.offer(record)
                    except (KeyError, TypeError, ValueError) as exc:
                        log.warning("model parameters: ignored record (%r)", exc)
        finally:
            await asyncio.to_thread(consumer.close)


def register_parameters_reader(app: Any, options: WorkerOptions, params: ModelParameters) -> None:
    """Follow the model-parameters topic in a task of ``app``, stopped on shutdown."""
    reader = ParametersReader(
        options.settings.kafka,
        options.settings.topics.model_parameters,
        f"{options.app_id}-model-parameters",
        params,
    )

    async def model_parameters() -> None:
        await reader.run()

    app.task(model_parameters)

    @app.on_before_shutdown.connect
    async def stop_model_parameters(app: Any, **kwargs: Any) -> None:
        reader.stop()
