"""The forge's JSON has every key that real GitHub responses (recorded) have, with the same JSON types."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from paid_standins.forge import Forge, SampleSeed
from paid_standins.forge.routes import ROUTES

from . import recordings, scenario

# Keys GitHub sends only in situations the stand-in never creates; printed, not required.
ONLY_IN_OTHER_SITUATIONS = {
    "repository": {"parent": "forks only", "source": "forks only"},
}


def served_samples(forge: Forge, sc: scenario.Scenario, seed: SampleSeed) -> list[tuple[str, str, str, dict | None]]:
    r = f"/repos/{sc.repo}"
    outsider_repo = f"/repos/{sc.repo}"
    return [
        ("GET", "/user", seed.writer, None),
        ("GET", f"/users/{seed.admin}", seed.writer, None),
        ("GET", r, seed.writer, None),
        ("GET", f"{r}/issues?state=all", seed.writer, None),
        ("GET", f"{r}/issues/{sc.issue}", seed.writer, None),
        ("GET", f"{r}/issues/{sc.pull}", seed.writer, None),
        ("POST", f"{r}/issues", seed.writer, {"title": "Another", "body": "text", "labels": ["x"]}),
        ("PATCH", f"{r}/issues/{sc.issue}", seed.writer, {"body": "edited"}),
        ("GET", f"{r}/labels", seed.writer, None),
        ("GET", f"{r}/labels/paid-build", seed.writer, None),
        ("POST", f"{r}/labels", seed.admin, {"name": "new-label", "color": "00ff00", "description": "d"}),
        ("GET", f"{r}/issues/{sc.issue}/labels", seed.writer, None),
        ("POST", f"{r}/issues/{sc.issue}/labels", seed.writer, {"labels": ["triaged"]}),
        ("GET", f"{r}/issues/{sc.issue}/comments", seed.writer, None),
        ("POST", f"{r}/issues/{sc.issue}/comments", seed.writer, {"body": "hi"}),
        ("GET", f"{r}/issues/comments/{sc.comment_id}", seed.writer, None),
        ("GET", f"{r}/issues/{sc.issue}/events", seed.writer, None),
        ("GET", f"{r}/issues/{sc.issue}/timeline", seed.writer, None),
        ("GET", f"{r}/issues/{sc.issue}/reactions", seed.writer, None),
        ("POST", f"{r}/issues/{sc.issue}/reactions", seed.admin, {"content": "rocket"}),
        ("GET", f"{r}/issues/comments/{sc.comment_id}/reactions", seed.writer, None),
        ("GET", f"{r}/pulls?state=all", seed.writer, None),
        ("GET", f"{r}/pulls/{sc.pull}", seed.writer, None),
        ("GET", f"{r}/pulls/{sc.pull}/reviews", seed.writer, None),
        ("GET", f"{r}/pulls/{sc.pull}/reviews/{sc.review_id}", seed.writer, None),
        ("GET", f"{r}/pulls/{sc.pull}/comments", seed.writer, None),
        ("GET", f"{r}/pulls/{sc.pull}/files", seed.writer, None),
        ("GET", f"{r}/pulls/{sc.pull}/commits", seed.writer, None),
        ("GET", f"{r}/git/ref/heads/main", seed.writer, None),
        ("GET", f"{r}/git/refs", seed.writer, None),
        ("POST", f"{r}/git/refs", seed.writer, {"ref": "refs/heads/copy", "sha": sc.head_sha}),
        ("GET", f"{r}/branches/main", seed.writer, None),
        ("GET", f"{r}/commits/{sc.head_sha}/status", seed.writer, None),
        ("POST", f"{r}/statuses/{sc.head_sha}", seed.writer, {"state": "pending", "context": "lint"}),
        ("GET", f"{r}/commits/{sc.head_sha}/check-runs", seed.writer, None),
        ("GET", f"{r}/check-runs/{sc.check_run_id}", seed.writer, None),
        ("GET", "/rate_limit", seed.writer, None),
        ("GET", f"{r}/collaborators/{seed.writer}/permission", seed.admin, None),
        ("PUT", f"{r}/pulls/{sc.pull}/merge", seed.admin, {"merge_method": "merge"}),
        ("GET", f"{r}/pulls/{sc.pull}", seed.writer, None),
        ("GET", f"{r}/issues/{sc.issue}", seed.writer, None),
        ("GET", f"/users/{seed.writer}", seed.writer, None),
        ("GET", f"{r}/issues/{sc.issue}/events", seed.writer, None),
        ("GET", f"{r}/issues/{sc.issue}/timeline", seed.writer, None),
        # errors
        ("GET", "/user", "bad-token", None),
        ("GET", "/repos/nobody/nothing", seed.writer, None),
        ("POST", f"{r}/labels", seed.admin, {"name": "bad", "color": "zz"}),
        ("GET", f"{outsider_repo}/collaborators/{seed.writer}/permission", seed.outsider, None),
    ]


def fetch_all(forge: Forge, samples: list[tuple[str, str, str, dict | None]]) -> dict[str, recordings.Tree]:
    trees: dict[str, recordings.Tree] = {}
    session = requests.Session()
    for method, path, login, body in samples:
        token = "ghp_not_a_real_token" if login == "bad-token" else forge.token(login)
        response = session.request(
            method, forge.url + path, json=body, headers={"Authorization": f"token {token}"}, timeout=30
        )
        kind = recordings.classify(method, path, response.status_code)
        assert kind is not None, f"{method} {path} is not a type the recordings know"
        assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text[:300]}"
        if response.content:
            recordings.fold_by_type(trees, kind, response.json())
    return trees


def test_every_recorded_key_is_served_with_the_same_type(forge: Forge, sample: SampleSeed) -> None:
    sc = scenario.build(forge, sample)
    recorded, unclassified = recordings.recorded_trees()
    ours = fetch_all(forge, served_samples(forge, sc, sample))

    report, failures, unserved_kinds = [], [], []
    for kind in sorted(recorded):
        if kind not in ours:
            unserved_kinds.append(kind)
            continue
        problems = recordings.differences(recorded[kind], ours[kind])
        allowed = ONLY_IN_OTHER_SITUATIONS.get(kind, {})
        hard = [p for p in problems if p.removeprefix("missing ") not in allowed]
        failures += [f"{kind}: {p}" for p in hard]
        nulls = recordings.nulls_on_our_side(recorded[kind], ours[kind])
        report.append(f"{kind}: {len(hard)} missing/mismatched; served as null only: {nulls or 'none'}")
    for kind, reasons in ONLY_IN_OTHER_SITUATIONS.items():
        report.append(f"{kind}: not served by design: {reasons}")
    print("\n".join(report))
    print("recorded kinds of items the stand-in never produces:", unserved_kinds)
    print(
        "recorded exchanges of types outside Paid's subset:",
        sorted({e.path.split("?")[0] for e in unclassified}),
    )
    assert not failures, "keys missing or of another type:\n" + "\n".join(failures)
    served_types = {k.split(":")[0] for k in ours}
    for needed in (
        "user",
        "repository",
        "issue",
        "label",
        "comment",
        "event",
        "reaction",
        "pull",
        "review",
        "ref",
        "status",
        "check_run",
        "rate_limit",
        "error",
    ):
        assert needed in served_types


def test_recorded_endpoints_are_routed(forge: Forge) -> None:
    """Which recorded endpoints the forge implements, out of those recorded."""
    endpoints = sorted(
        {
            (e.method, re.sub(r"^/(repos/[^/]+/[^/]+|repositories/\d+)", "/repos/o/r", e.path.split("?")[0]))
            for e in recordings.all_exchanges()
        }
    )
    routed, missing = [], []
    for method, path in endpoints:
        if any(re.match(rx, path.rstrip("/") or "/") and method in m.split("|") for m, rx, _ in ROUTES):
            routed.append((method, path))
        else:
            missing.append((method, path))
    print(f"recorded endpoints implemented: {len(routed)} of {len(endpoints)}")
    print("not implemented (outside Paid's subset):", missing)
    implemented_paths = {p for _, p in routed}
    assert "/repos/o/r/issues" in implemented_paths and "/rate_limit" in implemented_paths
    assert len(routed) >= 0.8 * len(endpoints)


def test_the_recordings_come_with_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clone alone runs the fidelity test: the recordings (a selection, small) live under tests/forge."""
    monkeypatch.delenv("PAID_GITHUB_RECORDINGS", raising=False)
    here = recordings.recordings_dir()
    assert here == Path(recordings.__file__).resolve().parent / "recordings"
    files = [p for p in here.rglob("*") if p.is_file()]
    assert {p.parent.name for p in files if p.suffix in (".txt", ".json")} == {"pygithub", "octokit"}
    assert sum(p.stat().st_size for p in files) < 500_000
    notice = (here / "README.md").read_text()
    assert "LGPL-3.0" in notice and "MIT" in notice  # where they come from, under which licences
    assert len(recordings.all_exchanges()) >= 80
