"""The CLI engine adapters: command line, environment, output and cost parsing, against stand-in executables
that print what the real CLIs document (the real ones need the network)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from paid_dagster.keys import issue_key

from .harness import harness

FAKES = Path(__file__).parent / "fake_clis"
CASES = [
    ("claude-code", "claude", "ANTHROPIC_API_KEY", 6, 0.0431, 12034, 911),
    ("codex", "codex", "OPENAI_API_KEY", 2, None, 11000, 500),
    ("aider", "aider", "ANTHROPIC_API_KEY", 2, 0.0214, 5400, 355),
]


@pytest.mark.parametrize(("engine", "exe", "key", "turns", "cost", "tokens_in", "tokens_out"), CASES)
def test_cli_engine(
    engine: str,
    exe: str,
    key: str,
    turns: int,
    cost: float | None,
    tokens_in: int,
    tokens_out: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", f"{FAKES}:{os.environ['PATH']}")
    monkeypatch.setenv(key, "sk-provider-key-for-the-cli-0123456789")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "x" * 36)
    monkeypatch.setenv("DATABASE_URL", "postgresql://paid:CanaryPassw0rd99@db/paid")
    with harness(tmp_path, {"conversations": []}) as h:
        repo = h.config.repositories[0].model_copy(update={"engine": engine})
        h.config = h.config.model_copy(update={"repositories": (repo,)})
        run = h.run()
        assert run.outcome == "completed" and run.engine == engine and run.turns == turns
        assert run.commits_ahead == 1 and run.checks_summary["status"] == "passed"
        call = json.loads((Path(run.worktree) / f"{exe}-call.json").read_text())
        assert call["env"].get(key) == "set", "the CLI did not get its provider key"
        leaked = [k for k in call["env"] if k in ("GITHUB_TOKEN", "PAID_HARNESS_TOKEN", "PAID_FORGE_TOKEN")]
        assert not leaked, f"the CLI saw {leaked}"
        # In the sandbox: the working files at /workspace, nothing above them writable, Paid's git read-only.
        assert call["cwd"] == "/workspace" and not call["parent_writable"] and not call["paid_git_writable"]
        assert "DATABASE_URL" not in call["env_names"] and "PAID_CONFIG" not in call["env_names"]
        assert "<<<UNTRUSTED-" in " ".join(call["argv"])
        events = h.ledger.read(stream=issue_key(h.seed.repo, 1), kinds=["llm.call"])
        assert len(events) == 1 and events[0].data["via"] == engine
        assert events[0].data["tokens_in"] == tokens_in and events[0].data["tokens_out"] == tokens_out
        if cost is not None:
            assert events[0].data["cost_usd"] == pytest.approx(cost) and run.cost_usd == pytest.approx(cost)
        if engine == "claude-code":
            assert call["argv"][1] == "-p" and "--output-format" in call["argv"]
