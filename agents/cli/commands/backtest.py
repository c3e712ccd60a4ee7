"""``cxstream backtest LOG --cutoff DATE``: would the loss probability have found the customers
this business lost? Fit on the log up to the cutoff, score every customer, compare with who
bought again within the horizon, next to the baselines a CX analyst would try first."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agents.cli.commands.backtest_data import write_data
from agents.cli.commands.backtest_log import parse_mapping, read_purchase_log
from agents.cli.commands.backtest_report import summary_tables, write_report
from agents.cli.commands.export_header import add_no_header_option
from agents.cli.commands.log_cells import day_zero, option_day
from streams.evaluation.backtest import BacktestError, run_backtest

LARGE_LOG = 50_000  # customers: show a progress bar from here on


def add_reading_options(parser: argparse.ArgumentParser) -> None:
    """``--day-zero``, ``--sheet`` and ``--no-header``, shared by backtest and fit."""
    parser.add_argument(
        "--sheet",
        metavar="NAME",
        help="a workbook's sheet to read (default the first; other sheets with the same "
        "columns are read after it)",
    )
    parser.add_argument(
        "--day-zero",
        metavar="DATE",
        help="the time column counts days (dunnhumby's DAY 1..711): day N is N days after "
        "DATE; the cutoff may then be a day number too",
    )
    add_no_header_option(parser)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    if args.horizon <= 0:
        raise BacktestError("--horizon must be a positive number of days")
    if args.alert_at is not None and not 0.0 < args.alert_at < 1.0:
        raise BacktestError("--alert-at must be a probability between 0 and 1")
    zero = day_zero(args)
    cutoff = option_day(args.cutoff, "--cutoff", zero)
    path = Path(args.log)
    with console.status(f"reading {path}", spinner="dots"):
        reading = read_purchase_log(
            path,
            parse_mapping(args.map or []),
            args.currency,
            args.date_format,
            zero,
            args.sheet,
            args.header,
        )
    for note in reading.notes:
        console.print(f"{path.name}: {note}")
    log = reading.log
    n = len(log.customer_ids)
    fitted_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with Progress(
        TextColumn("scoring customers"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=n < LARGE_LOG,
    ) as bar:
        task = bar.add_task("score", total=n)
        result = run_backtest(
            log,
            cutoff,
            float(args.horizon),
            fitted_at,
            lambda k: bar.advance(task, k),
            alert_at=args.alert_at,
        )
    report = write_report(result, Path(args.out), path.name, reading.currency, reading.notes)
    write_data(result, Path(args.out), path.name, reading.currency, reading.notes)
    print(summary_tables(result))
    print(f"report: {report} (plots, metrics.json and scores.csv beside it)")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "backtest",
        help="score a real purchase log at a cutoff against what happened after it",
        description="Fit the churn model on a purchase export up to --cutoff, score every "
        "customer's loss probability (P(no purchase within --horizon days)) and compare with "
        "who really bought again, next to recency, RFM and plain BG/NBD. Writes a Markdown "
        "report with ROC, reliability and gains plots. Exits 2, naming the problem and the "
        "fix, on a log it cannot use (no repeat buyers, holdout too short, unparseable dates).",
    )
    parser.add_argument(
        "log", metavar="LOG", help="orders: .csv/.tsv/.txt, .xlsx/.xls/.ods, .jsonl or .parquet"
    )
    parser.add_argument("--cutoff", required=True, help="last day of the calibration period")
    parser.add_argument(
        "--horizon", type=float, default=270.0, help="days after the cutoff (default 270)"
    )
    parser.add_argument(
        "--map",
        action="append",
        metavar="COLUMN=FIELD",
        help="name a column: FIELD is customer_id, occurred_at, amount, unit_price, quantity, "
        "currency, order_id or status (repeatable; common names are found without it; a "
        "line-item export's value is quantity times unit_price, its lines of one order_id one "
        "purchase; negative rows are returns, and cancelled or refunded statuses, left out)",
    )
    parser.add_argument("--currency", help="the log's currency (refused if orders use others)")
    parser.add_argument(
        "--alert-at",
        type=float,
        help="alert when the loss probability reaches this (default: the cut the fitted model "
        "expects to give the best balanced accuracy, from calibration data only)",
    )
    parser.add_argument(
        "--date-format",
        help="strptime format, when the dates are neither ISO 8601 nor a form read by itself "
        "(12/1/2010 8:26 with the day order learned from the column, March 5, 2024, epoch "
        "seconds)",
    )
    add_reading_options(parser)
    parser.add_argument(
        "--out", default="backtest-report", help="report directory (default backtest-report)"
    )
    parser.set_defaults(run=run)
