"""End to end on the forge with the scripted model: two versions of the task prompt under an experiment, 64
labeled issues worked by Paid, people merging, voting and setting CI on the PRs through PyGithub, the PR sensor
scoring them, and the `experiments` asset declaring the better version, promoting it, the next run using it.
Then a backfill of `experiments` with GitHub and the model unreachable."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, Definitions, instance_for_test, materialize
from github import Auth, Github
from github.Repository import Repository
from paid_standins.inprocess import sensor_tick
from paid_standins.stack import OfflineStack, start_stack

from paid_dagster.cli import main
from paid_dagster.keys import issue_key
from paid_dagster.learning import registry as prompt_registry  # the prompts branch's
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import Kind
from paid_dagster.sensors import paid_pr_sensor

ISSUES = 64
TESTED_LINE = "Before you finish, add a regression test in tests/test_regression.py for the bug you fix."
FIX = """THOUGHT: The loop starts at index 1, so the first item is skipped.

```mswea_bash_command
python3 - <<'PY'
from pathlib import Path
path = Path("shopcart/cart.py")
source = path.read_text()
source = source.replace(
    "    for index in range(1, len(items)):\\n        item = items[index]\\n",
    "    for item in items:\\n",
)
path.write_text(source)
PY
```"""
REGRESSION_TEST = """THOUGHT: And a regression test for it, as asked.

```mswea_bash_command
cat > tests/test_regression.py <<'PY'
from shopcart import LineItem, total_cents


def test_the_first_item_counts() -> None:
    assert total_cents([LineItem("a", 50), LineItem("b", 70)]) == 120
PY
```"""
SUBMIT = "THOUGHT: Done.\n\n```mswea_bash_command\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n```"
# The version under test asks for a regression test, and the scripted model, like a careful engineer, writes one.
SCRIPT = {
    "conversations": [
        {
            "match": "regression test in tests/test_regression\\.py",
            "turns": [{"content": t} for t in (FIX, REGRESSION_TEST, SUBMIT)],
        },
        {"match": "total_cents|Cart total", "turns": [{"content": t} for t in (FIX, SUBMIT)]},
    ]
}


@dataclass
class World:
    stack: OfflineStack
    instance: DagsterInstance
    defs: Definitions
    ledger: Ledger
    registry: prompt_registry.PromptRegistry
    stopped: bool = False

    def stop_stand_ins(self) -> None:
        self.stack.stop()
        self.stopped = True


@pytest.fixture
def memory_dir() -> Iterator[Path]:
    """State on a tmpfs where there is one: Dagster's storage, the ledger and the forge are SQLite files that
    commit (and fsync) thousands of times in this test, which on a busy disk took a third of its time."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as directory:
        yield Path(directory)


@pytest.fixture
def world(memory_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    tmp_path = memory_dir
    stack = start_stack(tmp_path / "stack", script=SCRIPT, sandbox="bubblewrap")
    config = yaml.safe_load(stack.config_path.read_text())
    config["first_tick_backlog"] = ISSUES + 10
    config["checks"] = {"enabled": False}  # the sample's checks are not what this compares; a run takes ~1 s less
    config["repositories"][0] |= {"triage": False, "risk_policy": [{"glob": "*", "tier": "low"}]}
    # The losing variant's PRs are meant to score low: the quality gates must not pause the project for it.
    config["gates"] = {"floor": 0.0, "failure_rate": 1.0, "rolling_ratio": 0.0}
    stack.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    monkeypatch.setenv("PAID_CONFIG", str(stack.config_path))
    monkeypatch.setenv("PAID_LEDGER_URL", ledger_url)
    from paid_dagster.ledger import store

    store._ENGINES.clear()
    from paid_dagster.definitions import defs

    (tmp_path / "home").mkdir()
    ledger = Ledger(ledger_url)
    with instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        world = World(stack, instance, defs, ledger, prompt_registry.PromptRegistry(ledger))
        yield world
    if not world.stopped:  # a stopped server's shutdown() would wait forever
        stack.stop()


def people_react(
    repo: Repository, number: int, rng: random.Random, maintainer: Github, ready_and_merge: Callable[[str, int], str]
) -> str:
    """What the maintainers do with a PR, judging it by its files: one with a regression test is mostly merged
    and liked, one without is mostly closed; CI passes more often with the test."""
    pull = repo.get_pull(number)
    tested = any(f.filename == "tests/test_regression.py" for f in pull.get_files())
    good = rng.random() < (0.9 if tested else 0.2)
    repo.get_commit(pull.head.sha).create_status("success" if good or rng.random() < 0.3 else "failure", context="ci")
    as_maintainer = maintainer.get_repo(repo.full_name).get_issue(number)
    if good:
        ready_and_merge(repo.full_name, number)  # "Ready for review" is GraphQL on GitHub: the forge's own hand
        as_maintainer.create_reaction("+1")
    else:
        pull.edit(state="closed")
        if rng.random() < 0.7:
            as_maintainer.create_reaction("-1")
    return "tested" if tested else "plain"


def materialize_experiments(world: World) -> dict[str, object]:
    from paid_dagster.assets.experiments import experiments

    result = materialize([experiments], instance=world.instance, resources=world.defs.resources)
    assert result.success
    return {k: v.value for k, v in result.asset_materializations_for_node("experiments")[0].metadata.items()}


def test_the_better_prompt_wins_is_promoted_and_used(world: World) -> None:
    stack, ledger, registry = world.stack, world.ledger, world.registry
    seed, forge = stack.seed, stack.forge
    current = registry.current("task")
    tested = registry.add("task", f"{current.template.rstrip()}\n\n{TESTED_LINE}\n", seed.admin, "asks for a test")
    assert tested.version != current.version
    started = main(
        [
            "experiments",
            "start",
            "regression-test",
            "--kind=prompt",
            "--target=task",
            f"--variant=current={current.version}",
            f"--variant=tested={tested.version}",
            "--auto-promote",
            "--config",
            str(stack.config_path),
        ]
    )
    assert started == 0

    writer = forge.as_user(seed.writer)
    numbers = [seed.issue_number] + [
        writer.create_issue(seed.repo, f"Cart total leaves out the first item ({n})", "total_cents skips one")
        for n in range(2, ISSUES + 1)
    ]
    cursor = sensor_tick(world.instance, world.defs, None).cursor  # the sensor's first look: nothing labeled
    for number in numbers:
        writer.label(seed.repo, number, "paid-build")
    began = time.monotonic()
    tick = sensor_tick(world.instance, world.defs, cursor, log_level="ERROR")
    worked = time.monotonic() - began
    assert len(tick.launched) == ISSUES and not tick.failed, tick
    print(f"\n{ISSUES} issues labeled → {ISSUES} draft PRs in {worked:.1f} s ({worked / ISSUES:.2f} s per run)")

    assigned = {e.stream: e.data["variant"] for e in ledger.read(kinds=[Kind.EXPERIMENT_ASSIGNED])}
    assert len(assigned) == ISSUES and set(assigned.values()) == {"current", "tested"}
    for event in ledger.read(kinds=[Kind.RUN_STARTED]):  # every run says which variant it was, and used it
        variant = assigned[event.stream]
        assert event.data["experiments"] == {"regression-test": variant}
        version = tested.version if variant == "tested" else current.version
        assert event.data["prompt_bundle"]["task"] == version

    maintainer, author = (
        Github(
            base_url=forge.url,
            auth=Auth.Token(forge.token(login)),
            seconds_between_writes=0,
            seconds_between_requests=0,
        )
        for login in (seed.admin, seed.writer)
    )
    repo = author.get_repo(seed.repo)
    rng = random.Random(11)
    judged = {}
    for event in ledger.read(kinds=[Kind.PR_OPENED]):
        number = int(event.data["pr_number"])
        judged[event.stream] = people_react(repo, number, rng, maintainer, forge.as_user(seed.admin).merge)
    assert judged == {k: ("tested" if v == "tested" else "plain") for k, v in assigned.items()}

    # The PR sensor observes every PR and asks for a re-score of each; they are scored in one run, as a
    # single-run backfill of quality_score would (a run per issue costs its great-expectations check 2 s each).
    pr_tick = sensor_tick(world.instance, world.defs, None, execute=False, sensor=paid_pr_sensor)
    assert len(pr_tick.run_keys) == ISSUES, pr_tick
    keys = world.instance.get_dynamic_partitions("paid_issues")  # a range is in the order they were added
    assert set(keys) == set(assigned)
    world.defs.resolve_job_def("paid_score").execute_in_process(
        instance=world.instance,
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
        raise_on_error=False,
    )
    scored = {e.stream for e in ledger.read(kinds=[Kind.QUALITY_SCORED]) if e.data["settled"]}
    assert scored == set(assigned), "every PR was settled and scored"
    requests_before, calls_before = len(forge.requests()), len(stack.model.calls)

    metadata = materialize_experiments(world)
    print(metadata["experiment regression-test"])
    concluded = ledger.read(kinds=[Kind.EXPERIMENT_CONCLUDED])
    assert len(concluded) == 1 and concluded[0].data["winner"] == "tested", metadata
    assert registry.current("task").version == tested.version
    promoted = ledger.read(kinds=[Kind.EXPERIMENT_PROMOTED])
    assert len(promoted) == 1 and promoted[0].data["version"] == tested.version and promoted[0].data["changed"]
    # Evaluating the experiments read the ledger only.
    assert (len(forge.requests()), len(stack.model.calls)) == (requests_before, calls_before)

    # The next issue: no experiment runs any more, and the promoted version is the one sent.
    late = writer.create_issue(seed.repo, "Cart total leaves out the first item (late)", "total_cents skips one")
    writer.label(seed.repo, late, "paid-build")
    tick = sensor_tick(world.instance, world.defs, tick.cursor, log_level="ERROR")
    assert len(tick.launched) == 1, tick
    started_event = ledger.last(issue_key(seed.repo, late), Kind.RUN_STARTED)
    assert started_event is not None and started_event.data["prompt_bundle"]["task"] == tested.version
    assert "experiments" not in started_event.data
    finished = ledger.last(issue_key(seed.repo, late), Kind.RUN_FINISHED)
    # The model was sent the tested prompt: its conversation for it has three turns (fix, test, submit), not two.
    # (Nothing is left to change by now: main has the fix and the test from the merged PRs.)
    assert finished is not None and finished.data["turns"] == 3, finished

    # A backfill of `experiments` with GitHub and the model gone: the same figures, nothing decided twice.
    events_before = ledger.count()
    world.stop_stand_ins()
    again = materialize_experiments(world)
    assert again["experiment regression-test"] == metadata["experiment regression-test"]
    assert len(ledger.read(kinds=[Kind.EXPERIMENT_CONCLUDED])) == 1
    assert len(ledger.read(kinds=[Kind.EXPERIMENT_PROMOTED])) == 1
    assert ledger.count() == events_before
