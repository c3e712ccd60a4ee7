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
from streams.contracts.dead_letter import DLQ_HEADERS, dead_letter, dead_letter_message
from streams.contracts.decode import MessageLike, decode_event, decode_message
from streams.contracts.encode import (
    decode_alert,
    decode_snapshot,
    encode_alert,
    encode_event,
    encode_snapshot,
)
from streams.contracts.results import (
    REASON_CODES,
    RETRIABLE_REASONS,
    SKIP_REASONS,
    Decoded,
    ReasonCode,
    Rejected,
)
from streams.contracts.store import INPUT_KINDS, SchemaStore, default_store
from streams.contracts.validation import DEFAULT_MAX_FUTURE_SKEW

__all__ = [
    "AVRO_SINGLE_OBJECT",
    "CE_TYPES",
    "CONFLUENT_AVRO",
    "CONTENT_TYPE_HEADER",
    "DEFAULT_MAX_FUTURE_SKEW",
    "DLQ_HEADERS",
    "FORMATS",
    "INPUT_KINDS",
    "JSON",
    "REASON_CODES",
    "RETRIABLE_REASONS",
    "SKIP_REASONS",
    "SPECVERSION",
    "ConfluentRegistry",
    "Decoded",
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
]
