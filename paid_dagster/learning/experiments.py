"""Experiments: variants of one thing (a prompt version, a model, an engine, a limit) compared on a traffic split.

An experiment is defined in paid.yaml (`experiments:`, top level or under a repository) or started at run time
(`paid experiments start`, an `experiment.started` event); `experiment.stopped` and `experiment.concluded` end
it. Each issue is assigned a variant once, by hashing (experiment, issue), and the assignment is recorded
(`experiment.assigned`, idempotency key per experiment and issue) and read back first: follow-ups keep it, and a
changed split never moves an issue already assigned. Every run records its experiments and variants.

The unit is the issue: its outcome is its latest quality score once settled (the PR merged or closed), ordered
by when it settled; success is the PR merged; cost is the agent runs' model cost (`run.finished`). Evaluation is
a fold over recorded events only, so a backfill needs neither GitHub nor the model.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from ..config import ExperimentSettings, PaidConfig, RepoSettings, limit_value
from ..keys import idempotency_key
from ..ledger import Event, Ledger
from ..ledger.kinds import Kind
from .decisions import Decision, DecisionKind, record_decision
from .statistics import FixedHorizonResult, SequentialResult, fixed_horizon, mean_interval, sequential

State = Literal["running", "stopped", "concluded"]
LIFECYCLE = (Kind.EXPERIMENT_STARTED, Kind.EXPERIMENT_STOPPED, Kind.EXPERIMENT_CONCLUDED)
HISTORY = (Kind.EXPERIMENT_ASSIGNED, Kind.RUN_FINISHED, Kind.QUALITY_SCORED)


class ExperimentError(ValueError):
    """An experiment that cannot be started or applied, said with what to change."""


def experiment_stream(name: str) -> str:
    return f"experiment:{name}"


@dataclass(frozen=True)
class Variant:
    name: str
    value: str
    weight: float = 1.0


@dataclass(frozen=True)
class Experiment:
    name: str
    kind: str  # prompt | model | engine | limit
    target: str
    variants: tuple[Variant, ...]
    horizon: int = 30
    alpha: float = 0.05
    test: str = "sequential"
    auto_promote: bool = False
    project: str = ""  # owner/name, or "" for every repository
    source: str = "paid.yaml"  # or "command"

    @classmethod
    def from_settings(cls, settings: ExperimentSettings, project: str = "", source: str = "paid.yaml") -> Experiment:
        return cls(
            name=settings.name,
            kind=settings.kind,
            target=settings.target,
            variants=tuple(Variant(v.name, v.value, v.weight) for v in settings.variants),
            horizon=settings.horizon,
            alpha=settings.alpha,
            test=settings.test,
            auto_promote=settings.auto_promote,
            project=project,
            source=source,
        )

    @classmethod
    def from_event(cls, event: Event) -> Experiment:
        """A started experiment read back; validated again, as paid.yaml's are."""
        data = event.data
        settings = ExperimentSettings.model_validate(
            {k: data[k] for k in ("name", "kind", "target", "variants", "horizon", "alpha", "test", "auto_promote")}
        )
        return cls.from_settings(settings, str(data.get("project") or ""), "command")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "target": self.target,
            "variants": [{"name": v.name, "value": v.value, "weight": v.weight} for v in self.variants],
            "horizon": self.horizon,
            "alpha": self.alpha,
            "test": self.test,
            "auto_promote": self.auto_promote,
            "project": self.project,
        }

    def applies_to(self, repo: str) -> bool:
        return not self.project or self.project.lower() == repo.lower()

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    @property
    def control(self) -> Variant:
        return self.variants[0]


@dataclass(frozen=True)
class Status:
    experiment: Experiment
    state: State
    winner: str | None = None  # as recorded by `experiment.concluded`


def configured(config: PaidConfig) -> list[Experiment]:
    """paid.yaml's experiments: the top-level ones (every repository), then each repository's own."""
    found = [Experiment.from_settings(e) for e in config.experiments]
    for repo in config.repositories:
        found += [Experiment.from_settings(e, repo.name) for e in repo.experiments]
    return found


def statuses(config: PaidConfig, ledger: Ledger) -> list[Status]:
    """Every experiment, from paid.yaml and from `paid experiments start`, with its state in the ledger."""
    started: dict[str, Experiment] = {}
    ended: dict[str, tuple[State, str | None]] = {}
    for event in ledger.iter(kinds=LIFECYCLE):
        name = str(event.data.get("name") or event.data.get("experiment"))
        if event.kind == Kind.EXPERIMENT_STARTED:
            started.setdefault(name, Experiment.from_event(event))
        elif event.kind == Kind.EXPERIMENT_STOPPED:
            ended.setdefault(name, ("stopped", None))
        else:
            ended.setdefault(name, ("concluded", event.data.get("winner")))
    found: dict[str, Experiment] = {e.name: e for e in configured(config)}
    for name, experiment in started.items():
        found.setdefault(name, experiment)  # paid.yaml's definition wins a name both use
    return [Status(e, *ended.get(e.name, ("running", None))) for e in found.values()]


def running_for(config: PaidConfig, ledger: Ledger, repo: str) -> list[Experiment]:
    """The running experiments that apply to the repository; of two on the same thing, the first listed."""
    chosen: dict[tuple[str, str], Experiment] = {}
    for status in statuses(config, ledger):
        experiment = status.experiment
        if status.state == "running" and experiment.applies_to(repo):
            chosen.setdefault((experiment.kind, experiment.target), experiment)
    return list(chosen.values())


# --- starting and stopping -------------------------------------------------------------------------------


def allowed_models(config: PaidConfig, settings: RepoSettings) -> list[str]:
    """The models a project may call (`models.allowed`, narrowed by the repository's `allowed_models`)."""
    return list(config.allowed_models(settings.name))


def check_applicable(experiment: Experiment, config: PaidConfig) -> None:
    """Refuses a model variant some repository it applies to does not allow."""
    if experiment.kind != "model":
        return
    for repo in config.repositories:
        if not experiment.applies_to(repo.name):
            continue
        allowed = allowed_models(config, repo)
        for variant in experiment.variants:
            if variant.value not in allowed:
                raise ExperimentError(
                    f"experiment {experiment.name!r}, variant {variant.name!r}: model {variant.value!r} is not"
                    f" allowed for {repo.name} (allowed: {', '.join(allowed)}); add it to the project's models"
                    " or choose an allowed one"
                )


def start(ledger: Ledger, config: PaidConfig, settings: ExperimentSettings, project: str, by: str) -> Experiment:
    """Records `experiment.started`, once per name (a name already used, in paid.yaml or the ledger, is refused)."""
    if project and not any(r.name.lower() == project.lower() for r in config.repositories):
        raise ExperimentError(f"{project} is not a repository in {config.source}")
    experiment = Experiment.from_settings(settings, project, "command")
    if any(s.experiment.name == experiment.name for s in statuses(config, ledger)):
        raise ExperimentError(f"an experiment named {experiment.name!r} exists already: choose another name")
    check_applicable(experiment, config)
    recorded = ledger.append(
        experiment_stream(experiment.name),
        Kind.EXPERIMENT_STARTED,
        {**experiment.as_dict(), "by": by},
        idempotency_key=idempotency_key(Kind.EXPERIMENT_STARTED, experiment.name),
    )
    if recorded is None:
        raise ExperimentError(f"an experiment named {experiment.name!r} was started already")
    return experiment


def stop(ledger: Ledger, config: PaidConfig, name: str, by: str, reason: str) -> bool:
    """Records `experiment.stopped` for a running experiment; False when it was not running."""
    status = next((s for s in statuses(config, ledger) if s.experiment.name == name), None)
    if status is None:
        raise ExperimentError(f"no experiment is named {name!r}")
    if status.state != "running":
        return False
    recorded = ledger.append(
        experiment_stream(name),
        Kind.EXPERIMENT_STOPPED,
        {"name": name, "by": by, "reason": reason},
        idempotency_key=idempotency_key(Kind.EXPERIMENT_STOPPED, name),
    )
    return recorded is not None


# --- assignment ------------------------------------------------------------------------------------------


def bucket(experiment: str, issue: str) -> float:
    """A number in [0, 1) fixed by the experiment's name and the issue: the same issue always lands the same."""
    digest = hashlib.sha256(f"{experiment}\0{issue}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick(variants: Sequence[Variant], point: float) -> Variant:
    """The variant whose share of the weights covers `point`."""
    total = sum(v.weight for v in variants)
    edge = 0.0
    for variant in variants:
        edge += variant.weight / total
        if point < edge and variant.weight > 0:
            return variant
    return next(v for v in reversed(variants) if v.weight > 0)


@dataclass(frozen=True)
class Assignment:
    experiment: Experiment
    variant: Variant
    sticky: bool  # read back from an earlier run's assignment


def assign(ledger: Ledger, experiment: Experiment, issue: str, run_id: str) -> Assignment:
    """The issue's variant: the one recorded for it, else chosen by hash and recorded (once, even in a race)."""
    key = idempotency_key(Kind.EXPERIMENT_ASSIGNED, experiment.name, issue)
    recorded = ledger.by_key(key)
    if recorded is None:
        chosen = pick(experiment.variants, bucket(experiment.name, issue))
        data = {
            "experiment": experiment.name,
            "variant": chosen.name,
            "kind": experiment.kind,
            "target": experiment.target,
            "value": chosen.value,
            "project": experiment.project,
            "run_id": run_id,
        }
        if ledger.append(issue, Kind.EXPERIMENT_ASSIGNED, data, idempotency_key=key) is not None:
            return Assignment(experiment, chosen, sticky=False)
        recorded = ledger.by_key(key)  # another worker recorded it first: its choice stands
        assert recorded is not None
    data = recorded.data
    variant = experiment.variant(str(data["variant"])) or Variant(str(data["variant"]), str(data["value"]))
    return Assignment(experiment, Variant(variant.name, str(data["value"]), variant.weight), sticky=True)


@dataclass(frozen=True)
class Treatment:
    """A run's settings with its experiments' variants applied."""

    config: PaidConfig
    settings: RepoSettings
    prompt_choice: Mapping[str, str]  # prompt name → version
    assignments: tuple[Assignment, ...] = ()

    @property
    def model_choice(self) -> str:
        """The coding model a model experiment assigned ("" when none did)."""
        return next((a.variant.value for a in self.assignments if a.experiment.kind == "model"), "")

    def recorded(self) -> dict[str, Any]:
        """What `run.started` records of it: experiment → variant, and the prompt experiments that pinned a
        version (the registry's `prompt` decision names them)."""
        if not self.assignments:
            return {}
        prompts = [a.experiment.name for a in self.assignments if a.experiment.kind == "prompt"]
        models = [a.experiment.name for a in self.assignments if a.experiment.kind == "model"]
        return {
            "experiments": {a.experiment.name: a.variant.name for a in self.assignments},
            "experiment": ", ".join(prompts),
            **({"experiment_model": models[0]} if models else {}),
        }


def apply_variant(treatment: Treatment, assignment: Assignment) -> Treatment:
    experiment, value = assignment.experiment, assignment.variant.value
    config, settings = treatment.config, treatment.settings
    if experiment.kind == "model":
        allowed = allowed_models(config, settings)
        if value not in allowed:
            raise ExperimentError(
                f"experiment {experiment.name!r} assigns model {value!r}, which {settings.name} does not allow"
                f" (allowed: {', '.join(allowed)}): stop the experiment or allow the model"
            )
        config = config.model_copy(update={"model": config.model.model_copy(update={"name": value})})
    elif experiment.kind == "engine":
        settings = settings.model_copy(update={"engine": value})
    elif experiment.kind == "limit":
        config = config.model_copy(
            update={"limits": config.limits.model_copy(update={experiment.target: limit_value(value)})}
        )
    else:
        return Treatment(config, settings, {**treatment.prompt_choice, experiment.target: value}, treatment.assignments)
    return Treatment(config, settings, treatment.prompt_choice, treatment.assignments)


def treat(config: PaidConfig, settings: RepoSettings, ledger: Ledger, issue: str, run_id: str) -> Treatment:
    """The run's settings under the running experiments that apply to its repository; each assignment is a
    decision recorded for the run."""
    treatment = Treatment(config, settings, {})
    for experiment in running_for(config, ledger, settings.name):
        assignment = assign(ledger, experiment, issue, run_id)
        treatment = apply_variant(treatment, assignment)
        treatment = Treatment(
            treatment.config, treatment.settings, treatment.prompt_choice, (*treatment.assignments, assignment)
        )
        record_decision(
            ledger,
            issue,
            Decision(
                DecisionKind.EXPERIMENT_VARIANT,
                assignment.variant.name,
                "the variant this issue was assigned earlier (sticky)"
                if assignment.sticky
                else f"hash of (experiment, issue) in the split: bucket {bucket(experiment.name, issue):.4f}",
                [v.name for v in experiment.variants],
                {
                    "experiment": experiment.name,
                    "kind": experiment.kind,
                    "target": experiment.target,
                    "value": assignment.variant.value,
                    "weights": {v.name: v.weight for v in experiment.variants},
                },
                run_id,
            ),
            idempotency_key=idempotency_key(
                Kind.DECISION_MADE, run_id, DecisionKind.EXPERIMENT_VARIANT, experiment.name
            ),
        )
    return treatment


# --- evaluation ------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    score: float
    merged: bool
    settled_seq: int


@dataclass
class History:
    """What the ledger says about every assigned issue: its variant per experiment, runs and cost, outcome."""

    assigned: dict[str, dict[str, str]] = field(
        default_factory=lambda: defaultdict(dict)
    )  # experiment → issue → variant
    runs: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # issue → runs since assigned
    cost: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # issue → their model cost
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # settled issues
    last_seq: int = 0

    def add(self, event: Event) -> None:
        self.last_seq = max(self.last_seq, event.seq)
        data, issue = event.data, event.stream
        if event.kind == Kind.EXPERIMENT_ASSIGNED:
            self.assigned[str(data["experiment"])].setdefault(issue, str(data["variant"]))
            self.runs.setdefault(issue, 0)
        elif issue not in self.runs:
            return  # an issue in no experiment (or a run before its assignment)
        elif event.kind == Kind.RUN_FINISHED:
            self.runs[issue] += 1
            self.cost[issue] += float(data.get("cost_usd") or 0.0)
        elif event.kind == Kind.QUALITY_SCORED and data.get("settled"):
            merged = float((data.get("components") or {}).get("merged", 0.0)) >= 1.0
            earlier = self.outcomes.get(issue)
            self.outcomes[issue] = Outcome(float(data["score"]), merged, earlier.settled_seq if earlier else event.seq)


def read_history(ledger: Ledger) -> History:
    """One pass over the assignments, runs and scores, in the order they were recorded."""
    history = History()
    for event in ledger.iter(kinds=HISTORY):
        history.add(event)
    return history


@dataclass(frozen=True)
class VariantFigures:
    variant: str
    value: str
    issues: int  # assigned
    n: int  # settled outcomes
    mean_score: float | None
    ci_low: float | None
    ci_high: float | None
    success_rate: float | None  # merged share of settled issues
    runs: int
    cost_usd: float
    cost_per_run: float | None
    cost_per_success: float | None


@dataclass(frozen=True)
class Comparison:
    control: str
    treatment: str
    alpha: float  # per comparison (Bonferroni over the treatments)
    fixed: FixedHorizonResult
    sequential: SequentialResult

    def decided(self, test: str) -> tuple[bool, float | None, float | None]:
        """(significant, p-value, difference) by the experiment's deciding test."""
        result: FixedHorizonResult | SequentialResult = self.fixed if test == "fixed" else self.sequential
        return result.significant, result.p_value, result.difference


@dataclass(frozen=True)
class Report:
    experiment: Experiment
    state: State
    figures: tuple[VariantFigures, ...]
    comparisons: tuple[Comparison, ...]
    winner: str | None  # declared by the deciding test now (or recorded earlier)
    p_value: float | None
    difference: float | None
    recorded_winner: str | None  # from `experiment.concluded`, if it was concluded


def outcome_series(experiment: Experiment, history: History) -> tuple[list[str], np.ndarray]:
    """The settled outcomes of the experiment's issues in the order they settled: variants and scores."""
    issues = history.assigned.get(experiment.name, {})
    settled = sorted((history.outcomes[i].settled_seq, i) for i in issues if i in history.outcomes)
    return [issues[i] for _, i in settled], np.array([history.outcomes[i].score for _, i in settled], dtype=float)


def variant_figures(experiment: Experiment, variant: Variant, history: History) -> VariantFigures:
    issues = [i for i, v in history.assigned.get(experiment.name, {}).items() if v == variant.name]
    outcomes = [history.outcomes[i] for i in issues if i in history.outcomes]
    interval = mean_interval(np.array([o.score for o in outcomes], dtype=float))
    successes = sum(1 for o in outcomes if o.merged)
    runs = sum(history.runs[i] for i in issues)
    cost = round(sum(history.cost[i] for i in issues), 8)
    return VariantFigures(
        variant=variant.name,
        value=variant.value,
        issues=len(issues),
        n=interval.n,
        mean_score=interval.mean,
        ci_low=interval.low,
        ci_high=interval.high,
        success_rate=successes / len(outcomes) if outcomes else None,
        runs=runs,
        cost_usd=cost,
        cost_per_run=cost / runs if runs else None,
        cost_per_success=cost / successes if successes else None,
    )


def compare(experiment: Experiment, history: History) -> tuple[Comparison, ...]:
    """Each treatment against the control, by both tests, at alpha split over the treatments (Bonferroni)."""
    variants, scores = outcome_series(experiment, history)
    alpha = experiment.alpha / (len(experiment.variants) - 1)
    control = experiment.control.name
    comparisons = []
    for treatment in experiment.variants[1:]:
        pair = np.array([v in (control, treatment.name) for v in variants], dtype=bool)
        arms = np.array([v == treatment.name for v in variants], dtype=bool)[pair]
        values = scores[pair]
        comparisons.append(
            Comparison(
                control,
                treatment.name,
                alpha,
                fixed_horizon(values[~arms], values[arms], experiment.horizon, alpha),
                sequential(arms, values, alpha),
            )
        )
    return tuple(comparisons)


def winner_of(
    experiment: Experiment, comparisons: Sequence[Comparison]
) -> tuple[str | None, float | None, float | None]:
    """The best treatment found better than the control, or the control when every treatment was found worse;
    none while the deciding test has not spoken."""
    better = [(c.decided(experiment.test), c.treatment) for c in comparisons]
    wins = [(diff, p, name) for (significant, p, diff), name in better if significant and diff is not None and diff > 0]
    if wins:
        difference, p_value, name = max(wins, key=lambda w: w[0])
        return name, p_value, difference
    losses = [(p, diff) for (significant, p, diff), _ in better if significant and diff is not None and diff < 0]
    if comparisons and len(losses) == len(comparisons):
        return experiment.control.name, max(p for p, _ in losses if p is not None), max(d for _, d in losses if d)
    return None, None, None


def evaluate(status: Status, history: History) -> Report:
    experiment = status.experiment
    comparisons = compare(experiment, history)
    winner, p_value, difference = winner_of(experiment, comparisons)
    return Report(
        experiment,
        status.state,
        tuple(variant_figures(experiment, v, history) for v in experiment.variants),
        comparisons,
        winner,
        p_value,
        difference,
        status.winner,
    )


def evaluate_all(config: PaidConfig, ledger: Ledger) -> tuple[list[Report], int]:
    """Every experiment's figures and tests from the ledger, and the last event sequence number they saw."""
    history = read_history(ledger)
    return [evaluate(s, history) for s in statuses(config, ledger)], history.last_seq


# --- conclusion and promotion ----------------------------------------------------------------------------


class PromptPromoter(Protocol):
    """The prompt registry's promotion (learning/registry.py): makes `version` the current one of prompt `name`;
    False when it already was."""

    def promote(self, name: str, version: str, by: str, reason: str, project: str = "") -> bool: ...


def conclude(ledger: Ledger, report: Report, last_seq: int) -> bool:
    """A running experiment whose deciding test named a winner is concluded: once, whoever evaluates it."""
    if report.state != "running" or report.winner is None:
        return False
    experiment = report.experiment
    stream, key = experiment_stream(experiment.name), idempotency_key(Kind.EXPERIMENT_CONCLUDED, experiment.name)
    recorded = ledger.append(
        stream,
        Kind.EXPERIMENT_CONCLUDED,
        {
            "experiment": experiment.name,
            "winner": report.winner,
            "test": experiment.test,
            "p_value": report.p_value,
            "difference": report.difference,
            "per_variant": {f.variant: {"n": f.n, "mean_score": f.mean_score} for f in report.figures},
            "ledger_seq": last_seq,
        },
        idempotency_key=key,
    )
    if recorded is None:
        return False
    record_decision(
        ledger,
        stream,
        Decision(
            DecisionKind.EXPERIMENT_WINNER,
            report.winner,
            f"{experiment.test} test: p = {report.p_value:.4g} ≤ α = {experiment.alpha:g}"
            f" (difference of mean scores {report.difference:+.3f})",
            [v.name for v in experiment.variants],
            {"experiment": experiment.name, "per_variant": {f.variant: f.n for f in report.figures}},
        ),
        idempotency_key=idempotency_key(Kind.DECISION_MADE, DecisionKind.EXPERIMENT_WINNER, experiment.name),
    )
    return True


def promote(ledger: Ledger, experiment: Experiment, winner: str, registry: Callable[[], PromptPromoter]) -> bool:
    """The winning prompt version made current, once: the registry first (promoting the current version again
    changes nothing), then `experiment.promoted` under its idempotency key. A crash between the two is
    completed by the next evaluation; two evaluations at once record one promotion."""
    key = idempotency_key(Kind.EXPERIMENT_PROMOTED, experiment.name)
    if not experiment.auto_promote or experiment.kind != "prompt" or ledger.has(key):
        return False
    variant = experiment.variant(winner)
    if variant is None:
        return False
    by = f"experiment:{experiment.name}"
    changed = registry().promote(
        experiment.target, variant.value, by, f"won experiment {experiment.name}", project=experiment.project
    )
    recorded = ledger.append(
        experiment_stream(experiment.name),
        Kind.EXPERIMENT_PROMOTED,
        {
            "experiment": experiment.name,
            "target": experiment.target,
            "version": variant.value,
            "project": experiment.project,
            "by": by,
            "changed": changed,
        },
        idempotency_key=key,
    )
    return recorded is not None


def settle(
    ledger: Ledger, reports: Iterable[Report], last_seq: int, registry: Callable[[], PromptPromoter]
) -> list[str]:
    """Concludes what the tests decided and promotes the winners of concluded experiments that auto-promote
    (the registry opened only then); the names of the experiments concluded now."""
    concluded = []
    for report in reports:
        if conclude(ledger, report, last_seq):
            concluded.append(report.experiment.name)
        winner = report.recorded_winner or (report.winner if report.experiment.name in concluded else None)
        if winner is not None:
            promote(ledger, report.experiment, winner, registry)
    return concluded


def as_settled(reports: Iterable[Report], concluded: Iterable[str]) -> list[Report]:
    """The reports as they stand once `settle` has concluded the named experiments."""
    names = set(concluded)
    return [
        replace(r, state="concluded", recorded_winner=r.winner) if r.experiment.name in names else r for r in reports
    ]


# --- the table -------------------------------------------------------------------------------------------

COLUMNS = [
    "experiment",
    "state",
    "variant",
    "value",
    "issues",
    "n",
    "mean_score",
    "ci_low",
    "ci_high",
    "success_rate",
    "runs",
    "cost_usd",
    "cost_per_run",
    "cost_per_success",
    "welch_p",
    "sequential_p",
    "winner",
]


def variant_rows(report: Report) -> list[dict[str, Any]]:
    """One row per variant; a treatment's row carries its comparison with the control."""
    against = {c.treatment: c for c in report.comparisons}
    rows = []
    for figures in report.figures:
        comparison = against.get(figures.variant)
        rows.append(
            {
                "experiment": report.experiment.name,
                "state": report.state,
                **{k: v for k, v in vars(figures).items()},
                "welch_p": comparison.fixed.p_value if comparison else None,
                "sequential_p": comparison.sequential.p_value if comparison else None,
                "winner": (report.recorded_winner or report.winner) == figures.variant,
            }
        )
    return rows


def reports_frame(reports: Iterable[Report]) -> pd.DataFrame:
    return pd.DataFrame([row for r in reports for row in variant_rows(r)], columns=COLUMNS)


def describe(report: Report) -> str:
    """The experiment's state, its deciding test and verdict, and its table (markdown), for the asset's metadata
    and `paid experiments status`."""
    from ..outcomes.costs import markdown_table

    winner = report.recorded_winner or report.winner
    verdict = f"winner **{winner}**" if winner else "no winner yet"
    frame = reports_frame([report]).drop(columns=["experiment", "state"])
    head = f"{report.experiment.name} ({report.state}; {report.experiment.test} test decides): {verdict}"
    return f"{head}\n\n{markdown_table(frame)}"
