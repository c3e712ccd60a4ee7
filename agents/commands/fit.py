"""``cxstream fit FILE``: learn the churn model's population parameters from data.

From a purchase log (the same exports ``backtest`` reads): every customer's statistics at
``--as-of`` (default: the log's last day), BG/NBD or MBG/NBD per acquisition cohort, Gamma-Gamma
spend and the dormancy factor (learned on an inner split). From ``--stats`` (one row per
customer: ``x``, ``t_x_days``, ``T_days``, optional ``orders``, ``mean_value``, ``segment``):
the same fits without dormancy, which needs order dates. Writes the versioned parameter records
as JSON (``--out``); publishing them to a Kafka topic for workers is not built yet.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from agents.commands.backtest import _cutoff_day
from agents.commands.backtest_log import _read_table, parse_mapping, read_purchase_log
from streams.evaluation.backtest import WEEK_DAYS, BacktestError, learn_dormancy, statistics_at
from streams.fitting import CustomerStats, ParamRecord
from streams.fitting.churn import MIN_SEGMENT_CUSTOMERS, cohort_label, fit_loss_model
from streams.fitting.record import fit_segments

STATS_COLUMNS = ("x", "t_x_days", "T_days")


def _column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(pc.cast(table[name], pa.float64()).to_numpy(zero_copy_only=False))


def fit_from_stats(path: Path, fitted_at: str, min_segment: int) -> dict[str, ParamRecord]:
    table = _read_table(path)
    missing = [c for c in STATS_COLUMNS if c not in table.column_names]
    if missing:
        raise BacktestError(f"{path}: --stats needs columns {', '.join(missing)}")
    days = [_column(table, c) for c in STATS_COLUMNS]
    stats = CustomerStats(days[0], days[1] / WEEK_DAYS, days[2] / WEEK_DAYS)
    has = set(table.column_names)
    orders = _column(table, "orders") if "orders" in has else None
    mean_value = _column(table, "mean_value") if "mean_value" in has else None
    segments = (
        pc.cast(table["segment"], pa.string()).to_numpy(zero_copy_only=False).astype(str)
        if "segment" in has
        else np.full(len(stats), "all")
    )
    return fit_segments(
        stats,
        list(segments),
        fitted_at,
        min_customers=min_segment,
        orders=orders,
        mean_value=mean_value,
    )


def fit_from_log(args: argparse.Namespace, fitted_at: str) -> dict[str, ParamRecord]:
    log, _ = read_purchase_log(
        Path(args.file), parse_mapping(args.map or []), args.currency, args.date_format
    )
    as_of = _cutoff_day(args.as_of) if args.as_of else float(np.floor(log.day.max()))
    c = statistics_at(log, as_of)
    kappa, how = learn_dormancy(log, as_of, float(args.horizon), fitted_at)
    Console(stderr=True).print(f"dormancy: {how}")
    mean_value = np.where(c.orders > 0, c.spend / np.maximum(c.orders, 1.0), 0.0)
    model = fit_loss_model(
        c.stats, c.first_day, float(args.horizon), fitted_at, c.orders, mean_value, kappa
    )
    return model.records


def run(args: argparse.Namespace) -> int:
    fitted_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    if args.stats:
        records = fit_from_stats(Path(args.file), fitted_at, args.min_segment)
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
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="fit the churn model's parameters on a purchase log or customers' statistics",
        description=__doc__,
    )
    parser.add_argument("file", metavar="FILE", help="orders (or statistics with --stats)")
    parser.add_argument("--stats", action="store_true", help="FILE holds per-customer statistics")
    parser.add_argument("--as-of", help="date the statistics are taken at (default: last order)")
    parser.add_argument(
        "--horizon", type=float, default=270.0, help="loss horizon in days (default 270)"
    )
    parser.add_argument("--map", action="append", metavar="COLUMN=FIELD", help="as in backtest")
    parser.add_argument("--currency", help="the log's currency")
    parser.add_argument("--date-format", help="strptime format when dates are not ISO 8601")
    parser.add_argument(
        "--min-segment",
        type=int,
        default=MIN_SEGMENT_CUSTOMERS,
        help=f"fit a segment alone from this many customers (default {MIN_SEGMENT_CUSTOMERS})",
    )
    parser.add_argument("--out", default="params.json", help="where to write the records")
    parser.set_defaults(run=run)


__all__ = ["add_parser", "cohort_label", "run"]
