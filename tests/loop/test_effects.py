"""Every side effect on GitHub exactly once: a crash between posting and recording, a write GitHub applied but
answered after the client's timeout, or a 5xx on a write is followed by a look on GitHub, never a second post."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from paid_standins.forge import Forge
from paid_standins.forge.seed import SampleSeed, seed_sample

from paid_dagster.config import GitHubSettings
from paid_dagster.github import effects
from paid_dagster.github.client import GitHubClient, GitHubTimeout, GitHubUnavailable
from paid_dagster.github.effects import MARKER, Record
from paid_dagster.github.publish import ask_question, comment_once, hand_to_person, link_on_issue, open_draft
from paid_dagster.keys import issue_key
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import Kind

ROOT = Path(__file__).resolve().parents[2]
BRANCH = "paid/1-fix-total"


class CrashOnce(Ledger):
    """A ledger whose record of `kind` fails once, after GitHub applied the write: a worker killed between the two."""

    def __init__(self, url: str, kind: Kind) -> None:
        super().__init__(url)
        self.kind, self.crashed = kind, False

    def append(self, stream: str, kind: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        if kind == self.kind and not self.crashed:
            self.crashed = True
            raise RuntimeError("worker died between posting and recording")
        return super().append(stream, kind, data, **kw)


@dataclass
class World:
    forge: Forge
    seed: SampleSeed
    ledger_url: str
    pr: int

    def client(self, **settings: Any) -> GitHubClient:
        base = {"base_url": self.forge.url, "seconds_between_writes": 0, "retries": 3, "timeout_seconds": 5}
        return GitHubClient(GitHubSettings(**{**base, **settings}), self.forge.token(self.seed.writer))

    def posts(self, since: int, pattern: str) -> int:
        return sum(1 for r in self.forge.requests(since) if r.method == "POST" and re.search(pattern, r.path))


def _git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Forge(tmp_path / "forge") as forge:
        seed = seed_sample(forge)
        work = tmp_path / "work"
        url = forge.clone_url(seed.repo).replace("://", f"://x:{forge.token(seed.writer)}@", 1)
        _git("clone", "-q", url, str(work))
        _git("checkout", "-q", "-b", BRANCH, cwd=work)
        (work / "NOTES.md").write_text("notes\n")
        _git("add", "-A", cwd=work)
        _git("-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", "notes", cwd=work)
        _git("push", "-q", "origin", BRANCH, cwd=work)
        gh = GitHubClient(GitHubSettings(base_url=forge.url, seconds_between_writes=0), forge.token(seed.writer)).repo(
            seed.repo
        )
        pr = gh.create_pull(title="t", body="Closes #1", head=BRANCH, base="main", draft=True).number
        yield World(forge, seed, f"sqlite:///{tmp_path / 'ledger.sqlite3'}", pr)


def _comments(world: World, number: int, marker: str) -> int:
    issue = world.client().repo(world.seed.repo).get_issue(number)
    return sum(1 for c in issue.get_comments() if marker in (c.body or ""))


def _reviews(world: World, marker: str) -> int:
    pull = world.client().repo(world.seed.repo).get_pull(world.pr)
    return sum(1 for r in pull.get_reviews() if marker in (r.body or ""))


def _labels(world: World, number: int, name: str) -> int:
    return sum(1 for label in world.client().repo(world.seed.repo).get_issue(number).get_labels() if label.name == name)


REVIEW_MARKER = MARKER.format(kind="review", ref="run-1:1")


def _review(client: GitHubClient, ledger: Ledger, world: World) -> object:
    key = f"review.posted:test:{world.pr}"

    def record(state: str, written: bool) -> Record:
        return Record(Kind.REVIEW_POSTED, {"pr_number": world.pr, "state": state, "round": 1}, key)

    stream = issue_key(world.seed.repo, 1)
    return effects.review(
        client, ledger, stream, world.seed.repo, world.pr, REVIEW_MARKER, "COMMENT", "Looks fine", [], record, key
    )


# Each kind of write, what it records, and how many of it GitHub holds afterwards.
WRITES: dict[str, tuple[Kind, Callable[[GitHubClient, Ledger, World], object], Callable[[World], int]]] = {
    "pull request": (
        Kind.PR_OPENED,
        lambda c, ledger, w: open_draft(c, ledger, _run(w), "Fix the total", "Closes #1"),
        lambda w: len(list(w.client().repo(w.seed.repo).get_pulls(state="open"))),
    ),
    "link comment": (
        Kind.ISSUE_COMMENTED,
        lambda c, ledger, w: link_on_issue(c, ledger, w.seed.repo, 1, w.pr, "http://pr"),
        lambda w: _comments(w, 1, MARKER.format(kind="pr-link", ref=w.pr)),
    ),
    "needs-human label": (
        Kind.LABEL_ADDED,
        lambda c, ledger, w: hand_to_person(c, ledger, w.seed.repo, 1, "r1", "needs a person"),
        lambda w: _labels(w, 1, "paid-needs-human") * _comments(w, 1, MARKER.format(kind="needs-human", ref="r1")),
    ),
    "question": (
        Kind.ISSUE_COMMENTED,
        lambda c, ledger, w: ask_question(c, ledger, w.seed.repo, 1, "which total?", "the sum", "ev-1"),
        lambda w: _comments(w, 1, MARKER.format(kind="triage-question", ref="ev-1")) * _labels(w, 1, "needs-info"),
    ),
    "review": (Kind.REVIEW_POSTED, _review, lambda w: _reviews(w, REVIEW_MARKER)),
}


def _run(world: World) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(repo=world.seed.repo, number=1, branch=BRANCH, base="main", run_id="run-1")


@pytest.mark.parametrize("write", list(WRITES))
def test_a_crash_between_posting_and_recording_never_posts_twice(world: World, write: str) -> None:
    kind, do, count = WRITES[write]
    if write == "pull request":  # the fixture's PR is the branch's: close it so that this write opens one
        world.client().repo(world.seed.repo).get_pull(world.pr).edit(state="closed")
    ledger = CrashOnce(world.ledger_url, kind)
    client = world.client()
    with pytest.raises(RuntimeError, match="between posting and recording"):
        do(client, ledger, world)
    assert count(world) <= 1  # GitHub applied it (a label may be next); the ledger does not know
    do(client, ledger, world)  # the retry looks on GitHub first
    do(client, ledger, world)  # and a third time is nothing at all
    assert count(world) == 1
    assert len(Ledger(world.ledger_url).read(kinds=[kind])) == 1
    assert Ledger(world.ledger_url).count(Kind.EFFECT_INTENDED) >= 1


def test_writes_answered_after_the_client_timeout_are_sent_once(world: World) -> None:
    """GitHub applies the POST and answers after the client gave up: one comment, one review, one POST each."""
    world.forge.set_faults(answer_delay_ms=1500, method_pattern="POST")
    client, ledger = world.client(timeout_seconds=1), Ledger(world.ledger_url)
    mark = world.forge.request_mark()
    comment_once(client, ledger, world.seed.repo, 1, "stopped", "run-9", "I stopped")
    _review(client, ledger, world)
    world.forge.clear_faults()
    assert _comments(world, 1, MARKER.format(kind="stopped", ref="run-9")) == 1
    assert _reviews(world, REVIEW_MARKER) == 1
    assert world.posts(mark, r"/comments$") == 1 and world.posts(mark, r"/reviews$") == 1


def test_the_http_layer_retries_reads_but_never_a_write_after_a_5xx(world: World) -> None:
    client, ledger = world.client(), Ledger(world.ledger_url)
    world.forge.set_faults(error_rate=1.0, error_status=502, method_pattern="POST")
    mark = world.forge.request_mark()
    with pytest.raises(GitHubUnavailable, match="answered 502"):
        comment_once(client, ledger, world.seed.repo, 1, "pr-link", 7, "a link")
    assert world.posts(mark, r"/comments$") == effects.WRITE_ATTEMPTS  # one per look-then-write, none resent
    world.forge.set_faults(error_rate=0.0, method_pattern="GET", too_many_requests_next=1, retry_after=0)
    mark = world.forge.request_mark()
    assert client.snapshot(world.seed.repo, 1).number == 1  # a 429 on a read is waited out and asked again
    assert [r.status for r in world.forge.requests(mark)][:2] == [429, 200]


def test_a_read_timeout_is_said_as_a_timeout(world: World) -> None:
    world.forge.set_faults(answer_delay_ms=1500, method_pattern="GET")
    with pytest.raises(GitHubTimeout, match="did not answer within") as raised:
        world.client(timeout_seconds=1, retries=0).snapshot(world.seed.repo, 1)
    assert "cannot reach" not in str(raised.value) and raised.value.transient


def test_no_write_to_github_bypasses_the_effects_helper() -> None:
    """The client's write methods are called only from `github/effects.py` (and the lambdas it is handed)."""
    writes = re.compile(r"(?<!effects)\.(comment|add_label|remove_label|post_review|open_pull|update_pull)\(")
    pygithub = re.compile(
        r"\.(create_comment|create_review|add_to_labels|remove_from_labels|create_pull|create_reaction)\("
    )
    offenders = []
    for path in (ROOT / "paid_dagster").rglob("*.py"):
        if path.name in ("client.py", "effects.py"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pygithub.search(line) or (writes.search(line) and "lambda" not in line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
