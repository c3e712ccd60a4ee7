"""``python -m streams.evaluation``: score the model on simulated populations, print markdown."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from streams.evaluation import PopulationResult, evaluate_population
from streams.evaluation.learned import fit_events
from streams.evaluation.report import render, write_docs
from streams.model import ModelConfig, config_with_record, load_config
from streams.simulator import DAY, Population, simulate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "model.md"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m streams.evaluation", description=__doc__)
    p.add_argument("--customers", type=int, default=3000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--purchase-only", action="store_true", help="only the retail population")
    p.add_argument("--config", type=Path, default=None, help="model config TOML (over defaults)")
    p.add_argument(
        "--tick-every-days",
        type=float,
        default=None,
        help="also tick each customer at least this often (cross-checks next_deadline)",
    )
    p.add_argument(
        "--packaged",
        action="store_true",
        help="judge with the packaged cold-start parameters instead of fitting them (by default "
        "they are fitted, as `cxstream fit` does, on each population's orders up to the "
        "holdout cutoff)",
    )
    p.add_argument("--write-docs", action="store_true", help=f"write the report into {DOCS}")
    return p


def command_line(args: argparse.Namespace) -> str:
    """The canonical command that reproduces this report (shown with the figures)."""
    parts = ["python -m streams.evaluation", f"--customers {args.customers}",
             f"--days {args.days}", f"--seed {args.seed}"]  # fmt: skip
    if args.purchase_only:
        parts.append("--purchase-only")
    if args.config is not None:
        parts.append(f"--config {args.config}")
    if args.tick_every_days is not None:
        parts.append(f"--tick-every-days {args.tick_every_days:g}")
    if args.packaged:
        parts.append("--packaged")
    return " ".join(parts)


def learned_config(population: Population, config: ModelConfig) -> tuple[ModelConfig, str]:
    """``config`` with parameters fitted on the population's orders up to the holdout cutoff
    (the evaluation's 90 days before the end), as a periodic ``cxstream fit`` would have."""
    as_of = population.end - 90.0 * DAY
    fitted_at = datetime.fromtimestamp(as_of, UTC).isoformat(timespec="seconds")
    rec = fit_events(population.events, as_of, config.loss.horizon_days, fitted_at, config)
    if rec.trouble is not None:
        print(f"trouble effects: {rec.trouble}", file=sys.stderr)
    return config_with_record(config, rec.to_dict()), rec.version


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = load_config(args.config)
    tick_every = None if args.tick_every_days is None else args.tick_every_days * DAY
    modes = [True] if args.purchase_only else [False, True]
    results: list[PopulationResult] = []
    for purchase_only in modes:
        population = simulate(args.customers, args.days, args.seed, purchase_only=purchase_only)
        label = "purchase-only" if purchase_only else "rich"
        judged = config
        if not args.packaged:
            judged, version = learned_config(population, config)
            print(f"{label}: parameters {version} fitted on orders up to the holdout cutoff",
                  file=sys.stderr)  # fmt: skip
        result = evaluate_population(population, judged, label=label, tick_every=tick_every)
        results.append(result)
        run = result.replay
        print(f"{label}: {result.events} events, {run.ticks} ticks, {len(run.alerts)} alert "
              f"actions, {run.coached_flags} coached responses, {run.seconds:.1f}s",
              file=sys.stderr)  # fmt: skip
    report = render(results, command_line(args))
    print(report)
    if args.write_docs:
        write_docs(DOCS, report)
        print(f"written into {DOCS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
