"""Every command is registered and explains itself."""

from __future__ import annotations

import pytest

from agents.cli.main import COMMANDS, build_parser, main

MINE = ("simulate", "replay", "customer", "alerts", "topics")


def test_commands_are_registered() -> None:
    assert set(MINE) <= set(COMMANDS)


@pytest.mark.parametrize(
    "argv",
    [[name, "--help"] for name in MINE if name != "topics"]
    + [["topics", "create", "--help"], ["topics", "list", "--help"]],
)
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--bootstrap-servers" in out and "--topic-prefix" in out


def test_topics_needs_an_action() -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["topics"])
    assert exit_info.value.code == 2


def test_alert_filters_are_validated() -> None:
    parser = build_parser()
    args = parser.parse_args(["alerts", "--type", "churn_risk", "--min-priority", "high"])
    assert args.types == ["churn_risk"] and args.min_priority == "high"
    with pytest.raises(SystemExit):
        parser.parse_args(["alerts", "--min-priority", "urgent"])
