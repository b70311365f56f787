"""Publishing an agent run: push the branch, open (or update) the one draft PR, link it on the issue.

Every side effect goes through `effects.once`: the ledger remembers what was done, and GitHub itself is checked
(the one open PR for the branch, a marker in Paid's comment, a label present) so that a retry after a crash, a
timeout or a 5xx never does it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from github.PullRequest import PullRequest

from ..agent.outcome import NOT_PUBLISHED, RunOutcome
from ..agent.run import AgentRunResult
from ..agent.workspace import Workspace, WorkspaceError, git_dir_for, remove_run_files
from ..cancel import CanceledRun, canceled_text, is_canceled
from ..keys import idempotency_key, issue_key
from ..ledger import Ledger
from ..ledger.kinds import Kind
from . import effects
from .client import GitHubClient, safe_body
from .effects import MARKER, Record, SideEffect, once

__all__ = ["MARKER", "Published", "PublishedRun", "ask_question", "hand_to_person", "publish_run"]


@dataclass(frozen=True)
class Published:
    """The one draft pull request of the issue, as this run left it."""

    number: int
    url: str
    created: bool
    commented: bool


@dataclass(frozen=True)
class PublishedRun:
    """What publishing an agent run gave: its draft pull request, or none (nothing to show, or never to be
    pushed). The `pull_request` stage's value, which the review stage takes."""

    run_id: str
    outcome: RunOutcome
    pull: Published | None

    @property
    def state(self) -> str:
        return "open" if self.pull is not None else "no_changes"


def pull_body(run: AgentRunResult, issue_number: int) -> str:
    rows = [
        ("Outcome", run.outcome),
        ("Model", f"`{run.model}`"),
        ("Engine / sandbox", f"{run.engine} / {run.sandbox}"),
        ("Turns", run.turns),
        ("Tokens in / out", f"{run.tokens_in:,} / {run.tokens_out:,}"),
        ("Cost", f"${run.cost_usd:.4f}"),
        ("Duration", f"{run.duration_s:.1f} s"),
        ("Prompt version", f"`{run.prompt_template_hash}`"),
        ("Run", f"`{run.run_id}`"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    summary = (run.summary or "").strip()
    stopped = f"\n\n**Stopped early** ({run.outcome}): {run.stopped_because}." if run.stopped_because else ""
    summary_block = f"\n\n### Agent's summary\n\n{summary}" if summary and summary != run.outcome else ""
    checks = f"\n\n{run.checks_report}" if run.checks_report else ""
    return (
        f"Closes #{issue_number}\n\nThis draft was written by Paid's coding agent. Please review it as you would"
        f" any contribution.{stopped}\n\n| | |\n|---|---|\n{table}{checks}{summary_block}\n\n"
        + MARKER.format(kind="run", ref=run.run_id)
    )


def publish_pull_request(
    client: GitHubClient, ledger: Ledger, run: AgentRunResult, title: str, push: Callable[[], object]
) -> Published:
    """`push` pushes the branch (a callable, so that publishing can be tested without a workspace)."""
    repo, number, branch = run.repo, run.number, run.branch
    stream = issue_key(repo, number)
    push()
    ledger.append(
        stream,
        Kind.BRANCH_PUSHED,
        {"run_id": run.run_id, "branch": branch, "head_sha": run.head_sha},
        idempotency_key=idempotency_key(Kind.BRANCH_PUSHED, run.run_id, run.head_sha),
    )
    body = pull_body(run, number)
    pull = open_draft(client, ledger, run, title, body)
    opened = ledger.by_key(idempotency_key(Kind.PR_OPENED, issue_key(repo, pull.number)))
    created = opened is not None and opened.data.get("run_id") == run.run_id
    if not created:
        update_body(client, ledger, run, pull, body)
    commented = link_on_issue(client, ledger, repo, number, pull.number, pull.html_url)
    return Published(pull.number, pull.html_url, created, commented)


def open_draft(client: GitHubClient, ledger: Ledger, run: AgentRunResult, title: str, body: str) -> PullRequest:
    """The one open pull request of the branch: found on GitHub, else opened as a draft; `pr.opened` once."""
    repo, branch = run.repo, run.branch

    def record(pull: PullRequest, _written: bool) -> Record:
        data = {"run_id": run.run_id, "pr_number": pull.number, "url": pull.html_url, "branch": branch}
        return Record(Kind.PR_OPENED, data, idempotency_key(Kind.PR_OPENED, issue_key(repo, pull.number)))

    effect = SideEffect(
        issue_key(repo, run.number),
        f"pull:{repo}:{branch}",
        f"the draft pull request from {branch} in {repo}",
        lambda: client.open_pull_for(repo, branch),
        lambda: client.open_pull(repo, title, body, branch, run.base, draft=True),
        record,
    )
    pull = once(ledger, effect).value
    assert pull is not None
    return pull


def update_body(client: GitHubClient, ledger: Ledger, run: AgentRunResult, pull: PullRequest, body: str) -> None:
    """The PR's body made this run's (a later run on the same branch); `pr.updated` once per run."""
    key = idempotency_key(Kind.PR_UPDATED, issue_key(run.repo, pull.number), run.run_id)

    def record(_: PullRequest, _written: bool) -> Record:
        data = {"run_id": run.run_id, "pr_number": pull.number, "url": pull.html_url, "branch": run.branch}
        return Record(Kind.PR_UPDATED, data, key)

    effect = SideEffect(
        issue_key(run.repo, run.number),
        f"pull-body:{run.repo}#{pull.number}:{run.run_id}",
        f"the body of pull request #{pull.number}",
        lambda: pull if (pull.body or "") == safe_body(body) else None,
        lambda: client.update_pull(pull, body),
        record,
        key,
    )
    once(ledger, effect)


def publish_run(client: GitHubClient, ledger: Ledger, run: AgentRunResult, title: str, token: str) -> PublishedRun:
    """The one way a run reaches GitHub: its branch pushed and its draft PR opened or updated when it has
    something to show, and, when it stopped early, one comment that says why. Each step at most once. A run a
    person canceled is never pushed (a re-execution from the UI reaches here with its stored result)."""
    if is_canceled(ledger, issue_key(run.repo, run.number), run.run_id):
        remove_run_files(Path(run.worktree))
        return PublishedRun(run.run_id, RunOutcome.CANCELED, None)
    if run.commits_ahead == 0 or run.outcome in NOT_PUBLISHED:
        explain_stop(client, ledger, run, None)
        remove_run_files(Path(run.worktree))
        return PublishedRun(run.run_id, run.outcome, None)
    if not git_dir_for(Path(run.worktree)).exists():
        return already_published(client, run)
    clone_url = client.repo(run.repo).clone_url
    workspace = Workspace(Path(run.worktree), clone_url, token, run.branch, run.base)
    published = publish_pull_request(client, ledger, run, title, workspace.push)
    explain_stop(client, ledger, run, published.url)
    remove_run_files(Path(run.worktree))  # the branch is on GitHub now; a full clone per run would pile up
    return PublishedRun(run.run_id, run.outcome, published)


def already_published(client: GitHubClient, run: AgentRunResult) -> PublishedRun:
    """A run published before, whose files are gone (a re-materialization): its open PR, read, nothing written."""
    pull = client.open_pull_for(run.repo, run.branch)
    if pull is None:
        raise WorkspaceError(
            f"run {run.run_id}'s files were removed after it was published and {run.branch} has no open pull"
            " request: relabel the issue (or comment `/paid retry`) for a new attempt"
        )
    return PublishedRun(run.run_id, run.outcome, Published(pull.number, pull.html_url, False, False))


def comment_once(
    client: GitHubClient, ledger: Ledger, repo: str, number: int, purpose: str, ref: object, body: str, **fields: object
) -> bool:
    """Paid's one comment for `purpose` and `ref` on the issue (marker `<!-- paid:<purpose>:<ref> -->`), recorded
    as `issue.commented`; True when this call posted it."""
    key = idempotency_key(Kind.ISSUE_COMMENTED, purpose, issue_key(repo, number), ref)

    def record(url: str | None, written: bool) -> Record:
        data = {"purpose": purpose, "ref": str(ref), **fields, "comment_url": url, "written": written}
        return Record(Kind.ISSUE_COMMENTED, data, key)

    marker = MARKER.format(kind=purpose, ref=ref)
    return effects.comment(client, ledger, issue_key(repo, number), repo, number, marker, body, record, key).written


def label_once(
    client: GitHubClient, ledger: Ledger, repo: str, number: int, name: str, purpose: str, ref: object
) -> bool:
    return effects.label(client, ledger, issue_key(repo, number), repo, number, name, purpose, str(ref)).written


def link_on_issue(client: GitHubClient, ledger: Ledger, repo: str, number: int, pr_number: int, url: str) -> bool:
    text = f"I opened a draft pull request for this issue: {url}"
    return comment_once(client, ledger, repo, number, "pr-link", pr_number, text, pr_number=pr_number)


STOP_TITLES = {
    RunOutcome.LIMITS_EXCEEDED: "I stopped at a budget limit",
    RunOutcome.TIMEOUT: "I ran out of time",
    RunOutcome.LOOP_DETECTED: "I stopped because I was going round in circles",
    RunOutcome.FORMAT_ERRORS: "I stopped because the model's answers could not be used",
    RunOutcome.MODEL_ERROR: "I stopped because the model failed",
    RunOutcome.BUDGET_EXCEEDED: "I stopped because the project's budget is spent",
    RunOutcome.FAILED: "I stopped because something went wrong",
    RunOutcome.ERROR: "I stopped because Paid itself failed",
    RunOutcome.NO_CHANGES: "I finished without changing anything",
    RunOutcome.SECRET_IN_CHANGES: "I stopped because the changes contain a secret",
    RunOutcome.SETUP_FAILED: "I could not prepare the repository's environment, so I did not start",
}


def explain_stop(client: GitHubClient, ledger: Ledger, run: AgentRunResult, pr_url: str | None) -> bool:
    """Tells the issue why the run ended early and what is left; once per run."""
    outcome = run.outcome
    if outcome == RunOutcome.COMPLETED:
        return False
    reason = run.stopped_because or run.summary or outcome
    if outcome == RunOutcome.SETUP_FAILED:
        # The step that failed and its last lines, so that the repository's people can fix it or configure it.
        where = f"{run.summary}\n\nNo model was called. Fix the setup (or give `setup.commands` in paid.yaml, or a"
        where += " `.paid/setup.sh` in the repository) and relabel the issue."
    elif outcome in NOT_PUBLISHED:
        where = "Nothing was pushed and no pull request was opened."
    elif pr_url:
        where = f"The work so far is committed on `{run.branch}` and shown in the draft pull request {pr_url}."
    else:
        where = "Nothing was changed, so there is no pull request."
    body = (
        f"{STOP_TITLES.get(outcome, 'I stopped')}: {reason}.\n\n{where}\n\nWhat is left: finishing the change"
        " and checking it. Add detail to the issue and relabel it to let me try again, or take it from here."
        f" (run `{run.run_id}`, {run.turns} turns, ${run.cost_usd:.4f})"
    )
    return comment_once(
        client, ledger, run.repo, run.number, "stopped", run.run_id, body, run_id=run.run_id, outcome=outcome
    )


def tell_canceled(client: GitHubClient, ledger: Ledger, canceled: CanceledRun) -> bool:
    """One comment on the issue saying who stopped the run and what that means; once per Dagster run."""
    return comment_once(
        client,
        ledger,
        canceled.repo,
        canceled.number,
        "canceled",
        canceled.dagster_run_id,
        canceled_text(canceled),
        run_id=canceled.run_id,
        outcome=RunOutcome.CANCELED,
    )


NEEDS_INFO = "needs-info"
NEEDS_HUMAN = "paid-needs-human"


def hand_to_person(client: GitHubClient, ledger: Ledger, repo: str, number: int, ref: str, text: str) -> bool:
    """One comment on the issue saying why it needs a person, and the `paid-needs-human` label; once per `ref`
    (a ledger idempotency key, and Paid's marker looked for among the issue's comments on GitHub)."""
    posted = comment_once(client, ledger, repo, number, "needs-human", ref, text)
    label_once(client, ledger, repo, number, NEEDS_HUMAN, "needs-human", ref)
    return posted


def ask_question(
    client: GitHubClient, ledger: Ledger, repo: str, number: int, question: str, assumption: str, attempt: str
) -> bool:
    """One question on the issue with the default assumption, and the `needs-info` label; once per attempt."""
    body = (
        f"Before I start, one question: {question}\n\nIf nobody answers, I would assume: {assumption or 'nothing'}."
        " Reply here (or relabel the issue) and I will pick it up again."
    )
    posted = comment_once(client, ledger, repo, number, "triage-question", attempt, body, attempt=attempt)
    label_once(client, ledger, repo, number, NEEDS_INFO, "triage-question", attempt)
    return posted
