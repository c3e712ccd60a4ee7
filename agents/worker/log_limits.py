"""Keep a broker outage from flooding the log: one line per message and interval, with a count.

During a broker outage aiokafka logs the same connection error for every fetch and metadata
attempt (about 63,000 ERROR lines in 16 s were measured), which buries the one useful line
and fills disks. :class:`RepeatLimiter` passes the first record of each distinct message
(logger, level and text, so "Unable connect to node 1" and "... node 2" count as one),
drops repeats for ``interval`` seconds, then passes the next one with the number it dropped.
Messages are compared with their numbers masked (node ids, ports, timings), since librdkafka
logs every line through one generic ``"%s [%s] %s"`` format string. A rebalance's milestones
(INFO lines of :data:`MILESTONES`) always pass: they are few, and a soak's forensics need them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

NOISY = ("aiokafka", "faust", "mode", "kafka", "librdkafka", "cxstream.librdkafka")
#: Loggers whose INFO lines are a rebalance's milestones (revoked, joined, assigned, recovery
#: done, sought, ready): never limited, since a chaos soak's forensics need every rebalance's
#: (docs/reliability.md, defect 16); an outage's floods are their warnings and errors.
MILESTONES = ("aiokafka.consumer.group_coordinator", "faust.tables.recovery", "faust.app.base")
_MAX_KEYS = 2048  # distinct messages remembered; beyond that the table starts afresh
_DIGITS = re.compile(r"\d+")
_DECISION = "_cx_repeat_decision"  # one decision per record, however many handlers see it


class RepeatLimiter(logging.Filter):
    def __init__(
        self,
        interval: float = 10.0,
        loggers: tuple[str, ...] = NOISY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.loggers = loggers
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[
            tuple[str, int, str], tuple[float, int]
        ] = {}  # key -> (passed at, dropped)

    def _limited(self, name: str) -> bool:
        return any(name == n or name.startswith(n + ".") for n in self.loggers)

    def filter(self, record: logging.LogRecord) -> bool:
        decided = getattr(record, _DECISION, None)
        if decided is not None:
            return bool(decided)
        milestone = record.levelno < logging.WARNING and record.name in MILESTONES
        keep = self._decide(record) if self._limited(record.name) and not milestone else True
        setattr(record, _DECISION, keep)
        return keep

    def _decide(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed call: let the handler report it, never raise here
            text = str(record.msg)
        key = (record.name, record.levelno, _DIGITS.sub("#", text)[:160])
        now = self.clock()
        with self._lock:
            if len(self._seen) > _MAX_KEYS:
                self._seen.clear()
            passed_at, dropped = self._seen.get(key, (-self.interval - 1.0, 0))
            if now - passed_at < self.interval:
                self._seen[key] = (passed_at, dropped + 1)
                return False
            self._seen[key] = (now, 0)
        if dropped:
            span = now - passed_at
            record.msg = f"{record.msg} [{dropped} similar lines suppressed in {span:.0f}s]"
        return True


def install(interval: float = 10.0, logger: logging.Logger | None = None) -> RepeatLimiter:
    """Add one shared limiter to every handler of ``logger`` (the root logger by default).

    On the handlers, not the logger: a logger's filters never see records that propagate up
    from child loggers such as ``aiokafka.conn``.
    """
    target = logger or logging.getLogger()
    limiter = RepeatLimiter(interval)
    for handler in target.handlers:
        if not any(isinstance(f, RepeatLimiter) for f in handler.filters):
            handler.addFilter(limiter)
    return limiter
