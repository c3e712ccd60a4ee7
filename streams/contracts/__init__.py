"""Event contracts: Avro schemas, wire formats, CloudEvents headers, decoding, dead letters.

Everything the pipeline and other services need is re-exported here; see
docs/contracts.md for the contract itself.
"""

from streams.contracts.cloudevents import CE_TYPES, SPECVERSION, dedup_key, iso_utc
from streams.contracts.codec import (
    AVRO_SINGLE_OBJECT,
    CONFLUENT_AVRO,
    CONTENT_TYPE_HEADER,
    FORMATS,
    JSON,
)
from streams.contracts.confluent import ConfluentRegistry, RegistryClient
from streams.contracts.dead_letter import (
    DLQ_EXCEPTION,
    DLQ_HEADERS,
    DLQ_ORIGINAL_SHA256,
    DLQ_ORIGINAL_SIZE,
    DLQ_TRUNCATED,
    dead_letter,
    dead_letter_message,
)
from streams.contracts.decode import MessageLike, decode_event, decode_message, record_seconds
from streams.contracts.encode import (
    decode_alert,
    decode_snapshot,
    encode_alert,
    encode_event,
    encode_snapshot,
)
from streams.contracts.limits import (
    DEFAULT_DLQ_MAX_BYTES,
    DEFAULT_MAX_FUTURE_SKEW,
    LIVE_WINDOW,
    REPLAY_WINDOW,
    EventTimeWindow,
)
from streams.contracts.mapping import record_timestamp
from streams.contracts.results import (
    REASON_CODES,
    RETRIABLE_REASONS,
    SKIP_REASONS,
    Decoded,
    ReasonCode,
    Rejected,
    late_event,
    processing_failure,
)
from streams.contracts.store import SchemaStore, default_store

__all__ = [
    "AVRO_SINGLE_OBJECT",
    "CE_TYPES",
    "CONFLUENT_AVRO",
    "CONTENT_TYPE_HEADER",
    "DEFAULT_DLQ_MAX_BYTES",
    "DEFAULT_MAX_FUTURE_SKEW",
    "DLQ_EXCEPTION",
    "DLQ_HEADERS",
    "DLQ_ORIGINAL_SHA256",
    "DLQ_ORIGINAL_SIZE",
    "DLQ_TRUNCATED",
    "FORMATS",
    "JSON",
    "LIVE_WINDOW",
    "REASON_CODES",
    "REPLAY_WINDOW",
    "RETRIABLE_REASONS",
    "SKIP_REASONS",
    "SPECVERSION",
    "ConfluentRegistry",
    "Decoded",
    "EventTimeWindow",
    "MessageLike",
    "ReasonCode",
    "RegistryClient",
    "Rejected",
    "SchemaStore",
    "dead_letter",
    "dead_letter_message",
    "decode_alert",
    "decode_event",
    "decode_message",
    "decode_snapshot",
    "dedup_key",
    "default_store",
    "encode_alert",
    "encode_event",
    "encode_snapshot",
    "iso_utc",
    "late_event",
    "processing_failure",
    "record_seconds",
    "record_timestamp",
]
