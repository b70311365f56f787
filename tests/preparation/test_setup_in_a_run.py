"""The setup phase inside a run: a repository that cannot be prepared costs no model call and says why."""

from __future__ import annotations

from pathlib import Path

from paid_dagster.agent.outcome import RunOutcome
from paid_dagster.keys import issue_key
from paid_dagster.ledger.kinds import Kind

from ..agent.harness import SUBMIT, harness


def test_a_required_setup_that_fails_stops_before_the_model_and_says_where(tmp_path: Path) -> None:
    with harness(tmp_path, {"conversations": [{"turns": [SUBMIT]}]}, checks=False) as h:
        repository = h.config.repositories[0]
        broken = repository.setup.model_copy(
            update={"enabled": True, "commands": ("echo preparing", "pip install this-package-does-not-exist-paid")}
        )
        h.config = h.config.model_copy(update={"repositories": (repository.model_copy(update={"setup": broken}),)})
        run = h.run()
        assert run.outcome == RunOutcome.SETUP_FAILED and run.turns == 0 and run.llm_calls == 0
        assert h.model.calls == [], "the model was called for a repository that could not be prepared"
        stream = issue_key(h.seed.repo, 1)
        failed = h.ledger.read(stream=stream, kinds=[Kind.SETUP_FAILED])
        assert failed and failed[0].data["failed_step"] == "pip install this-package-does-not-exist-paid"
        assert h.publish(run) is None
        comment = next(c for c in h.issue_comments() if "prepare the repository's environment" in c)
        assert "pip install this-package-does-not-exist-paid" in comment and "```" in comment
        assert "No model was called" in comment
