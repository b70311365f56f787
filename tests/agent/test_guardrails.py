"""Each guardrail trips exactly at its bound; the work so far is committed and the issue is told why."""

from __future__ import annotations

from pathlib import Path

from .harness import SUBMIT, bash, harness


def steps(n: int, command: str = "echo {i} > step-{i}.txt", **turn: object) -> list[dict]:
    return [{**bash(command.format(i=i)), **turn} for i in range(n)]


def test_turn_limit_trips_at_the_bound_commits_and_explains(tmp_path: Path) -> None:
    with harness(tmp_path, {"conversations": [{"turns": steps(10)}]}, max_turns=3) as h:
        run = h.run()
        assert run.outcome == "limits_exceeded" and run.turns == 3 and len(h.model.calls) == 3
        assert "3 turns" in (run.stopped_because or "")
        bare = h.forge.service.git(h.forge.repo(h.seed.repo))
        published = h.publish(run)
        assert published is not None
        files = bare.git("ls-tree", "--name-only", published and f"refs/heads/{run.branch}").split()
        assert {"step-0.txt", "step-1.txt", "step-2.txt"} <= set(files) and "step-3.txt" not in files
        comments = h.issue_comments()
        assert any("I stopped at a budget limit" in c and published.url in c for c in comments)
        h.publish(run)  # a retry does not explain twice
        assert sum("I stopped" in c for c in h.issue_comments()) == 1


def test_cost_ceiling_is_checked_before_every_call(tmp_path: Path) -> None:
    # Each call costs 100 000 * $3e-6 + 10 * $1.5e-5 ≈ $0.30: after two calls ($0.60) a $0.50 ceiling stops the third.
    script = {"conversations": [{"turns": steps(10, prompt_tokens=100_000, completion_tokens=10)}]}
    with harness(tmp_path, script, cost_ceiling_usd=0.5) as h:
        run = h.run()
        assert run.outcome == "limits_exceeded" and len(h.model.calls) == 2 and run.turns == 2
        assert 0.5 <= run.cost_usd < 0.7 and "ceiling" in (run.stopped_because or "")


def test_wall_time_trips_before_the_next_call(tmp_path: Path) -> None:
    # Calls at about 0 s and 3.3 s (each command sleeps 3.2 s); the third would start at about 6.5 s > 5 s.
    # The margins leave room for a slow machine's model calls and sandbox starts.
    script = {"conversations": [{"turns": steps(10, "sleep 3.2; echo {i} > slow-{i}.txt")}]}
    with harness(tmp_path, script, wall_time_seconds=5) as h:
        run = h.run()
        assert run.outcome == "timeout" and len(h.model.calls) == 2


def test_the_same_action_repeated_is_a_loop(tmp_path: Path) -> None:
    script = {"conversations": [{"turns": [bash("ls")] * 10}]}
    with harness(tmp_path, script) as h:
        run = h.run()
        assert run.outcome == "loop_detected" and len(h.model.calls) == 3
        h.publish(run)
        assert any("going round in circles" in c for c in h.issue_comments())


def test_wind_down_message_at_ninety_percent(tmp_path: Path) -> None:
    script = {"conversations": [{"turns": [*steps(9), SUBMIT]}]}
    with harness(tmp_path, script, checks=False, max_turns=10) as h:
        run = h.run()
        assert run.outcome == "completed" and run.wound_down
        warned = [i for i, c in enumerate(h.model.calls) if "most of your budget" in c.last_user_message]
        assert warned == [9]  # the tenth call, at 9 of 10 turns spent


def test_a_project_overrides_the_prompt_and_the_run_records_its_version(tmp_path: Path) -> None:
    from paid_dagster.agent.prompts import content_hash
    from paid_dagster.learning.registry import PromptRegistry

    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "task.md").write_text("House rules for {{ repo }} #{{ number }}: keep it small.\n\n{{ issue }}\n")
    with harness(tmp_path, {"conversations": [{"turns": [SUBMIT]}]}, checks=False) as h:
        builtin = h.run()
        repo = h.config.repositories[0].model_copy(update={"prompts_dir": str(prompts)})
        h.config = h.config.model_copy(update={"repositories": (repo,)})
        custom = h.run()
        builtin_task = PromptRegistry(h.ledger).current("task")
        assert builtin.prompt_template_hash == builtin_task.version == builtin.prompt_bundle["task"]
        custom_task = content_hash((prompts / "task.md").read_text())
        assert custom.prompt_template_hash == custom_task == custom.prompt_bundle["task"] != builtin_task.version
        assert custom.prompt_hash != builtin.prompt_hash
        assert "House rules for octo-org/shopcart #1" in h.model.calls[-1].last_user_message
