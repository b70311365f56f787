"""The checks loop (the project's own linters and tests, fed back): a first attempt with a ruff error and a failing test is fed back and fixed."""

from __future__ import annotations

from pathlib import Path

import pytest
from paid_standins.forge.seed import sample_files

from paid_dagster.config import ChecksSettings
from paid_dagster.keys import issue_key

from .harness import SUBMIT, bash, harness

# The sample's cart with the first item counted, but an unused import (instead of its docstring) and
# quantities forgotten.
_SAMPLE_CART = sample_files()["shopcart/cart.py"].split("\n", 2)[2]
SLOPPY = "import os\n" + _SAMPLE_CART.replace(
    "    for index in range(1, len(items)):\n        item = items[index]\n", "    for item in items:\n"
).replace("total += item.unit_price_cents * item.quantity", "total += item.unit_price_cents")
assert SLOPPY != "import os\n" + _SAMPLE_CART, "the sample cart changed: update this test"

CAREFUL = SLOPPY.replace("import os\n", "").replace(
    "total += item.unit_price_cents", "total += item.unit_price_cents * item.quantity"
)


def write_cart(source: str) -> dict[str, str]:
    return bash(f"cat > shopcart/cart.py <<'PY'\n{source}PY", "Rewrite the cart's total.")


SCRIPT = {
    "conversations": [
        # The feedback round: its opening holds the task and the QUALITY FEEDBACK section.
        {"match": "QUALITY FEEDBACK", "turns": [write_cart(CAREFUL), SUBMIT]},
        {"match": "total_cents|Cart total", "turns": [write_cart(SLOPPY), SUBMIT]},
    ]
}


def test_findings_are_fed_back_and_fixed_in_a_second_round(tmp_path: Path) -> None:
    with harness(tmp_path, SCRIPT) as h:
        run = h.run()
        assert run.outcome == "completed" and run.check_rounds == 2
        assert (
            run.checks_summary["status"] == "passed"
            and run.checks_summary["checks_passed"] == run.checks_summary["checks_total"] == 2
        )
        rounds = h.ledger.read(stream=issue_key(h.seed.repo, 1), kinds=["checks.ran"])
        assert [e.data["round"] for e in rounds] == [1, 2]
        first = {c["check"]: c for c in rounds[0].data["checks"]}
        assert first["lint"]["status"] == "failed" and first["lint"]["findings"][0]["rule"] == "F401"
        assert first["lint"]["findings"][0]["fixable"] is True
        assert first["tests"]["status"] == "failed" and first["tests"]["errors"] == 1
        assert "test_total_multiplies_by_quantity" in first["tests"]["findings"][0]["rule"]
        # That test failed on the base commit too (the issue's bug): already failing, not the change's doing.
        assert first["tests"]["worse"] is False and first["tests"]["already_failing"] == 1
        assert first["lint"]["worse"] is True and first["lint"]["new_errors"] == 1
        assert rounds[1].data["summary"]["status"] == "passed"
        # What the agent was told in round 2: file:line – message (rule) [fixable], only what it made worse.
        fed_back = next(c.last_user_message for c in h.model.calls if "QUALITY FEEDBACK" in c.last_user_message)
        assert "shopcart/cart.py:1 – `os` imported but unused (F401) [fixable]" in fed_back
        assert "test_total_multiplies_by_quantity" not in fed_back
        published = h.publish(run)
        assert published is not None
        body = h.client.repo(h.seed.repo).get_pull(published.number).body
        assert "Quality checks: 2 rounds" in body and "tests (pytest): ✅ passed" in body
        assert "3 test(s) collected: 3 passed, 0 failed" in body and "Fixed: 2 problem(s) that failed on `main`" in body
        bare = h.forge.service.git(h.forge.repo(h.seed.repo))
        files = bare.git("ls-tree", "-r", "--name-only", f"refs/heads/{run.branch}").split()
        assert not [f for f in files if f.startswith(".paid-checks")]


def test_remaining_findings_go_into_the_pr_after_the_last_round(tmp_path: Path) -> None:
    script = {"conversations": [{"match": "total_cents|Cart total", "turns": [write_cart(SLOPPY), SUBMIT]}]}
    with harness(tmp_path, script) as h:
        h.config = h.config.model_copy(update={"checks": ChecksSettings(max_rounds=2)})
        run = h.run()
        assert run.check_rounds == 2 and run.checks_summary["status"] == "failed"
        published = h.publish(run)
        assert published is not None
        body = h.client.repo(h.seed.repo).get_pull(published.number).body
        assert "Remaining findings" in body and "F401" in body


@pytest.mark.docker
def test_the_loop_runs_its_checks_in_docker_too(tmp_path: Path) -> None:
    with harness(tmp_path, SCRIPT, sandbox="docker") as h:
        run = h.run()
        assert run.sandbox == "docker" and run.check_rounds == 2 and run.checks_summary["status"] == "passed"
        assert run.checks_summary["checks_passed"] == run.checks_summary["checks_total"] == 2
