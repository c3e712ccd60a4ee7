"""Parsed Avro schemas, indexed by record kind and by CRC-64-AVRO fingerprint.

Schemas are parsed once at import (fastavro parsing costs far more than decoding a message).
``logicalType`` annotations are stripped from the *parsed* copies: timestamps stay integer
epoch milliseconds on the hot path instead of becoming ``datetime`` objects that would be
converted straight back to float seconds. Stripping does not change the parsing canonical
form, so fingerprints and registry ids are those of the published ``.avsc`` files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

import schemas
from streams.errors import ContractError

SINGLE_OBJECT_MARKER = b"\xc3\x01"  # Avro spec: single-object encoding, format version 1
OUTPUT_KINDS: tuple[str, ...] = ("alerts", "health")


def strip_logical_types(schema: Any) -> Any:
    """A deep copy of ``schema`` without ``logicalType`` keys (see module docstring)."""
    if isinstance(schema, dict):
        return {k: strip_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [strip_logical_types(v) for v in schema]
    return schema


def schema_fingerprint(schema: Mapping[str, Any]) -> bytes:
    """The 8-byte CRC-64-AVRO fingerprint, little-endian, as written after ``C3 01``."""
    canonical = to_parsing_canonical_form(parse_schema(dict(schema)))
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


def _fullname(schema: Mapping[str, Any]) -> str:
    name = str(schema["name"])
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


@dataclass(frozen=True, slots=True)
class WriterSchema:
    """A schema some producer may have written with, ready for ``schemaless_reader``."""

    fullname: str
    fingerprint: bytes
    parsed: Any  # fastavro-parsed, logical types stripped
    schema_json: str  # the published text, logical types included


@dataclass(frozen=True, slots=True)
class ReaderSchema:
    """The current schema of one record kind plus what the JSON path needs to resolve it."""

    kind: str
    writer: WriterSchema
    single_object_prefix: bytes  # C3 01 + fingerprint
    defaults: tuple[tuple[str, Any], ...]  # top-level fields JSON may omit
    enum_defaults: tuple[tuple[str, frozenset[str], str], ...]  # field, symbols, default

    @property
    def fullname(self) -> str:
        return self.writer.fullname

    @property
    def parsed(self) -> Any:
        return self.writer.parsed


def make_writer(schema: Mapping[str, Any]) -> WriterSchema:
    """Parse one published schema; raises :class:`ContractError` if it is not valid Avro."""
    if schema.get("type") != "record":
        raise ContractError(f"cxstream schemas must be records, got {schema.get('type')!r}")
    try:
        parsed = parse_schema(strip_logical_types(dict(schema)))
        fp = schema_fingerprint(schema)
    except Exception as exc:  # fastavro raises several unrelated types
        raise ContractError(f"invalid Avro schema {schema.get('name')!r}: {exc}") from exc
    return WriterSchema(_fullname(schema), fp, parsed, json.dumps(schema, separators=(",", ":")))


def _enum_default(field_type: Any) -> tuple[frozenset[str], str] | None:
    if (
        isinstance(field_type, dict)
        and field_type.get("type") == "enum"
        and "default" in field_type
    ):
        return frozenset(field_type["symbols"]), str(field_type["default"])
    return None


def make_reader(kind: str, schema: Mapping[str, Any]) -> ReaderSchema:
    """Build the reader view of ``schema`` for record kind ``kind``."""
    writer = make_writer(schema)
    defaults: list[tuple[str, Any]] = []
    enum_defaults: list[tuple[str, frozenset[str], str]] = []
    for field in schema["fields"]:
        if "default" in field:
            defaults.append((field["name"], field["default"]))
        enum = _enum_default(field["type"])
        if enum is not None:
            enum_defaults.append((field["name"], *enum))
    return ReaderSchema(
        kind=kind,
        writer=writer,
        single_object_prefix=SINGLE_OBJECT_MARKER + writer.fingerprint,
        defaults=tuple(defaults),
        enum_defaults=tuple(enum_defaults),
    )


class SchemaStore:
    """Reader schema per record kind, and every known writer schema by fingerprint.

    Single-object encoding carries only a fingerprint, so a reader can decode a message
    only if the writer's exact schema version is here: the current ``.avsc`` files plus
    every version kept in ``schemas/history/``.
    """

    __slots__ = ("_by_fingerprint", "readers")

    def __init__(
        self, current: Mapping[str, Mapping[str, Any]], known: Iterable[Mapping[str, Any]] = ()
    ) -> None:
        self.readers: dict[str, ReaderSchema] = {k: make_reader(k, s) for k, s in current.items()}
        self._by_fingerprint: dict[bytes, WriterSchema] = {}
        for reader in self.readers.values():
            self._by_fingerprint[reader.writer.fingerprint] = reader.writer
        for schema in known:
            self.add_writer(schema)

    @classmethod
    def from_files(cls) -> SchemaStore:
        """The store of the installed package: ``schemas/*.avsc`` plus ``schemas/history``."""
        current = {kind: schemas.load_schema(kind) for kind in schemas.SCHEMA_FILES}
        return cls(current, schemas.history_schemas())

    def add_writer(self, schema: Mapping[str, Any]) -> WriterSchema:
        """Make messages written with ``schema`` readable (idempotent)."""
        writer = make_writer(schema)
        return self._by_fingerprint.setdefault(writer.fingerprint, writer)

    def writer(self, fp: bytes) -> WriterSchema | None:
        """The writer schema with fingerprint ``fp`` (8 bytes), if known."""
        return self._by_fingerprint.get(fp)

    def reader(self, kind: str) -> ReaderSchema:
        """The reader schema of ``kind``; unknown kinds are a programming error."""
        try:
            return self.readers[kind]
        except KeyError:
            raise ContractError(
                f"unknown record kind {kind!r}; expected one of {sorted(self.readers)}"
            ) from None


_default_store: SchemaStore | None = None


def default_store() -> SchemaStore:
    """The process-wide store, parsed on first use."""
    global _default_store
    if _default_store is None:
        _default_store = SchemaStore.from_files()
    return _default_store
