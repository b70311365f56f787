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
    "six": Case(
        "six",
        "Mention Python 3.13 in the README",
        "echo 'six is tested on Python 3.13 too.' >> README.rst",
        'sed -i \'s/return s.encode("latin-1")/return s.encode("utf-8")/\' six.py',
        'sed -i \'s/return s.encode("utf-8")/return s.encode("latin-1")/\' six.py',
        ("test_six.test_b",),
        "setup.py",
    ),
    "minimist": Case(
        "minimist",
        "Document --no- flags in the README",
        "echo 'A --no-foo flag sets foo to false.' >> README.md",
        "sed -i 's/setArg(key, false, arg);/setArg(key, true, arg);/' index.js",
        "sed -i 's/setArg(key, true, arg);/setArg(key, false, arg);/' index.js",
        ("parse args › no",),
        "package.json",
    ),
}


AGAIN = "Point the README to the changelog"


def script(case: Case) -> list[dict]:
    first = [
        bash(case.harmless, "A harmless change first."),
        bash(case.plant, "And a change that breaks the project's tests."),
        SUBMIT,
    ]
    second = [bash(case.revert, "Undo the change the checks caught."), SUBMIT]
    again = [bash("echo 'See CHANGELOG for details.' >> README.rst", "A harmless change."), SUBMIT]
    return [
        {"match": "QUALITY FEEDBACK", "turns": second},
        {"match": re.escape(case.title), "turns": first},
        {"match": re.escape(AGAIN), "turns": again},
    ]


@pytest.fixture
def real(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RealRun]:
    name, sandbox = request.param
    case = CASES[name]
    yield from open_run(tmp_path, monkeypatch, projects()[name], case.title, sandbox, script(case))


def by_check(event: dict) -> dict[str, dict]:
    return {c["check"]: c for c in event["checks"]}


REAL = [
    ("iniconfig", "bubblewrap"),
    ("six", "bubblewrap"),
    ("minimist", "bubblewrap"),
    pytest.param(("iniconfig", "docker"), marks=pytest.mark.docker),  # the image has Python, not Node
]


@pytest.mark.parametrize("real", REAL, indirect=True, ids=lambda p: "-".join(p))
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
    counts = after["counts"]
    assert after["status"] == "passed" and counts["passed"] > 0 and counts["failed"] == counts["errors"] == 0, after
    assert counts["passed"] + counts["skipped"] == counts["collected"], after
    assert not any(c["worse"] for c in second.values()), second

    already = [f for c in second.values() for f in c["already"]]
    (body,) = real.pull_bodies()
    assert "Quality checks: 2 rounds" in body and f"{after['counts']['collected']} test(s) collected" in body
    for finding in already[:20]:
        assert finding["message"] in body or finding["message"][:40] in body, finding
        assert finding["message"] not in fed_back, finding
    print(f"\n{real.repo}: fed back {new}; round 2 ran {after['counts']}; already failing {len(already)}")
    print(body)


@pytest.mark.parametrize("real", [("iniconfig", "bubblewrap")], indirect=True, ids=lambda p: "-".join(p))
def test_a_second_run_on_the_same_lock_file_reuses_the_environment(real: RealRun) -> None:
    first = real.label_and_tick()
    assert len(first.launched) == 1 and not first.failed, first
    (cold,) = real.events("setup.prepared")
    assert cold["status"] == "prepared" and cold["reached"], cold  # it installed from the registry
    second = real.label_and_tick(AGAIN, first.cursor)
    assert len(second.launched) == 1 and not second.failed, second
    (warm,) = real.events("setup.prepared")
    # Same uv.lock, same sandbox: the environment is copied from the cache; no install step runs, nothing is reached.
    assert warm["status"] == "reused" and warm["key"] == cold["key"] and warm["reached"] == [], warm
    assert warm["duration_s"] < cold["duration_s"], (warm, cold)
    (ran,) = real.events("checks.ran")
    tests = by_check(ran)["tests"]
    assert tests["status"] == "passed" and tests["runner"] == "project", tests  # pytest from the reused .venv
    print(f"\nsetup: cold {cold['duration_s']:.1f} s, warm (reused) {warm['duration_s']:.2f} s")
