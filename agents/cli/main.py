"""The ``cxstream`` command: one sub-command per job, each in ``agents.cli.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys

from streams import __version__
from streams.compiled_model import prefer_build
from streams.errors import CxStreamError

COMMANDS = (
    "worker",
    "simulate",
    "replay",
    "import",
    "customer",
    "alerts",
    "topics",
    "demo",
    "backtest",
    "fit",
    "schemas",
    "report",
)
#: Commands whose module is not named after them (``import`` is a Python keyword).
MODULES = {"import": "import_history"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxstream",
        description="Customer-lifecycle stream processor: churn-risk and referral alerts.",
    )
    parser.add_argument("--version", action="version", version=f"cxstream {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module_name = MODULES.get(name, name.replace("-", "_"))
        module = importlib.import_module(f"agents.cli.commands.{module_name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    prefer_build()  # before any command imports the model: the compiled build when current
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        result: int = args.run(args)
    except CxStreamError as exc:
        print(f"cxstream {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result
