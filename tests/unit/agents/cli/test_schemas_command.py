"""``cxstream schemas register``: settings, subjects and secrets, before any registry is asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.cli.commands.schemas import load_schema_texts, redacted, subject_for
from agents.cli.main import main
from schemas import SCHEMA_DIR, SCHEMA_FILES
from streams.contracts.store import make_writer
from streams.errors import ConfigError
from streams.topics import Topics


def test_the_password_never_shows_in_a_redacted_url() -> None:
    url = "https://svc:p%40ss@registry.example:8443/apis/ccompat/v7"
    assert redacted(url) == "https://svc:***@registry.example:8443/apis/ccompat/v7"
    assert redacted("http://127.0.0.1:8081") == "http://127.0.0.1:8081"


def test_subjects_follow_the_topic_or_the_record_name() -> None:
    texts = load_schema_texts(None)
    topics = Topics("shop.")
    assert subject_for("purchases", texts["purchases"], topics, "topic") == ("shop.purchases-value")
    assert subject_for("health", texts["health"], topics, "topic") == "shop.customer-health-value"
    assert subject_for("purchases", texts["purchases"], topics, "record") == (
        "io.cxstream.v1.Purchase"
    )


def test_registered_text_is_what_cxstream_producers_register() -> None:
    """The same bytes as the encoders' auto-registration, so both find one schema id."""
    texts = load_schema_texts(None)
    assert set(texts) == set(SCHEMA_FILES)
    for kind, name in SCHEMA_FILES.items():
        schema = json.loads((SCHEMA_DIR / name).read_text())
        assert texts[kind] == make_writer(schema).schema_json


def test_a_schemas_dir_missing_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "purchase.avsc").write_text((SCHEMA_DIR / "purchase.avsc").read_text())
    with pytest.raises(ConfigError, match=r"ticket_event\.avsc is missing"):
        load_schema_texts(tmp_path)


def test_an_invalid_schema_file_is_named(tmp_path: Path) -> None:
    for name in SCHEMA_FILES.values():
        (tmp_path / name).write_text((SCHEMA_DIR / name).read_text())
    (tmp_path / "feedback.avsc").write_text('{"type": "record", "name": "F", "fields": [{}]}')
    with pytest.raises(ConfigError, match=r"feedback\.avsc: not a valid Avro record schema"):
        load_schema_texts(tmp_path)


def test_without_a_registry_url_the_fix_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
    assert main(["schemas", "register"]) == 2
    assert "--registry-url URL or set SCHEMA_REGISTRY_URL" in capsys.readouterr().err


def test_an_unknown_compatibility_level_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["schemas", "register", "--registry-url", "http://x", "--compatibility", "LOOSE"])
    assert "invalid choice: 'LOOSE'" in capsys.readouterr().err
