"""Experiments without the loop: definitions, sticky assignment and its split, variants applied to a run, and the
evaluation of synthetic ledgers (SQLite and PostgreSQL) against the same figures computed directly with pandas."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from paid_dagster.cli import main
from paid_dagster.config import ConfigError, ExperimentSettings, PaidConfig, parse_config
from paid_dagster.learning.decisions import DecisionKind
from paid_dagster.learning.experiments import (
    Experiment,
    ExperimentError,
    as_settled,
    assign,
    evaluate_all,
    settle,
    start,
    statuses,
    stop,
    treat,
)
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import Kind
from tests.databases import postgres_database

REPO = "octo-org/shopcart"


def config_with(experiments: list[dict[str, Any]] | None = None, **model: Any) -> PaidConfig:
    return parse_config(
        {
            "model": {"name": "openai/small", "fallbacks": ["openai/large"], **model},
            "repositories": [{"name": REPO, "experiments": experiments or []}, "octo-org/other"],
        }
    )


def prompt_experiment(name: str = "task-test", weights: tuple[float, float] = (1, 1), **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "prompt",
        "target": "task",
        "variants": [
            {"name": "a", "value": "aaaa", "weight": weights[0]},
            {"name": "b", "value": "bbbb", "weight": weights[1]},
        ],
        **more,
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger of its own: a SQLite file, or a PostgreSQL database created for this test and dropped after."""
    if request.param == "sqlite":
        yield Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
        return
    with postgres_database("paid_exp") as url:
        ledger = Ledger(url)
        yield ledger


# --- definitions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("experiment", "said"),
    [
        (
            {"kind": "limit", "target": "max_legs", "variants": [{"name": "a", "value": 1}, {"name": "b", "value": 2}]},
            "one of max_turns",
        ),
        (
            {
                "kind": "limit",
                "target": "max_turns",
                "variants": [{"name": "a", "value": 10}, {"name": "b", "value": -1}],
            },
            "'b': '-1' is not a value",
        ),
        (
            {"kind": "engine", "variants": [{"name": "a", "value": "aider"}, {"name": "b", "value": "devin"}]},
            "variant 'b': expected one of",
        ),
        (
            {
                "kind": "model",
                "auto_promote": True,
                "variants": [{"name": "a", "value": "x"}, {"name": "b", "value": "y"}],
            },
            "only a prompt experiment",
        ),
        ({"kind": "prompt", "target": "task", "variants": [{"name": "a", "value": "x"}]}, "at least two variants"),
        (
            {"kind": "prompt", "variants": [{"name": "a", "value": "x"}, {"name": "b", "value": "y"}]},
            "names its prompt",
        ),
        (
            {
                "kind": "prompt",
                "target": "task",
                "alpha": 1.5,
                "variants": [{"name": "a", "value": "x"}, {"name": "b", "value": "y"}],
            },
            "between 0 and 1",
        ),
    ],
)
def test_a_wrong_experiment_is_said_where_and_why(experiment: dict[str, Any], said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"experiments": [{"name": "x", **experiment}], "repositories": [REPO]}, "paid.yaml")
    assert "paid.yaml: experiments[0]" in str(raised.value) and said in str(raised.value), str(raised.value)


def test_experiments_come_from_paid_yaml_and_from_the_command(ledger: Ledger) -> None:
    config = parse_config(
        {
            "experiments": [prompt_experiment("everywhere")],
            "repositories": [{"name": REPO, "experiments": [prompt_experiment("here-only")]}, "octo-org/other"],
        }
    )
    started = ExperimentSettings.model_validate({**prompt_experiment("at-run-time"), "target": "review"})
    start(ledger, config, started, "octo-org/other", "ops")
    found = {s.experiment.name: (s.experiment.project, s.experiment.source, s.state) for s in statuses(config, ledger)}
    assert found == {
        "everywhere": ("", "paid.yaml", "running"),
        "here-only": (REPO, "paid.yaml", "running"),
        "at-run-time": ("octo-org/other", "command", "running"),
    }
    with pytest.raises(ExperimentError, match="exists already"):
        start(ledger, config, ExperimentSettings.model_validate(prompt_experiment("here-only")), "", "ops")
    assert stop(ledger, config, "at-run-time", "ops", "enough") and not stop(ledger, config, "at-run-time", "ops", "")
    assert {s.experiment.name: s.state for s in statuses(config, ledger)}["at-run-time"] == "stopped"


# --- assignment --------------------------------------------------------------------------------------------


def test_the_split_follows_the_weights(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    experiment = Experiment.from_settings(ExperimentSettings.model_validate(prompt_experiment(weights=(1, 3))))
    issues = [f"octo-org__shopcart__{n}" for n in range(1, 2001)]
    chosen = [assign(ledger, experiment, issue, "r1").variant.name for issue in issues]
    b = chosen.count("b")
    assert stats.binomtest(b, len(issues), 0.75).pvalue > 0.001, b
    # The same issues again, by another run: nothing moves, nothing more is recorded.
    again = [assign(ledger, experiment, issue, "r2") for issue in issues[:200]]
    assert [a.variant.name for a in again] == chosen[:200] and all(a.sticky for a in again)
    assert ledger.count(Kind.EXPERIMENT_ASSIGNED) == len(issues)


def test_a_changed_split_never_moves_an_issue_already_assigned(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    before = Experiment.from_settings(ExperimentSettings.model_validate(prompt_experiment(weights=(1, 1))))
    after = Experiment.from_settings(ExperimentSettings.model_validate(prompt_experiment(weights=(0, 1))))
    first = {f"i{n}": assign(ledger, before, f"i{n}", "r").variant.name for n in range(100)}
    assert set(first.values()) == {"a", "b"}
    assert {i: assign(ledger, after, i, "later").variant.name for i in first} == first
    assert {assign(ledger, after, f"new{n}", "r").variant.name for n in range(50)} == {"b"}


def test_two_workers_assigning_one_issue_at_once_record_one_assignment(ledger: Ledger) -> None:
    experiment = Experiment.from_settings(ExperimentSettings.model_validate(prompt_experiment()))
    results: list[str] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        barrier.wait()
        results.append(assign(ledger, experiment, "octo-org__shopcart__7", f"run{n}").variant.name)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 8
    assert ledger.count(Kind.EXPERIMENT_ASSIGNED) == 1


def test_variants_are_applied_to_the_run_and_recorded_as_decisions(ledger: Ledger) -> None:
    config = config_with(
        [
            prompt_experiment(weights=(0, 1)),
            {
                "name": "models",
                "kind": "model",
                "variants": [
                    {"name": "s", "value": "openai/small", "weight": 0},
                    {"name": "l", "value": "openai/large"},
                ],
            },
            {
                "name": "engines",
                "kind": "engine",
                "variants": [{"name": "m", "value": "mini-swe-agent", "weight": 0}, {"name": "a", "value": "aider"}],
            },
            {
                "name": "turns",
                "kind": "limit",
                "target": "max_turns",
                "variants": [{"name": "t40", "value": 40, "weight": 0}, {"name": "t12", "value": 12}],
            },
        ]
    )
    issue = "octo-org__shopcart__3"
    treatment = treat(config, config.repository(REPO), ledger, issue, "run1")
    assert treatment.prompt_choice == {"task": "bbbb"}
    assert treatment.config.model.name == "openai/large" and treatment.settings.engine == "aider"
    assert treatment.config.limits.max_turns == 12 and config.limits.max_turns == 40  # a copy, paid.yaml untouched
    assert treatment.recorded() == {
        "experiments": {"task-test": "b", "models": "l", "engines": "a", "turns": "t12"},
        "experiment": "task-test",
        "experiment_model": "models",
    }
    assert treatment.model_choice == "openai/large"  # pinned through the model selection, see test_model_selection
    # A follow-up (another run) keeps the variants; each run's decisions are recorded once however often asked.
    treat(config, config.repository(REPO), ledger, issue, "run1")
    follow_up = treat(config, config.repository(REPO), ledger, issue, "run2")
    assert follow_up.recorded() == treatment.recorded()
    decisions = [e.data for e in ledger.read(stream=issue, kinds=[Kind.DECISION_MADE])]
    assert [(d["run_id"], d["decision"]) for d in decisions] == [("run1", DecisionKind.EXPERIMENT_VARIANT)] * 4 + [
        ("run2", DecisionKind.EXPERIMENT_VARIANT)
    ] * 4
    assert "sticky" in decisions[-1]["rationale"] and decisions[0]["candidates"] == ["a", "b"]
    # Another repository is in none of these experiments.
    assert treat(config, config.repository("octo-org/other"), ledger, "octo-org__other__1", "run3").recorded() == {}


def test_a_model_the_project_does_not_allow_is_refused(ledger: Ledger) -> None:
    config = config_with()
    settings = ExperimentSettings.model_validate(
        {
            "name": "m",
            "kind": "model",
            "variants": [{"name": "a", "value": "openai/small"}, {"name": "b", "value": "openai/huge"}],
        }
    )
    with pytest.raises(ExperimentError, match="'openai/huge' is not allowed for octo-org/shopcart"):
        start(ledger, config, settings, REPO, "ops")
    # Defined in paid.yaml all the same: the run that would use it stops with the reason, before any model call.
    config = config_with([settings.model_dump()])
    issue = next(f"octo-org__shopcart__{n}" for n in range(100) if _lands_on(config, n) == "b")
    with pytest.raises(ExperimentError, match=r"assigns model 'openai/huge'.*allowed: openai/small, openai/large"):
        treat(config, config.repository(REPO), ledger, issue, "run1")


def _lands_on(config: PaidConfig, number: int) -> str:
    from paid_dagster.learning.experiments import bucket, configured, pick

    experiment = configured(config)[0]
    return pick(experiment.variants, bucket(experiment.name, f"octo-org__shopcart__{number}")).name


# --- evaluation --------------------------------------------------------------------------------------------


def synthetic_history(ledger: Ledger, issues: int, effect: float, seed: int) -> pd.DataFrame:
    """Issues assigned by the real assignment, each with one or two runs (with costs) and scores: an early
    unsettled one, then the settled one; treatment scores shifted by `effect`. Returns what was written."""
    rng = np.random.default_rng(seed)
    config = config_with([prompt_experiment()])
    experiment = statuses(config, ledger)[0].experiment
    rows, events = [], []
    for n in range(1, issues + 1):
        issue = f"octo-org__shopcart__{n}"
        variant = assign(ledger, experiment, issue, f"r{n}").variant.name
        runs = int(rng.integers(1, 3))
        costs = rng.uniform(0.01, 0.2, runs).round(6)
        score = float(np.clip(rng.normal(0.5 + (effect if variant == "b" else 0.0), 0.15), 0, 1))
        merged = bool(score > 0.55)
        for r, cost in enumerate(costs):
            events.append(
                {"stream": issue, "kind": Kind.RUN_FINISHED, "data": {"run_id": f"{n}-{r}", "cost_usd": float(cost)}}
            )
        events.append(
            {
                "stream": issue,
                "kind": Kind.QUALITY_SCORED,
                "data": {"score": 0.5, "settled": False, "components": {"merged": 0.0}},
            }
        )
        events.append(
            {
                "stream": issue,
                "kind": Kind.QUALITY_SCORED,
                "data": {"score": score, "settled": True, "components": {"merged": float(merged)}},
            }
        )
        rows.append(
            {
                "issue": issue,
                "variant": variant,
                "runs": runs,
                "cost": float(costs.sum()),
                "score": score,
                "merged": merged,
            }
        )
    events.append({"stream": "octo-org__other__1", "kind": Kind.RUN_FINISHED, "data": {"run_id": "x", "cost_usd": 9.0}})
    ledger.append_many(events)
    return pd.DataFrame(rows)


def test_evaluation_equals_the_figures_computed_directly(ledger: Ledger) -> None:
    written = synthetic_history(ledger, 120, 0.15, seed=1)
    config = config_with([prompt_experiment()])
    (report,), _ = evaluate_all(config, ledger)
    direct = written.groupby("variant").agg(
        issues=("issue", "count"),
        mean=("score", "mean"),
        success=("merged", "mean"),
        runs=("runs", "sum"),
        cost=("cost", "sum"),
        successes=("merged", "sum"),
    )
    for figures in report.figures:
        row = direct.loc[figures.variant]
        scores = written[written.variant == figures.variant].score.to_numpy()
        low, high = stats.t.interval(0.95, len(scores) - 1, loc=scores.mean(), scale=stats.sem(scores))
        assert (figures.issues, figures.n, figures.runs) == (row.issues, row.issues, row.runs)
        assert figures.mean_score == pytest.approx(row["mean"]) and figures.success_rate == pytest.approx(row.success)
        assert (figures.ci_low, figures.ci_high) == (pytest.approx(low), pytest.approx(high))
        assert figures.cost_usd == pytest.approx(row.cost) and figures.cost_per_run == pytest.approx(
            row.cost / row.runs
        )
        assert figures.cost_per_success == pytest.approx(row.cost / row.successes)
    (comparison,) = report.comparisons
    a, b = (written[written.variant == v].score.to_numpy() for v in ("a", "b"))
    assert comparison.fixed.reached and comparison.fixed.p_value == pytest.approx(
        stats.ttest_ind(b[:30], a[:30], equal_var=False).pvalue
    )
    assert report.winner == "b" and report.state == "running" and comparison.sequential.significant


class Registry:
    """The prompt registry's promotion as it behaves (False when the version is current already), counting."""

    def __init__(self) -> None:
        self.current: dict[str, str] = {}
        self.calls = 0
        self.lock = threading.Lock()

    def promote(self, name: str, version: str, by: str, reason: str, project: str = "") -> bool:
        with self.lock:
            self.calls += 1
            changed = self.current.get(name) != version
            self.current[name] = version
            return changed


def test_a_winner_is_concluded_and_promoted_once_however_often_evaluated(ledger: Ledger) -> None:
    synthetic_history(ledger, 120, 0.3, seed=2)
    config = config_with([prompt_experiment(auto_promote=True)])
    registry = Registry()
    opened: Callable[[], Registry] = lambda: registry  # noqa: E731
    barrier = threading.Barrier(4)

    def evaluate_and_settle() -> None:
        reports, last_seq = evaluate_all(config, ledger)
        barrier.wait()
        settle(ledger, reports, last_seq, opened)

    threads = [threading.Thread(target=evaluate_and_settle) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for _ in range(2):  # re-materialized later: nothing new
        settle(ledger, *evaluate_all(config, ledger), opened)
    assert registry.current == {"task": "bbbb"}
    (concluded,) = ledger.read(kinds=[Kind.EXPERIMENT_CONCLUDED])
    (promoted,) = ledger.read(kinds=[Kind.EXPERIMENT_PROMOTED])
    assert concluded.data["winner"] == "b" and promoted.data["version"] == "bbbb"
    assert [e.data["decision"] for e in ledger.read(stream="experiment:task-test", kinds=[Kind.DECISION_MADE])] == [
        DecisionKind.EXPERIMENT_WINNER
    ]
    (status,) = statuses(config, ledger)
    assert status.state == "concluded" and status.winner == "b"
    # Concluded: a new issue is in no experiment any more.
    assert treat(config, config.repository(REPO), ledger, "octo-org__shopcart__999", "r").recorded() == {}


def test_a_crash_between_promoting_and_recording_is_completed_next_time(ledger: Ledger) -> None:
    synthetic_history(ledger, 120, 0.3, seed=3)
    config = config_with([prompt_experiment(auto_promote=True)])
    registry = Registry()

    class Crash(RuntimeError):
        pass

    def crashing() -> Registry:
        registry.promote("task", "bbbb", "experiment:task-test", "won")
        raise Crash("killed after the registry changed, before experiment.promoted")

    with pytest.raises(Crash):
        settle(ledger, *evaluate_all(config, ledger), crashing)
    assert ledger.count(Kind.EXPERIMENT_CONCLUDED) == 1 and ledger.count(Kind.EXPERIMENT_PROMOTED) == 0
    settle(ledger, *evaluate_all(config, ledger), lambda: registry)
    (promoted,) = ledger.read(kinds=[Kind.EXPERIMENT_PROMOTED])
    assert promoted.data["changed"] is False and registry.current == {"task": "bbbb"}  # already current: once


def test_the_report_after_settling_says_concluded(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    synthetic_history(ledger, 120, 0.3, seed=5)
    config = config_with([prompt_experiment()])
    reports, last_seq = evaluate_all(config, ledger)
    concluded = settle(ledger, reports, last_seq, Registry)
    (settled,) = as_settled(reports, concluded)
    assert reports[0].state == "running" and (settled.state, settled.recorded_winner) == ("concluded", "b")
    (again,), _ = evaluate_all(config, ledger)
    assert again == settled  # what the next evaluation reads back from the ledger


def test_no_difference_declares_no_winner(ledger: Ledger) -> None:
    synthetic_history(ledger, 80, 0.0, seed=4)
    config = config_with([prompt_experiment(auto_promote=True)])
    registry = Registry()
    reports, last_seq = evaluate_all(config, ledger)
    assert settle(ledger, reports, last_seq, lambda: registry) == []
    assert reports[0].winner is None and registry.calls == 0 and ledger.count(Kind.EXPERIMENT_CONCLUDED) == 0


# --- the command -------------------------------------------------------------------------------------------


def test_paid_experiments_start_status_stop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = tmp_path / "paid.yaml"
    config_path.write_text(yaml.safe_dump({"model": {"name": "openai/small"}, "repositories": [REPO]}))
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    common = ["--config", str(config_path), "--ledger-url", ledger_url, "--by", "ops"]
    start_args = ["experiments", "start", "turns", "--kind", "limit", "--target", "max_turns"]
    assert main([*start_args, "--variant", "few=10", "--variant", "many=30", "--weights", "1,2", *common]) == 0
    assert "experiment turns started on every repository: few=10 (1), many=30 (2)" in capsys.readouterr().out
    assert main([*start_args, "--variant", "few=10", "--variant", "many=30", *common]) == 2
    assert "exists already" in capsys.readouterr().err
    assert (
        main(
            [
                "experiments",
                "start",
                "bad",
                "--kind",
                "limit",
                "--target",
                "max_turns",
                "--variant",
                "x=-3",
                "--variant",
                "y=1",
                *common,
            ]
        )
        == 2
    )
    assert "'x': '-3' is not a value of limits.max_turns" in capsys.readouterr().err
    assert (
        main(
            [
                "experiments",
                "start",
                "m",
                "--kind",
                "model",
                "--variant",
                "a=openai/small",
                "--variant",
                "b=other/x",
                *common,
            ]
        )
        == 2
    )
    assert "'other/x' is not allowed" in capsys.readouterr().err
    assert main(["experiments", "status", *common]) == 0
    out = capsys.readouterr().out
    assert "turns (running; sequential test decides): no winner yet" in out and "| few | 10 | 0 | 0 |" in out
    assert main(["experiments", "stop", "turns", "--reason", "done", *common]) == 0
    assert "experiment turns stopped" in capsys.readouterr().out
    assert main(["experiments", "status", "turns", *common]) == 0 and "turns (stopped" in capsys.readouterr().out
    assert main(["experiments", "status", "nothing", *common]) == 2
