"""The label sensor's promises: once per label event, trusted labelers only, idle ticks free, bad input clear."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterRunStatus, RunsFilter
from paid_standins.inprocess import sensor_tick

from paid_dagster.keys import issue_key
from paid_dagster.learning.decisions import DecisionKind
from paid_dagster.ledger import Ledger

from ..decision_counts import choices, decisions
from .conftest import Loop


def open_pulls(loop: Loop) -> list[dict]:
    return loop.stack.forge.store.all(
        "SELECT i.number, p.head_sha FROM pulls p JOIN issues i ON i.id = p.issue_id WHERE i.state = 'open'"
    )


def materializations(loop: Loop, asset: str) -> int:
    records = loop.instance.fetch_materializations(AssetKey(asset), limit=100).records
    return len(records)


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_same_label_event_on_five_ticks_runs_once(loop: Loop) -> None:
    seed = loop.stack.seed
    loop.stack.forge.as_user(seed.writer).label(seed.repo, 1, "paid-build")
    cursor = None
    launched = []
    for _ in range(5):
        tick = sensor_tick(loop.instance, loop.defs, cursor)
        cursor = tick.cursor
        launched += tick.launched
    assert len(launched) == 1
    # Even with the cursor lost, the run_key (label event id) keeps the same event from running twice.
    again = sensor_tick(loop.instance, loop.defs, None)
    assert again.run_keys and again.deduplicated == again.run_keys and not again.launched
    assert len(loop.instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))) == 1
    assert len(open_pulls(loop)) == 1
    # Six ticks, one with the cursor lost: one trigger accepted, one triage verdict.
    ledger, key = Ledger(loop.ledger_url), issue_key(seed.repo, 1)
    assert choices(ledger, DecisionKind.TRIGGER, key) == ["accepted"]
    assert choices(ledger, DecisionKind.TRIAGE, key) == ["clear"]


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_relabel_is_a_new_attempt_on_the_same_partition_and_pr(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    forge.as_user(seed.writer).label(seed.repo, 1, "paid-build")
    first = sensor_tick(loop.instance, loop.defs, None)
    forge.as_user(seed.writer).unlabel(seed.repo, 1, "paid-build")
    forge.as_user(seed.admin).label(seed.repo, 1, "paid-build")
    second = sensor_tick(loop.instance, loop.defs, first.cursor)
    assert len(first.launched) == 1 and len(second.launched) == 1 and first.run_keys != second.run_keys
    assert materializations(loop, "agent_run") == 2 and materializations(loop, "pull_request") == 2
    assert loop.instance.get_dynamic_partitions("paid_issues") == [issue_key(seed.repo, 1)]
    assert len(open_pulls(loop)) == 1
    events = Ledger(loop.ledger_url).read(stream=issue_key(seed.repo, 1))
    assert [e.kind for e in events].count("pr.opened") == 1 and [e.kind for e in events].count("pr.updated") == 1
    assert [e.kind for e in events].count("issue.commented") == 1
    comments = forge.store.scalar(
        "SELECT COUNT(*) FROM comments c JOIN issues i ON i.id = c.issue_id WHERE i.number = 1"
    )
    assert comments == 1


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_untrusted_labeler_gets_no_run_and_an_event(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    forge.grant(seed.repo, seed.outsider, "triage")  # may label, but is not trusted to trigger
    forge.as_user(seed.outsider).label(seed.repo, 1, "paid-build")
    tick = sensor_tick(loop.instance, loop.defs, None)
    assert not tick.run_keys and not loop.instance.get_runs()
    ignored = Ledger(loop.ledger_url).read(kinds=["issue.label_ignored"])
    assert len(ignored) == 1 and seed.outsider in ignored[0].data["reason"] and "triage" in ignored[0].data["reason"]
    sensor_tick(loop.instance, loop.defs, None)  # the cursor lost: the same label event seen again
    refused = decisions(Ledger(loop.ledger_url), DecisionKind.TRIGGER)
    assert [(e.data["choice"], e.data["context"]["why"]) for e in refused] == [("refused", "untrusted_labeler")]
    assert refused[0].data["candidates"] == ["accepted", "refused"] and seed.outsider in refused[0].data["rationale"]


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_idle_ticks_are_answered_304(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    forge.as_user(seed.writer).label(seed.repo, 1, "paid-build")
    cursor = sensor_tick(loop.instance, loop.defs, None).cursor
    cursor = sensor_tick(loop.instance, loop.defs, cursor).cursor  # the cursor's `since` moved: one full listing
    for _ in range(3):
        mark = forge.request_mark()
        tick = sensor_tick(loop.instance, loop.defs, cursor, execute=False)
        cursor = tick.cursor
        seen = [(r.method, r.path.split("?")[0], r.status, r.counted) for r in forge.requests(mark)]
        assert seen == [("GET", f"/repos/{seed.repo}/issues", 304, False)], seen


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_bad_input_is_explained_and_the_next_tick_recovers(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    forge.as_user(seed.writer).label(seed.repo, 1, "paid-build")
    config_path = loop.stack.config_path
    good = config_path.read_text()

    monkeypatch.delenv("PAID_FORGE_TOKEN")
    tick = sensor_tick(loop.instance, loop.defs, None)
    assert "PAID_FORGE_TOKEN is not set" in (tick.skip_reason or "") and tick.cursor is None
    monkeypatch.setenv("PAID_FORGE_TOKEN", forge.token(seed.bot))

    config_path.write_text("repositories: [octo-org/shopcart\n  bad: : yaml")
    tick = sensor_tick(loop.instance, loop.defs, None)
    assert "not valid YAML at line" in (tick.skip_reason or "")

    data = yaml.safe_load(good)
    data["repositories"].append({"name": "octo-org/no-such-repo"})
    data["colour"] = "blue"
    config_path.write_text(yaml.safe_dump(data))
    tick = sensor_tick(loop.instance, loop.defs, None)
    assert "unknown key 'colour'" in (tick.skip_reason or "")
    del data["colour"]
    config_path.write_text(yaml.safe_dump(data))
    tick = sensor_tick(loop.instance, loop.defs, None)
    assert len(tick.launched) == 1  # the good repository still works
    cursor = json.loads(tick.cursor or "{}")
    assert "octo-org/no-such-repo" not in cursor and seed.repo in cursor
    config_path.write_text(good)

    forge.as_user(seed.writer).unlabel(seed.repo, 1, "paid-build")
    forge.as_user(seed.writer).label(seed.repo, 1, "paid-build")
    forge.set_faults(error_rate=1.0, error_status=502)
    failed = sensor_tick(loop.instance, loop.defs, tick.cursor)
    forge.clear_faults()
    assert "502" in (failed.skip_reason or "") and failed.cursor == tick.cursor and not failed.run_keys
    recovered = sensor_tick(loop.instance, loop.defs, failed.cursor)
    assert len(recovered.launched) == 1


def test_definitions_load_from_workspace_yaml(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "DAGSTER_HOME": str(tmp_path),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "MSWEA_SILENT_STARTUP": "1",
        "HOME": str(tmp_path),
    }
    (tmp_path / "dagster.yaml").write_text("")
    out = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Validation successful" in out.stdout + out.stderr


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_the_first_ticks_backlog_cap_refuses_the_rest_once_each(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    data = yaml.safe_load(loop.stack.config_path.read_text())
    data["first_tick_backlog"] = 1
    loop.stack.config_path.write_text(yaml.safe_dump(data))
    second = forge.as_user(seed.outsider).create_issue(seed.repo, "Totals ignore discounts", "They do")
    for number in (seed.issue_number, second):
        forge.as_user(seed.writer).label(seed.repo, number, "paid-build")
    tick = sensor_tick(loop.instance, loop.defs, None, execute=False)
    sensor_tick(loop.instance, loop.defs, tick.cursor, execute=False)  # nothing new
    assert len(tick.run_keys) == 1
    triggers = decisions(Ledger(loop.ledger_url), DecisionKind.TRIGGER)
    assert sorted((e.data["choice"], e.data["context"].get("why", "")) for e in triggers) == [
        ("accepted", ""),
        ("refused", "backlog_cap"),
    ]
    refused = next(e for e in triggers if e.data["choice"] == "refused")
    assert "relabel" in refused.data["rationale"] and refused.stream != tick.run_keys[0].split(":")[0]
