"""Issue 9's "must show", on real open-source projects nobody here wrote: label → sensor tick → setup from the
registries → a scripted agent plants a bug → round 1 feeds back the project's own failing tests by name → round 2
(its revert) passes → a draft PR that lists what was already failing apart. paid.yaml names the repository only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..agent.harness import SUBMIT, bash
from .conftest import RealRun, open_run
from .projects import projects


@dataclass(frozen=True)
class Case:
    project: str
    title: str
    harmless: str  # a command that makes a harmless change
    plant: str  # a command that breaks the project's own tests
    revert: str  # the command that undoes the plant
    failing: tuple[str, ...]  # test ids the plant breaks, as the feedback names them
    setup_source: str  # what setup detection must have read


CASES = {
    "iniconfig": Case(
        "iniconfig",
        "Say in the README that line numbers are 1-based",
        "echo 'Line numbers reported by ``lineof`` are 1-based.' >> README.rst",
        "sed -i 's/else lineno + 1$/else lineno + 2/' src/iniconfig/__init__.py",
        "sed -i 's/else lineno + 2$/else lineno + 1/' src/iniconfig/__init__.py",
        ("test_iniconfig.test_iniconfig_lineof",),
        "uv.lock",
    ),
}


def script(case: Case) -> list[dict]:
    first = [
        bash(case.harmless, "A harmless change first."),
        bash(case.plant, "And a change that breaks the project's tests."),
        SUBMIT,
    ]
    second = [bash(case.revert, "Undo the change the checks caught."), SUBMIT]
    return [{"match": "QUALITY FEEDBACK", "turns": second}, {"match": re.escape(case.title), "turns": first}]


@pytest.fixture
def real(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RealRun]:
    name, sandbox = request.param
    case = CASES[name]
    yield from open_run(tmp_path, monkeypatch, projects()[name], case.title, sandbox, script(case))


def by_check(event: dict) -> dict[str, dict]:
    return {c["check"]: c for c in event["checks"]}


@pytest.mark.parametrize("real", [("iniconfig", "bubblewrap")], indirect=True, ids=lambda p: "-".join(p))
def test_a_real_project_end_to_end(real: RealRun) -> None:
    case = CASES[real.repo.split("/")[1]]
    tick = real.label_and_tick()
    assert len(tick.launched) == 1 and not tick.failed, tick

    prepared = real.events("setup.prepared")
    assert prepared and case.setup_source in prepared[0]["source"], (prepared, real.events("setup.failed"))
    rounds = real.events("checks.ran")
    assert len(rounds) == 2, [r["summary"] for r in rounds]
    first, second = by_check(rounds[0]), by_check(rounds[1])
    tests = [c for c in first.values() if c["kind"] == "tests"]
    assert tests and tests[0]["worse"], first
    new = [f["rule"] for f in tests[0]["new"]]
    (fed_back,) = real.fed_back()
    for test_id in case.failing:
        assert any(test_id in n for n in new), new
        assert test_id in fed_back, fed_back
    after = second[tests[0]["check"]]
    assert after["status"] == "passed" and after["counts"]["passed"] == after["counts"]["collected"] > 0, after
    assert not any(c["worse"] for c in second.values()), second

    already = [f for c in second.values() for f in c["already"]]
    (body,) = real.pull_bodies()
    assert "Quality checks: 2 rounds" in body and f"{after['counts']['collected']} test(s) collected" in body
    for finding in already[:20]:
        assert finding["message"] in body or finding["message"][:40] in body, finding
        assert finding["message"] not in fed_back, finding
    print(f"\n{real.repo}: fed back {new}; round 2 ran {after['counts']}; already failing {len(already)}")
    print(body)
