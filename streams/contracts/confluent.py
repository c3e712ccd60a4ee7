"""Confluent Schema Registry wire format: magic byte ``0``, 4-byte big-endian schema id, Avro.

A registry *client* is needed only to look schemas up by id and to register them; it is
passed in (``agents.settings.connect_registry`` adapts confluent-kafka's), so no client
library is imported here. Framing and decoding are done here with fastavro so that every
format shares one parsed reader schema and one decode path. Parsed writer schemas are cached
per id, so the registry is asked once per schema, not once per message.
"""

from __future__ import annotations

import json
from typing import Protocol

from streams.contracts.results import RejectError
from streams.contracts.store import ReaderSchema, WriterSchema, make_writer
from streams.errors import ContractError, CxStreamError

MAGIC_BYTE = 0
HEADER_LEN = 5


class RegistryClient(Protocol):
    """What cxstream needs of a schema registry: a schema by id, and registration.

    Errors propagate as the client raises them; one with ``http_status_code`` 404 and a
    registry ``error_code`` >= 40400 means the id does not exist.
    """

    def schema_str(self, schema_id: int) -> str: ...

    def register_avro(self, subject: str, schema_json: str) -> int: ...


class ConfluentRegistry:
    """A registry client plus caches of parsed writer schemas and registered ids."""

    __slots__ = ("_by_id", "_ids", "client")

    def __init__(self, client: RegistryClient) -> None:
        self.client = client
        self._by_id: dict[int, WriterSchema] = {}
        self._ids: dict[tuple[str, str], int] = {}

    def writer(self, schema_id: int) -> WriterSchema:
        """The parsed schema with ``schema_id``; raises :class:`RejectError` if unavailable."""
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        try:
            schema_str = self.client.schema_str(schema_id)
        except Exception as exc:
            if _not_found(exc):
                raise RejectError("unknown_schema", f"schema id {schema_id}: {exc}") from exc
            # Down, 5xx, auth refused, or a 404 without a registry error code (a wrong URL
            # path): none is the record's fault, so it is retried, never dead-lettered.
            raise RejectError("registry_unavailable", f"schema id {schema_id}: {exc}") from exc
        try:
            writer = make_writer(json.loads(schema_str))
        except (ContractError, ValueError, TypeError, AttributeError) as exc:
            raise RejectError("unknown_schema", f"schema id {schema_id} unusable: {exc}") from exc
        self._by_id[schema_id] = writer
        return writer

    def schema_id(self, reader: ReaderSchema, subject: str | None = None) -> int:
        """Register (or look up) the current schema of ``reader`` under ``subject``.

        ``subject`` defaults to the record's full name (RecordNameStrategy), because the
        encoders do not know the topic; pass ``f"{topic}-value"`` for TopicNameStrategy.
        """
        subject = subject or reader.fullname
        cache_key = (subject, reader.fullname)
        schema_id = self._ids.get(cache_key)
        if schema_id is None:
            schema_id = int(self.client.register_avro(subject, reader.writer.schema_json))
            self._ids[cache_key] = schema_id
            self._by_id.setdefault(schema_id, reader.writer)
        return schema_id


class RegistryUnavailable(CxStreamError):
    """The registry could not be asked for a record's schema: the batch must be retried."""


def _not_found(exc: BaseException) -> bool:
    """The registry itself answered that the schema id does not exist (HTTP 404, 404xx)."""
    code = getattr(exc, "error_code", None)
    return getattr(exc, "http_status_code", None) == 404 and isinstance(code, int) and code >= 40400


def split_frame(value: bytes) -> tuple[int, int]:
    """``(schema_id, payload offset)`` of a Confluent-framed value."""
    if len(value) < HEADER_LEN or value[0] != MAGIC_BYTE:
        raise RejectError("undecodable", "not Confluent wire format (magic byte 0 + 4-byte id)")
    return int.from_bytes(value[1:HEADER_LEN], "big"), HEADER_LEN


def frame(schema_id: int) -> bytes:
    """The 5-byte Confluent header for ``schema_id``."""
    return bytes((MAGIC_BYTE,)) + schema_id.to_bytes(4, "big")
