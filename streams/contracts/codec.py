"""Wire formats, chosen by the ``content-type`` header (never by sniffing the bytes).

* ``application/vnd.cxstream.avro-single-object``: Avro single-object encoding, the
  default of cxstream producers; self-describing via the schema fingerprint, no registry.
* ``application/vnd.confluent.avro``: Confluent Schema Registry framing.
* ``application/json``: a plain JSON object with the Avro field names, validated against
  the same Avro schema (timestamps as epoch milliseconds, unions as bare values or null).

Every reader returns an Avro record dict shaped by the current reader schema; every
problem is raised as :class:`RejectError` with a stable reason code.
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any, Final

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.validation import ValidationError, validate

from streams.contracts.confluent import ConfluentRegistry, frame, split_frame
from streams.contracts.results import RejectError
from streams.contracts.store import SINGLE_OBJECT_MARKER, ReaderSchema, SchemaStore, WriterSchema
from streams.errors import ContractError

CONTENT_TYPE_HEADER: Final = "content-type"
AVRO_SINGLE_OBJECT: Final = "application/vnd.cxstream.avro-single-object"
CONFLUENT_AVRO: Final = "application/vnd.confluent.avro"
JSON: Final = "application/json"
FORMATS: Final = (AVRO_SINGLE_OBJECT, CONFLUENT_AVRO, JSON)
_FORMAT_SET = frozenset(FORMATS)
Record = dict[str, Any]


def normalize_content_type(raw: str) -> str | None:
    """The format of a header value, ignoring case and parameters (``; charset=...``)."""
    if raw in _FORMAT_SET:
        return raw
    media = raw.split(";", 1)[0].strip().lower()
    return media if media in _FORMAT_SET else None


def _read_avro(reader: ReaderSchema, writer: WriterSchema, value: bytes, start: int) -> Record:
    """Decode the Avro body at ``value[start:]``, resolving ``writer`` to ``reader``."""
    if writer.fullname != reader.fullname:
        raise RejectError(
            "schema_mismatch", f"{writer.fullname} is not readable as {reader.fullname}"
        )
    if writer.fingerprint == reader.writer.fingerprint:  # same canonical form: no resolution
        writer_parsed, resolve = reader.parsed, None
    else:
        writer_parsed, resolve = writer.parsed, reader.parsed
    buf = BytesIO(value)
    buf.seek(start)
    try:
        record = schemaless_reader(buf, writer_parsed, resolve)
    except SchemaResolutionError as exc:
        raise RejectError("schema_mismatch", f"cannot resolve {writer.fullname}: {exc}") from exc
    except Exception as exc:
        raise RejectError("undecodable", f"bad Avro body: {type(exc).__name__}: {exc}") from exc
    if buf.tell() != len(value):
        raise RejectError("undecodable", f"{len(value) - buf.tell()} trailing bytes after record")
    if not isinstance(record, dict):
        raise RejectError("undecodable", "Avro body is not a record")
    return record


def read_single_object(store: SchemaStore, reader: ReaderSchema, value: bytes) -> Record:
    """Decode Avro single-object encoding; the writer schema is found by its fingerprint."""
    if value[:2] != SINGLE_OBJECT_MARKER or len(value) < 10:
        raise RejectError("undecodable", "missing Avro single-object header C3 01 + fingerprint")
    fp = value[2:10]
    writer = reader.writer if fp == reader.writer.fingerprint else store.writer(fp)
    if writer is None:
        raise RejectError("unknown_schema", f"unknown schema fingerprint {fp.hex()}")
    return _read_avro(reader, writer, value, 10)


def read_confluent(
    reader: ReaderSchema, value: bytes, registry: ConfluentRegistry | None
) -> Record:
    """Decode Confluent framing; the writer schema comes from the registry (cached per id)."""
    schema_id, start = split_frame(value)
    if registry is None:
        raise RejectError("unknown_schema", "Confluent-framed message but no registry configured")
    return _read_avro(reader, registry.writer(schema_id), value, start)


def read_json(reader: ReaderSchema, value: bytes) -> Record:
    """Parse and validate JSON; fill defaults and unknown enum symbols like Avro resolution."""
    try:
        record = json.loads(value)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise RejectError("undecodable", f"invalid JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise RejectError("schema_mismatch", f"JSON {type(record).__name__}, expected an object")
    for name, default in reader.defaults:
        if name not in record:
            record[name] = list(default) if isinstance(default, list) else default
    for name, symbols, enum_default in reader.enum_defaults:
        symbol = record.get(name)
        if isinstance(symbol, str) and symbol not in symbols:
            record[name] = enum_default
    problem = validation_problem(reader, record)
    if problem is not None:
        raise RejectError("schema_mismatch", f"JSON does not match {reader.fullname}: {problem}")
    return record


def validation_problem(reader: ReaderSchema, record: Record) -> str | None:
    """Why ``record`` does not match the reader schema, or None if it does.

    fastavro's ``raise_errors=True`` is ~25x slower (it explains every union branch), so it
    only runs for the rare invalid record, to produce the explanation.
    """
    if validate(record, reader.parsed, raise_errors=False, strict=True):
        return None
    try:
        validate(record, reader.parsed, raise_errors=True, strict=True)
    except ValidationError as exc:
        return str(exc)
    return "invalid record"


def read_record(
    store: SchemaStore,
    reader: ReaderSchema,
    fmt: str,
    value: bytes,
    registry: ConfluentRegistry | None,
) -> Record:
    """Decode ``value`` written in format ``fmt`` (already normalised) for ``reader``."""
    if fmt == AVRO_SINGLE_OBJECT:
        return read_single_object(store, reader, value)
    if fmt == JSON:
        return read_json(reader, value)
    return read_confluent(reader, value, registry)


def write_record(
    reader: ReaderSchema,
    record: Record,
    fmt: str,
    registry: ConfluentRegistry | None = None,
    subject: str | None = None,
) -> bytes:
    """Encode ``record`` in format ``fmt``; raises :class:`ContractError` if it cannot."""
    if fmt == JSON:
        return _write_json(reader, record)
    buf = BytesIO()
    if fmt == AVRO_SINGLE_OBJECT:
        buf.write(reader.single_object_prefix)
    elif fmt == CONFLUENT_AVRO:
        if registry is None:
            raise ContractError("the Confluent format needs a ConfluentRegistry")
        buf.write(frame(registry.schema_id(reader, subject)))
    else:
        raise ContractError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    try:
        schemaless_writer(buf, reader.parsed, record)
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
        raise ContractError(f"cannot encode {reader.fullname}: {exc}") from exc
    return buf.getvalue()


def _write_json(reader: ReaderSchema, record: Record) -> bytes:
    """Validate like the reader will, so cxstream never produces JSON it would reject."""
    problem = validation_problem(reader, record)
    if problem is not None:
        raise ContractError(f"cannot encode {reader.fullname} as JSON: {problem}")
    try:
        text = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode()
    except ValueError as exc:  # NaN or infinity; UnicodeEncodeError (lone surrogates)
        raise ContractError(f"cannot encode {reader.fullname} as JSON: {exc}") from exc
