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


def test_a_check_whose_install_failed_is_not_run_and_says_why_in_the_pr_and_the_metadata(tmp_path: Path) -> None:
    """An optional setup that fails (a dependency the registry does not have): the run goes on, and the test
    check whose tool that install was to provide is `not run`, naming the missing tool and the failed step."""
    import json
    import os

    from paid_standins.forge import Forge, seed_sample
    from paid_standins.model import Script, ScriptedModelServer
    from paid_standins.stack import stack_config

    from paid_dagster.config import parse_config
    from paid_dagster.github.client import GitHubClient
    from paid_dagster.ledger import Ledger

    from ..agent.harness import Harness, bash

    repo, title = "octo-org/greeter", "Say hello politely"
    package = {
        "name": "greeter",
        "version": "1.0.0",
        "scripts": {"test": "mocha"},
        "devDependencies": {"mocha": "10.2.0", "paid-no-such-package-for-tests": "1.0.0"},
    }
    files = {"package.json": json.dumps(package, indent=2), "index.js": "module.exports = () => 'hi';\n"}
    turns = [bash("echo \"module.exports = () => 'Hello!';\" > index.js", "Be polite."), SUBMIT]
    script = {"conversations": [{"match": title, "turns": turns}]}
    with Forge(tmp_path / "forge") as forge, ScriptedModelServer(Script.load(script)) as model:
        seed = seed_sample(forge)
        forge.create_repo(repo, files)
        forge.grant(repo, seed.bot, "write")
        forge.as_user(seed.writer).create_issue(repo, title, title)
        data = stack_config(forge.url, model.api_base, repo, tmp_path / "work", "bubblewrap")
        data["github"]["token_env"] = "PAID_HARNESS_TOKEN"
        data["repositories"] = [{"name": repo, "sandbox": "bubblewrap", "setup": {"required": False}}]
        config = parse_config(data)
        os.environ["PAID_HARNESS_TOKEN"] = forge.token(seed.bot)
        ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
        client = GitHubClient(config.github, forge.token(seed.bot))
        h = Harness(forge, seed.__class__(repo, 1, *list(seed.__dict__.values())[2:]), model, config, ledger, client)
        run = h.run()
        stream = issue_key(repo, 1)
        (failed,) = ledger.read(stream=stream, kinds=[Kind.SETUP_FAILED])
        assert failed.data["failed_step"].startswith("npm install") and failed.data["required"] is False
        assert "paid-no-such-package-for-tests" in failed.data["tail"]
        assert run.outcome == RunOutcome.COMPLETED and run.checks_summary["checks_not_run"] == 1
        (ran,) = [e.data for e in ledger.read(stream=stream, kinds=[Kind.CHECKS_RAN])]
        (tests,) = ran["checks"]
        why = "mocha: command not found in the sandbox (the environment's setup failed at `npm install"
        assert tests["status"] == "not run" and tests["note"].startswith(why), tests
        published = h.publish(run)
        assert published is not None
        body = client.repo(repo).get_pull(published.number).body
        assert f"⚠️ not run: {why}" in body, body
