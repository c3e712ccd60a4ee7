"""``cxstream fit FILE``: learn the churn model's population parameters from data.

From a purchase log (the same exports ``backtest`` reads): every customer's statistics at
``--as-of`` (default: the log's last day), BG/NBD or MBG/NBD per acquisition cohort, Gamma-Gamma
spend and the dormancy factor (learned on an inner split). From ``--stats`` (one row per
customer: ``x``, ``t_x_days``, ``T_days``, optional ``orders``, ``mean_value``, ``segment``):
the same fits without dormancy, which needs order dates. Writes the versioned parameter records
as JSON (``--out``); ``--publish`` also puts them on the compacted ``cx.model-parameters``
topic, where every worker picks up the latest (see agents.worker.model_params). The population
record ("all") also carries the churn alerting learned with it (cut and value-at-risk bands).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from agents.cli.commands.backtest import add_reading_options
from agents.cli.commands.backtest_log import parse_mapping, read_purchase_log
from agents.cli.commands.common import add_connection_flags, settings_from_args
from agents.cli.commands.export_table import read_table
from agents.cli.commands.fit_health import latest_snapshots, stats_from_snapshots
from agents.cli.commands.fit_publish import publish
from agents.cli.commands.log_cells import day_zero, option_day
from streams.evaluation.backtest import WEEK_DAYS, BacktestError
from streams.evaluation.learned import fit_log
from streams.fitting import CustomerStats, ParamRecord
from streams.fitting.alerting import learn_alerting
from streams.fitting.churn import MIN_SEGMENT_CUSTOMERS, cohort_label
from streams.fitting.record import fit_segments

STATS_COLUMNS = ("x", "t_x_days", "T_days")


def _column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(pc.cast(table[name], pa.float64()).to_numpy(zero_copy_only=False))


def fit_from_health(args: argparse.Namespace, fitted_at: str) -> dict[str, ParamRecord]:
    """Every customer's latest snapshot on the health topic: the statistics a worker keeps."""
    snapshots = latest_snapshots(settings_from_args(args))
    as_of = option_day(args.as_of, "--as-of") * 86400.0 + 86400.0 if args.as_of else None
    stats, orders, mean_value, _ = stats_from_snapshots(snapshots, as_of)
    return fit_stats(stats, ["all"] * len(stats), fitted_at, args, orders, mean_value)


def fit_stats(
    stats: CustomerStats,
    segments: list[str],
    fitted_at: str,
    args: argparse.Namespace,
    orders: np.ndarray | None,
    mean_value: np.ndarray | None,
) -> dict[str, ParamRecord]:
    """Segment fits plus the churn alerting learned on the population (values: minor units)."""
    records = fit_segments(
        stats,
        segments,
        fitted_at,
        min_customers=args.min_segment,
        orders=orders,
        mean_value=mean_value,
    )
    pop = records["all"]
    alerting = learn_alerting(pop, stats, float(args.horizon), mean_value)
    records["all"] = dataclasses.replace(pop, alerting=alerting, version="")
    return records


def fit_from_stats(path: Path, fitted_at: str, args: argparse.Namespace) -> dict[str, ParamRecord]:
    notes: list[str] = []
    table = read_table(path, notes=notes, sheet=args.sheet)
    for note in notes:
        Console(stderr=True).print(f"{path.name}: {note}", highlight=False)
    missing = [c for c in STATS_COLUMNS if c not in table.column_names]
    if missing:
        raise BacktestError(f"{path}: --stats needs columns {', '.join(missing)}")
    days = [_column(table, c) for c in STATS_COLUMNS]
    stats = CustomerStats(days[0], days[1] / WEEK_DAYS, days[2] / WEEK_DAYS)
    has = set(table.column_names)
    orders = _column(table, "orders") if "orders" in has else None
    mean_value = _column(table, "mean_value") if "mean_value" in has else None  # minor units
    segments = (
        pc.cast(table["segment"], pa.string()).to_numpy(zero_copy_only=False).astype(str)
        if "segment" in has
        else np.full(len(stats), "all")
    )
    return fit_stats(stats, list(segments), fitted_at, args, orders, mean_value)


def fit_from_log(args: argparse.Namespace, fitted_at: str) -> dict[str, ParamRecord]:
    zero = day_zero(args)
    mapping = parse_mapping(args.map or [])
    reading = read_purchase_log(
        Path(args.file), mapping, args.currency, args.date_format, zero, args.sheet, args.header
    )
    console = Console(stderr=True)
    for note in reading.notes:
        console.print(f"{args.file}: {note}")
    log = reading.log
    as_of = (
        option_day(args.as_of, "--as-of", zero) if args.as_of else float(np.floor(log.day.max()))
    )
    records, how = fit_log(log, as_of, float(args.horizon), fitted_at, args.minor_per_unit)
    console.print(f"dormancy: {how}")
    return records


def run(args: argparse.Namespace) -> int:
    fitted_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    if args.from_health:
        records = fit_from_health(args, fitted_at)
    elif args.file is None:
        raise BacktestError("give a FILE (orders, or statistics with --stats) or --from-health")
    elif args.stats:
        records = fit_from_stats(Path(args.file), fitted_at, args)
    else:
        records = fit_from_log(args, fitted_at)
    elapsed = time.perf_counter() - started
    out = Path(args.out)
    out.write_text(json.dumps({k: r.to_dict() for k, r in records.items()}, indent=2) + "\n")
    table = Table(title=f"parameter records ({elapsed:.1f} s) -> {out}")
    for name in ("segment", "model", "customers", "r", "alpha", "a", "b", "dormant", "version"):
        table.add_column(name)
    for name, rec in records.items():
        p = rec.params
        table.add_row(
            name,
            rec.model,
            str(rec.n),
            *(f"{p[k]:.4g}" for k in ("r", "alpha", "a", "b")),
            f"{p.get('dormant', 0.0):.4g}",
            rec.version,
        )
    Console().print(table)
    alerting = records["all"].alerting or {}
    Console().print(
        f"churn alert at P(loss) >= {alerting.get('alert_at', float('nan')):.3f} over "
        f"{alerting.get('horizon_days', args.horizon):g} days; value-at-risk bands (minor units) "
        f"{alerting.get('value_bands_minor')}"
    )
    if args.publish:
        topic = publish(settings_from_args(args), records)
        Console().print(f"published {len(records)} record(s) to {topic}: workers now judge with "
                        f"{records['all'].version}")  # fmt: skip
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="fit the churn model's parameters on a purchase log or customers' statistics",
        description=__doc__,
    )
    parser.add_argument(
        "file", metavar="FILE", nargs="?", help="orders (or statistics with --stats)"
    )
    parser.add_argument(
        "--from-health",
        action="store_true",
        help="read every customer's statistics from the compacted health topic instead of FILE",
    )
    parser.add_argument("--stats", action="store_true", help="FILE holds per-customer statistics")
    parser.add_argument("--as-of", help="date the statistics are taken at (default: last order)")
    parser.add_argument(
        "--horizon", type=float, default=270.0, help="loss horizon in days (default 270)"
    )
    parser.add_argument("--map", action="append", metavar="COLUMN=FIELD", help="as in backtest")
    parser.add_argument("--currency", help="the log's currency")
    parser.add_argument("--date-format", help="strptime format when dates are not ISO 8601")
    add_reading_options(parser)
    parser.add_argument(
        "--min-segment",
        type=int,
        default=MIN_SEGMENT_CUSTOMERS,
        help=f"fit a segment alone from this many customers (default {MIN_SEGMENT_CUSTOMERS})",
    )
    parser.add_argument("--out", default="params.json", help="where to write the records")
    parser.add_argument(
        "--minor-per-unit",
        type=float,
        default=100.0,
        help="minor units per unit of the log's amounts, for the value-at-risk bands (default "
        "100; --stats mean_value is already in minor units)",
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="also publish the records to the compacted model-parameters topic for the workers",
    )
    add_connection_flags(parser)
    parser.set_defaults(run=run)


__all__ = ["add_parser", "cohort_label", "run"]
