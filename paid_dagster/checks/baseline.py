"""The baseline: the project's checks on the base commit, so that only what a change made worse counts.

Cached per base commit, environment and the checks' commands, as one JSON file under the work directory.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .findings import FAILED, NOT_RUN, CheckResult


@dataclass(frozen=True)
class Baseline:
    """The base commit's results (empty when it could not run), and why it could not, if so."""

    key: str
    results: list[CheckResult]
    cached: bool = False
    problem: str = ""

    @property
    def usable(self) -> bool:
        return not self.problem

    def by_check(self) -> dict[str, CheckResult]:
        return {r.check: r for r in self.results}


def baseline_key(base_commit: str, environment_key: str, commands: list[str]) -> str:
    """sha256 of the base commit, the environment's key ("" when none) and the commands, in that order."""
    text = json.dumps([base_commit, environment_key, commands])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def load_cached(cache_dir: Path | None, key: str) -> list[CheckResult] | None:
    path = cache_dir / f"{key}.json" if cache_dir else None
    if path is None or not path.is_file():
        return None
    try:
        return [CheckResult.from_record(r) for r in json.loads(path.read_text())["results"]]
    except (ValueError, KeyError, TypeError):
        return None  # a damaged cache is run again, never trusted


def store(cache_dir: Path | None, key: str, results: list[CheckResult]) -> None:
    if cache_dir is None:
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = cache_dir / f".{key}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps({"key": key, "results": [r.as_record() for r in results]}))
    temporary.replace(cache_dir / f"{key}.json")


def unusable_because(results: list[CheckResult]) -> str:
    """Why a baseline says nothing: no check, or none of them ran."""
    if not results:
        return ""
    if all(r.status == NOT_RUN for r in results):
        return "; ".join(f"{r.check}: {r.note}" for r in results)
    return ""


def compare(results: list[CheckResult], baseline: Baseline | None) -> list[CheckResult]:
    """Marks in each result what is new since the base commit (`new`, `worse`) and what was already failing."""
    before = baseline.by_check() if baseline and baseline.usable else {}
    for result in results:
        _compare_one(result, before.get(result.check))
    return results


def _compare_one(result: CheckResult, base: CheckResult | None) -> None:
    errors = result.error_findings
    if base is None or base.status == NOT_RUN:
        result.compared = False
        result.new, result.already = list(errors), []
        result.worse = result.status == FAILED
        return
    result.compared = True
    known = {base.key(f) for f in base.error_findings}
    result.new = [f for f in errors if result.key(f) not in known]
    result.already = [f for f in errors if result.key(f) in known]
    if result.status == NOT_RUN:
        result.worse = True  # it ran on the base commit: the change stopped it
    elif result.status == FAILED and not errors:
        result.worse = base.status != FAILED  # only an exit code to go by: worse if it passed before
    else:
        result.worse = bool(result.new)


def fixed_since(results: list[CheckResult], baseline: Baseline | None) -> int:
    """How many errors of the base commit are gone."""
    if not baseline or not baseline.usable:
        return 0
    now = {r.check: {r.key(f) for f in r.error_findings} for r in results if r.status != NOT_RUN}
    return sum(
        1
        for base in baseline.results
        if base.check in now
        for f in base.error_findings
        if base.key(f) not in now[base.check]
    )
