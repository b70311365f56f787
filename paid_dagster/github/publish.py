"""Publishing an agent run: push the branch, open (or update) the one draft PR, link it on the issue.

Every side effect is guarded: the ledger remembers what was done, and GitHub itself is checked (the one
open PR for the branch, a marker in Paid's comment) so that a retry after a crash never does it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..agent.outcome import NOT_PUBLISHED, RunOutcome
from ..agent.run import AgentRunResult
from ..agent.workspace import Workspace
from ..keys import idempotency_key, issue_key
from ..ledger import Ledger
from ..ledger.kinds import Kind
from .client import GitHubClient

MARKER = "<!-- paid:{kind}:{ref} -->"


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
    pull = client.open_pull_for(repo, branch)
    created = pull is None
    if pull is None:
        pull = client.open_pull(repo, title, body, branch, run.base, draft=True)
        ledger.append(
            stream,
            Kind.PR_OPENED,
            {"run_id": run.run_id, "pr_number": pull.number, "url": pull.html_url, "branch": branch},
            idempotency_key=idempotency_key(Kind.PR_OPENED, issue_key(repo, pull.number)),
        )
    else:
        client.update_pull(pull, body)
        ledger.append(
            stream,
            Kind.PR_UPDATED,
            {"run_id": run.run_id, "pr_number": pull.number, "url": pull.html_url, "branch": branch},
            idempotency_key=idempotency_key(Kind.PR_UPDATED, issue_key(repo, pull.number), run.run_id),
        )
    commented = link_on_issue(client, ledger, repo, number, pull.number, pull.html_url)
    return Published(pull.number, pull.html_url, created, commented)


def publish_run(client: GitHubClient, ledger: Ledger, run: AgentRunResult, title: str, token: str) -> PublishedRun:
    """The one way a run reaches GitHub: its branch pushed and its draft PR opened or updated when it has
    something to show, and, when it stopped early, one comment that says why. Each step at most once."""
    if run.commits_ahead == 0 or run.outcome in NOT_PUBLISHED:
        explain_stop(client, ledger, run, None)
        return PublishedRun(run.run_id, run.outcome, None)
    clone_url = client.repo(run.repo).clone_url
    workspace = Workspace(Path(run.worktree), clone_url, token, run.branch, run.base)
    published = publish_pull_request(client, ledger, run, title, workspace.push)
    explain_stop(client, ledger, run, published.url)
    return PublishedRun(run.run_id, run.outcome, published)


def link_on_issue(client: GitHubClient, ledger: Ledger, repo: str, number: int, pr_number: int, url: str) -> bool:
    key = idempotency_key(Kind.ISSUE_COMMENTED, "pr-link", issue_key(repo, number), pr_number)
    if ledger.has(key):
        return False
    marker = MARKER.format(kind="pr-link", ref=pr_number)
    with client.explained(f"reading the comments of {repo}#{number}"):
        already = any(marker in (c.body or "") for c in client.issue(repo, number).get_comments())
    comment_url = None
    if not already:
        comment_url = client.comment(repo, number, f"I opened a draft pull request for this issue: {url}\n\n{marker}")
    ledger.append(
        issue_key(repo, number),
        Kind.ISSUE_COMMENTED,
        {"purpose": "pr-link", "pr_number": pr_number, "comment_url": comment_url},
        idempotency_key=key,
    )
    return not already


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
    key = idempotency_key(Kind.ISSUE_COMMENTED, "stopped", run.run_id)
    if ledger.has(key):
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
        f" (run `{run.run_id}`, {run.turns} turns, ${run.cost_usd:.4f})\n\n"
        + MARKER.format(kind="stopped", ref=run.run_id)
    )
    comment_url = client.comment(run.repo, run.number, body)
    ledger.append(
        issue_key(run.repo, run.number),
        Kind.ISSUE_COMMENTED,
        {"purpose": "stopped", "run_id": run.run_id, "outcome": outcome, "comment_url": comment_url},
        idempotency_key=key,
    )
    return True


NEEDS_INFO = "needs-info"
NEEDS_HUMAN = "paid-needs-human"


def hand_to_person(client: GitHubClient, ledger: Ledger, repo: str, number: int, ref: str, text: str) -> bool:
    """One comment on the issue saying why it needs a person, and the `paid-needs-human` label; once per `ref`
    (a ledger idempotency key, and Paid's marker looked for among the issue's comments on GitHub)."""
    key = idempotency_key(Kind.ISSUE_COMMENTED, "needs-human", issue_key(repo, number), ref)
    if ledger.has(key):
        return False
    marker = MARKER.format(kind="needs-human", ref=ref)
    with client.explained(f"reading the comments of {repo}#{number}"):
        already = any(marker in (c.body or "") for c in client.issue(repo, number).get_comments())
    comment_url = None if already else client.comment(repo, number, f"{text}\n\n{marker}")
    client.add_label(repo, number, NEEDS_HUMAN)
    ledger.append(
        issue_key(repo, number),
        Kind.ISSUE_COMMENTED,
        {"purpose": "needs-human", "ref": ref, "comment_url": comment_url},
        idempotency_key=key,
    )
    return not already


def ask_question(
    client: GitHubClient, ledger: Ledger, repo: str, number: int, question: str, assumption: str, attempt: str
) -> bool:
    """One question on the issue with the default assumption, and the `needs-info` label; once per attempt."""
    key = idempotency_key(Kind.ISSUE_COMMENTED, "triage-question", issue_key(repo, number), attempt)
    if ledger.has(key):
        return False
    marker = MARKER.format(kind="triage-question", ref=attempt)
    body = (
        f"Before I start, one question: {question}\n\nIf nobody answers, I would assume: {assumption or 'nothing'}."
        f" Reply here (or relabel the issue) and I will pick it up again.\n\n{marker}"
    )
    comment_url = client.comment(repo, number, body)
    client.add_label(repo, number, NEEDS_INFO)
    ledger.append(
        issue_key(repo, number),
        Kind.ISSUE_COMMENTED,
        {"purpose": "triage-question", "attempt": attempt, "comment_url": comment_url},
        idempotency_key=key,
    )
    return True
