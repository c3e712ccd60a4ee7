"""Replay's reading side: kind detection, line numbers and reasons of rejected records."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import fastavro
import pytest

import schemas
from agents.cli.commands.replay import Item, read_items, replay, split_kind
from agents.cli.main import main
from streams.contracts.mapping import event_to_record
from tests.unit.contracts import samples

PURCHASE = event_to_record(samples.purchase())
TICKET = event_to_record(samples.ticket())
FEEDBACK = event_to_record(samples.feedback())
PROFILE = event_to_record(samples.profile())


def write_lines(path: Path, lines: list[Any]) -> Path:
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_split_kind_forms() -> None:
    assert split_kind({"kind": "feedback", "event": FEEDBACK}, None) == ("feedback", FEEDBACK)
    assert split_kind({"event_kind": "purchases", **PURCHASE}, None) == ("purchases", PURCHASE)
    assert split_kind({"kind": "tickets", **TICKET}, None) == ("tickets", TICKET)
    # a purchase's own kind field is not an event kind: --kind (the default) decides
    assert split_kind(PURCHASE, "purchases") == ("purchases", PURCHASE)
    assert split_kind(PURCHASE, None) == (None, PURCHASE)


def test_rejections_carry_line_numbers_and_reasons(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "mixed.jsonl",
        [
            {"event_kind": "purchases", **PURCHASE},  # 1 ok
            "{not json",  # 2
            "",  # 3 blank: skipped
            {"kind": "feedback", "event": {**FEEDBACK, "score": 11}},  # 4 out of range
            {"kind": "tickets", **TICKET},  # 5 ok
            [1, 2],  # 6 not an object
            {**PROFILE},  # 7 no kind
            {"event_kind": "orders", **PURCHASE},  # 8 unknown kind
            {"event_kind": "purchases", **PURCHASE, "currency": "eur"},  # 9 invalid currency
        ],
    )
    outcome = replay([path], None, None, show=False)
    assert dict(outcome.valid) == {"purchases": 1, "tickets": 1}
    assert [(line, reason) for _, line, reason, _ in outcome.rejections] == [
        (2, "invalid_json"),
        (4, "nps_out_of_range"),
        (6, "not_an_object"),
        (7, "unknown_kind"),
        (8, "unknown_kind"),
        (9, "invalid_currency"),
    ]
    assert all(p == str(path) for p, *_ in outcome.rejections)


def test_kind_flag_applies_to_lines_without_one(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "profiles.jsonl", [PROFILE, {**PROFILE, "event_id": "x2"}])
    outcome = replay([path], "profiles", None, show=False)
    assert dict(outcome.valid) == {"profiles": 2} and not outcome.rejections


def write_avro(path: Path, kind: str, records: list[dict[str, Any]]) -> Path:
    with path.open("wb") as fh:
        fastavro.writer(fh, fastavro.parse_schema(schemas.load_schema(kind)), records)
    return path


def test_avro_container_kind_comes_from_its_schema(tmp_path: Path) -> None:
    bad = {**TICKET, "event_id": ""}  # valid Avro, refused by validation
    path = write_avro(tmp_path / "t.avro", "tickets", [TICKET, bad, {**TICKET, "event_id": "t3"}])
    items = list(read_items([path], None))
    assert [(i.kind, i.line) for i in items] == [("tickets", 1), ("tickets", 2), ("tickets", 3)]
    # timestamp-millis came back as datetimes from fastavro and went out as epoch ms again
    assert json.loads(items[0].value)["occurred_at"] == TICKET["occurred_at"]
    outcome = replay([path], None, None, show=False)
    assert outcome.valid["tickets"] == 2
    assert [(line, reason) for _, line, reason, _ in outcome.rejections] == [
        (2, "empty_identifier")
    ]


def test_corrupt_avro_container_is_reported_not_raised(tmp_path: Path) -> None:
    good = write_avro(tmp_path / "p.avro", "purchases", [PURCHASE] * 3)
    cut = tmp_path / "cut.avro"
    cut.write_bytes(good.read_bytes()[:-24])
    outcome = replay([cut], None, None, show=False)
    assert outcome.rejections and outcome.rejections[0][2] == "bad_avro_file"


def test_offsets_run_on_across_files(tmp_path: Path) -> None:
    a = write_lines(tmp_path / "a.jsonl", [{"event_kind": "purchases", **PURCHASE}])
    b = write_lines(tmp_path / "b.jsonl", [{"event_kind": "purchases", **PURCHASE}])
    items: list[Item] = list(read_items([a, b], None))
    assert items[-1].offset == a.stat().st_size + b.stat().st_size


def test_dry_run_exit_status_and_json_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_lines(tmp_path / "good.jsonl", [{"event_kind": "purchases", **PURCHASE}])
    assert main(["replay", str(good), "--dry-run", "--no-progress"]) == 0
    bad = write_lines(tmp_path / "bad.jsonl", ["nope", {"event_kind": "purchases", **PURCHASE}])
    capsys.readouterr()
    assert main(["replay", str(bad), "--dry-run", "--json", "--no-progress"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["dry_run"] is True and report["delivery"] is None
    assert report["valid"] == {"purchases": 1}
    assert report["rejected"][0]["line"] == 1 and report["rejected"][0]["file"] == str(bad)


def test_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "nope.jsonl"), "--dry-run"]) == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_dry_run_shows_time_range_error_counts_and_a_seconds_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seconds = {**PURCHASE, "occurred_at": PURCHASE["occurred_at"] // 1000}  # s sent as ms
    old = {**PURCHASE, "event_id": "p-old", "occurred_at": 1_104_537_600_000}  # 2005-01-01
    path = write_lines(
        tmp_path / "history.jsonl",
        [
            {"event_kind": "purchases", **PURCHASE},
            {"event_kind": "purchases", **old},  # old history is fine for replay
            {"event_kind": "purchases", **seconds},
            {"event_kind": "purchases", **seconds, "event_id": "p-3"},
            {"event_kind": "purchases", **PURCHASE, "occurred_at": 86_400_000},  # 1970-01-02
            {"event_kind": "purchases", **PURCHASE, "amount_minor": 2**63 - 1},
            {"event_kind": "purchases", **PURCHASE, "customer_id": "c" * 1_000_000},
            {"kind": "feedback", "event": {**FEEDBACK, "score": 11}},
            "{oops",
        ],
    )
    assert main(["replay", str(path), "--dry-run", "--json", "--no-progress"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] == {"purchases": 2}
    assert report["event_time"] == {
        "min": "2005-01-01T00:00:00.000Z",
        "max": "2023-11-14T21:13:19.750Z",
    }
    assert {(e["field"], e["reason"]): e["count"] for e in report["errors"]} == {
        ("occurred_at", "event_time_out_of_range"): 3,
        ("amount_minor", "amount_out_of_range"): 1,
        ("customer_id", "identifier_too_long"): 1,
        ("score", "nps_out_of_range"): 1,
        ("-", "invalid_json"): 1,
    }
    assert report["warnings"] == [
        "2 record(s) have times that look like seconds sent as milliseconds"
        f" (first: {path}:3): send epoch milliseconds"
    ]

    assert main(["replay", str(path), "--dry-run", "--no-progress"]) == 1
    text = " ".join(capsys.readouterr().out.split())
    assert "event time of the valid records: 2005-01-01T00:00:00.000Z .. 2023-11-14" in text
    assert "rejected, by field and reason" in text
    assert "warning: 2 record(s) have times that look like seconds sent as milliseconds" in text


def test_replay_refuses_the_future_but_not_the_past(tmp_path: Path) -> None:
    future = round((time.time() + 3600) * 1000)
    path = write_lines(
        tmp_path / "f.jsonl",
        [
            {"event_kind": "purchases", **PURCHASE, "occurred_at": future},
            {"event_kind": "purchases", **PURCHASE, "occurred_at": 946_684_800_000},  # 2000
        ],
    )
    outcome = replay([path], None, None, show=False)
    assert outcome.valid == {"purchases": 1}
    assert [(line, reason) for _, line, reason, _ in outcome.rejections] == [
        (1, "event_time_out_of_range")
    ]
