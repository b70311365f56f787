"""`paid experiments start | status | stop`: experiments started and stopped at run time, as ledger events,
beside those paid.yaml defines; `status` evaluates them from the ledger as the `experiments` asset does."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import ExperimentSettings, PaidConfig
    from ..ledger import Ledger

# The commands import what they use when they run: `paid --help` stays quick (scipy and pandas take seconds).


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "experiments", help="start, follow and stop experiments (prompt, model, engine, limit)"
    )
    sub = parser.add_subparsers(dest="experiments_command", required=True)

    begin = sub.add_parser("start", help="start an experiment on a traffic split")
    begin.add_argument("name")
    begin.add_argument("--kind", required=True, choices=["prompt", "model", "engine", "limit"])
    begin.add_argument("--target", default="", help="the prompt's name (prompt) or the limits field (limit)")
    begin.add_argument(
        "--variant",
        action="append",
        required=True,
        metavar="NAME=VALUE",
        help="twice or more; the first is the control",
    )
    begin.add_argument("--weights", default="", help="comma-separated, one per variant (default: equal)")
    begin.add_argument("--repo", default="", help="owner/name (default: every repository)")
    begin.add_argument("--horizon", type=int, default=30)
    begin.add_argument("--alpha", type=float, default=0.05)
    begin.add_argument("--test", choices=["sequential", "fixed"], default="sequential")
    begin.add_argument("--auto-promote", action="store_true")
    common(begin)
    begin.set_defaults(func=cmd_start)

    status = sub.add_parser("status", help="each experiment's figures per variant and its tests")
    status.add_argument("name", nargs="?", default=None)
    common(status)
    status.set_defaults(func=cmd_status)

    end = sub.add_parser("stop", help="stop a running experiment (new issues get no variant)")
    end.add_argument("name")
    end.add_argument("--reason", default="stopped by hand")
    common(end)
    end.set_defaults(func=cmd_stop)


def common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="default: $PAID_CONFIG or ./paid.yaml")
    parser.add_argument("--ledger-url", default=None, help="default: paid.yaml's, $PAID_LEDGER_URL or Dagster's")
    parser.add_argument("--by", default=None, help="who (default: your user name)")


class CommandError(ValueError):
    """A problem with the command's arguments or paid.yaml, printed as one line."""


def opened(args: argparse.Namespace) -> tuple[PaidConfig, Ledger]:
    from ..config import ConfigError, load_config
    from ..ledger import Ledger

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    return config, Ledger(args.ledger_url or config.ledger_url or None)


def settings_from(args: argparse.Namespace) -> ExperimentSettings:
    from pydantic import ValidationError

    from ..config import ExperimentSettings

    variants: list[dict[str, Any]] = []
    for given in args.variant:
        name, sep, value = given.partition("=")
        if not sep:
            raise CommandError(f"--variant {given!r}: expected NAME=VALUE")
        variants.append({"name": name, "value": value})
    weights = [w for w in args.weights.split(",") if w.strip()] if args.weights else []
    if weights and len(weights) != len(variants):
        raise CommandError(f"--weights: expected {len(variants)} weights, got {len(weights)}")
    for variant, weight in zip(variants, weights, strict=False):
        variant["weight"] = float(weight)
    fields = {"name": args.name, "kind": args.kind, "target": args.target, "variants": variants}
    fields |= {"horizon": args.horizon, "alpha": args.alpha, "test": args.test, "auto_promote": args.auto_promote}
    try:
        return ExperimentSettings.model_validate(fields)
    except ValidationError as exc:
        raise CommandError("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())) from None


def cmd_start(args: argparse.Namespace) -> int:
    from ..learning.experiments import ExperimentError, start

    try:
        config, ledger = opened(args)
        experiment = start(ledger, config, settings_from(args), args.repo, args.by or getpass.getuser())
    except (ExperimentError, CommandError) as exc:
        print(f"paid experiments start: {exc}", file=sys.stderr)
        return 2
    split = ", ".join(f"{v.name}={v.value} ({v.weight:g})" for v in experiment.variants)
    print(f"experiment {experiment.name} started on {experiment.project or 'every repository'}: {split}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from ..learning.experiments import ExperimentError, stop

    try:
        config, ledger = opened(args)
        stopped = stop(ledger, config, args.name, args.by or getpass.getuser(), args.reason)
    except (ExperimentError, CommandError) as exc:
        print(f"paid experiments stop: {exc}", file=sys.stderr)
        return 2
    print(f"experiment {args.name} {'stopped' if stopped else 'was not running'}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ..learning.experiments import describe, evaluate_all

    try:
        config, ledger = opened(args)
    except CommandError as exc:
        print(f"paid experiments status: {exc}", file=sys.stderr)
        return 2
    reports, _ = evaluate_all(config, ledger)
    chosen = [r for r in reports if args.name in (None, r.experiment.name)]
    if args.name and not chosen:
        print(f"paid experiments status: no experiment is named {args.name!r}", file=sys.stderr)
        return 2
    print("\n\n".join(describe(r) for r in chosen) if chosen else "no experiments")
    return 0
