"""Label → sensor tick → run → draft PR, on SQLite and on PostgreSQL, against the forge and a scripted model."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dagster import AssetKey
from paid_standins.inprocess import sensor_tick

from paid_dagster.keys import issue_key
from paid_dagster.ledger import Ledger

from .conftest import Loop


def label(loop: Loop, login: str | None = None) -> None:
    seed = loop.stack.seed
    loop.stack.forge.as_user(login or seed.writer).label(seed.repo, seed.issue_number, "paid-build")


def test_label_becomes_a_draft_pull_request(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    label(loop)
    tick = sensor_tick(loop.instance, loop.defs, None)
    assert len(tick.launched) == 1 and not tick.failed, tick
    # The run's log is the live activity stream: each agent turn (intent, command, exit code, output, cost)
    # and each checks round, as they happened.
    messages = [e.user_message for e in loop.instance.all_logs(tick.launched[0])]
    turns = [m for m in messages if m.startswith("turn ")]
    assert turns and "$ cat shopcart/cart.py" in turns[0] and "exit 0" in turns[0] and "so far" in turns[0], turns
    assert turns[0].startswith("turn 1 · The issue says the total leaves out the first item"), turns[0]
    assert "tokens, $" in turns[0], turns[0]  # tokens and cost so far
    assert any(m.startswith("checks round 1:") for m in messages), messages
    assert any(m.startswith("review round 1 · tier ") for m in messages), messages
    # Once the branch is on GitHub, the run's clone and Paid's git are removed: none piles up on disk.
    finished = next(e for e in Ledger(loop.ledger_url).read(kinds=["run.finished"]) if e.data.get("worktree"))
    worktree = Path(finished.data["worktree"])
    assert not worktree.exists() and not worktree.with_name("repo.git").exists(), "the run's files were left behind"

    repo = forge.repo(seed.repo)
    pulls = forge.store.all("SELECT p.*, i.number, i.body, i.title FROM pulls p JOIN issues i ON i.id = p.issue_id")
    assert len(pulls) == 1
    pull = pulls[0]
    assert pull["draft"] == 1 and f"Closes #{seed.issue_number}" in pull["body"]
    assert pull["head_ref"].startswith(f"paid/{seed.issue_number}-cart-total")
    bare = forge.service.git(repo)
    fixed = bare.git("show", f"{pull['head_sha']}:shopcart/cart.py")
    assert "for item in items:" in fixed and "range(1, len(items))" not in fixed
    assert bare.commit(pull["head_sha"]).author_name == "Paid"
    comments = forge.store.all(
        "SELECT c.body FROM comments c JOIN issues i ON i.id = c.issue_id WHERE i.number = ?",
        seed.issue_number,
    )
    assert any(f"/pull/{pull['number']}" in c["body"] for c in comments)

    key = issue_key(seed.repo, seed.issue_number)
    kinds = [e.kind for e in Ledger(loop.ledger_url).read(stream=key)]
    for expected in (
        "issue.labeled",
        "issue.snapshot",
        "run.started",
        "llm.call",
        "run.finished",
        "pr.opened",
        "issue.commented",
    ):
        assert expected in kinds, (expected, kinds)
    calls = Ledger(loop.ledger_url).read(stream=key, kinds=["llm.call"])
    assert [c.data["purpose"] for c in calls] == ["triage"] + ["agent"] * 4 + ["review"]
    assert sum(c.data["cost_usd"] for c in calls) > 0

    materialization = loop.instance.get_latest_materialization_event(AssetKey("pull_request"))
    assert materialization is not None and materialization.asset_materialization.partition == key  # type: ignore[union-attr]
    metadata = materialization.asset_materialization.metadata  # type: ignore[union-attr]
    assert metadata["pr_url"].value.endswith(f"/pull/{pull['number']}")
    assert metadata["cost_usd"].value > 0 and metadata["turns"].value == 4
    run_meta = loop.instance.get_latest_materialization_event(AssetKey("agent_run")).asset_materialization.metadata  # type: ignore[union-attr]
    assert run_meta["outcome"].value == "completed" and len(run_meta["prompt_version"].value) == 16

    # The fix is real: the sample's own tests pass on the PR branch and failed on main.
    work = loop.stack.config_path.parent / "check"
    subprocess.run(["git", "clone", "-q", str(bare.path), str(work)], check=True)
    before = subprocess.run(["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=work, check=False)
    subprocess.run(["git", "checkout", "-q", pull["head_sha"]], cwd=work, check=True)
    after = subprocess.run(["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=work, check=False)
    assert before.returncode == 1 and after.returncode == 0
