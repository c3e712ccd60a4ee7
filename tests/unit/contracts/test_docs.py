"""docs/contracts.md stays true: its producer examples produce messages cxstream accepts."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest

from streams.contracts import REASON_CODES, Decoded, decode_event

DOC = Path(__file__).resolve().parents[3] / "docs" / "contracts.md"
KINDS = {"cx.purchases": "purchases", "cx.support-tickets": "tickets"}


def test_producer_examples_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, Any, Any, Any]] = []

    class StubProducer:
        def __init__(self, conf: dict[str, Any]) -> None:
            pass

        def produce(
            self, topic: str, key: Any = None, value: Any = None, headers: Any = None
        ) -> None:
            sent.append((topic, key, value, headers))

        def flush(self, timeout: float | None = None) -> int:
            return 0

    monkeypatch.setattr(confluent_kafka, "Producer", StubProducer)
    examples = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[:2]
    for code in examples:
        exec(compile(code, str(DOC), "exec"), {})
    assert [topic for topic, *_ in sent] == list(KINDS)
    for topic, key, value, headers in sent:
        result = decode_event(KINDS[topic], key, value, headers, now=time.time())
        assert isinstance(result, Decoded), result


def test_every_reason_code_is_documented() -> None:
    text = DOC.read_text()
    assert [code for code in REASON_CODES if f"`{code}`" not in text] == []
