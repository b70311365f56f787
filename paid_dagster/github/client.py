"""What Paid asks of GitHub, on PyGithub, with errors turned into messages that say what to do."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from github import Auth, Github, GithubException
from github.GithubRetry import GithubRetry
from github.Issue import Issue
from github.PullRequest import PullRequest
from github.Repository import Repository

from ..config import GitHubSettings
from ..safe_text import clean, one_line
from ..secrets import redact

BODY_CHARS = 60_000  # GitHub refuses bodies over 65,536 characters


def safe_body(body: str) -> str:
    """Every text Paid posts: no escapes, controls or bidi tricks, no secret, within GitHub's size."""
    return clean(body, BODY_CHARS)


class GitHubError(RuntimeError):
    """A GitHub problem described for the person who has to act on it. `transient`: the same request may
    succeed later (a 5xx, a timeout, a rate limit); otherwise asking again changes nothing (permission,
    validation, not found)."""

    transient = False


class GitHubUnavailable(GitHubError):
    transient = True


class GitHubTimeout(GitHubUnavailable):
    """GitHub did not answer within the client's timeout: a write may or may not have been applied."""


class GitHubAuthError(GitHubError):
    pass


class GitHubNotFound(GitHubError):
    pass


class GitHubRateLimited(GitHubError):
    transient = True


@contextmanager
def explained(action: str, base_url: str) -> Iterator[None]:
    """Turns PyGithub's and the network's exceptions into GitHubErrors that say what to do."""
    try:
        yield
    except GithubException as exc:
        status = exc.status
        message = exc.data.get("message") if isinstance(exc.data, dict) else str(exc.data)
        if status == 401:
            raise GitHubAuthError(
                f"{action}: GitHub at {base_url} rejected the token ({message}); create a new token and set it"
                " in the variable named by github.token_env"
            ) from exc
        if status == 404:
            raise GitHubNotFound(
                f"{action}: not found at {base_url}; check the repository name in paid.yaml and that the token"
                " may see it"
            ) from exc
        if status in (403, 429) and "rate limit" in (message or "").lower():
            raise GitHubRateLimited(f"{action}: rate limited by GitHub ({message}); Paid will try again later") from exc
        if status >= 500:
            raise GitHubUnavailable(f"{action}: GitHub answered {status} ({message}); Paid will try again") from exc
        raise GitHubError(f"{action}: GitHub answered {status}: {redact(str(message))}") from exc
    except requests.exceptions.RetryError as exc:
        reason = re.search(r"too many (\d+) error responses", str(exc))
        detail = f"{reason.group(1)} answers" if reason else "errors"
        raise GitHubUnavailable(
            f"{action}: GitHub at {base_url} kept answering with {detail} after retries; Paid will try again"
        ) from exc
    except requests.exceptions.ReadTimeout as exc:
        raise GitHubTimeout(
            f"{action}: GitHub at {base_url} accepted the connection but did not answer within the client's read"
            " timeout (github.timeout_seconds); Paid will look on GitHub before trying again"
        ) from exc
    except requests.exceptions.ConnectTimeout as exc:
        raise GitHubUnavailable(
            f"{action}: connecting to GitHub at {base_url} timed out; check github.base_url and the network"
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise GitHubUnavailable(
            f"{action}: cannot reach GitHub at {base_url} ({type(exc).__name__}); check github.base_url in"
            " paid.yaml and the network"
        ) from exc


@dataclass(frozen=True)
class LabelEvent:
    id: int
    actor: str
    label: str
    created_at: str


@dataclass
class Poll:
    """One conditional listing of labeled issues."""

    not_modified: bool
    issues: list[dict[str, Any]] = field(default_factory=list)
    etag: str | None = None
    requests: int = 0
    points: int = 0


@dataclass(frozen=True)
class IssueSnapshot:
    repo: str
    number: int
    title: str
    body: str
    labels: tuple[str, ...]
    author: str
    state: str
    comments: int
    html_url: str
    updated_at: str


@dataclass(frozen=True)
class TriggeredIssue:
    """The issue an attempt is about, as the `github_issue` stage saw it: its snapshot, who labeled it and the
    label event that started the attempt (None when neither the run's tags nor the ledger say)."""

    snapshot: IssueSnapshot
    labeler: str | None = None
    label_event_id: str | int | None = None  # a string from the run's tags, GitHub's number from the ledger


def _parse_time(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _next_link(headers: dict[str, str]) -> str | None:
    match = re.search(r'<([^>]+)>;\s*rel="next"', headers.get("link", ""))
    return match.group(1) if match else None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EVERY_METHOD = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PATCH", "PUT", "DELETE"})


class PaidRetry(GithubRetry):
    """PyGithub's retry (Retry-After, X-RateLimit-Reset, secondary rate limits) for reads; a write
    (POST/PATCH/PUT/DELETE) is retried only when GitHub refused it unapplied (a rate limit, a refused connection),
    never after a read timeout or a 5xx, which may have been applied: `github/effects.py` looks on GitHub
    before writing again."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allowed_methods", EVERY_METHOD)
        kwargs.setdefault("status_forcelist", [*range(500, 600), 429])
        super().__init__(**kwargs)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() not in SAFE_METHODS and status_code >= 500:
            return False
        return bool(super().is_retry(method, status_code, has_retry_after))

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Any:
        if method and method.upper() not in SAFE_METHODS and error is not None and self._is_read_error(error):
            raise error.with_traceback(_stacktrace)  # the server may have applied it: never sent twice
        return super().increment(method, url, response, error, _pool, _stacktrace)


def github_retry(settings: GitHubSettings) -> PaidRetry | None:
    if not settings.retries:
        return None
    return PaidRetry(total=settings.retries, backoff_factor=0.2, secondary_rate_wait=5)


class GitHubClient:
    def __init__(self, settings: GitHubSettings, token: str) -> None:
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        retry = github_retry(settings)
        self.gh = Github(
            base_url=self.base_url,
            auth=Auth.Token(token),
            retry=retry,
            timeout=int(settings.timeout_seconds),
            seconds_between_requests=0,
            seconds_between_writes=settings.seconds_between_writes,
            per_page=100,
        )
        self._repos: dict[str, Repository] = {}

    def explained(self, action: str) -> Any:
        return explained(action, self.base_url)

    def whoami(self) -> str:
        with self.explained("checking the token"):
            return str(self.gh.get_user().login)

    def repo(self, name: str) -> Repository:
        if name not in self._repos:
            with self.explained(f"opening repository {name}"):
                self._repos[name] = self.gh.get_repo(name)
        return self._repos[name]

    # --- polling -----------------------------------------------------------------------------------

    def poll_labeled(self, name: str, label: str, since: str | None, etag: str | None) -> Poll:
        """Open issues with `label` updated since `since`, newest first, asked conditionally with `etag`.

        Newest first matters: any change lands on the first page, so a 304 there means nothing changed.
        """
        params: dict[str, Any] = {"state": "open", "labels": label, "sort": "updated", "direction": "desc"}
        params["per_page"] = 100
        if since:
            params["since"] = since
        poll = Poll(not_modified=False)
        url: str | None = f"/repos/{name}/issues"
        first = True
        with self.explained(f"listing issues labeled {label!r} in {name}"):
            while url:
                headers = {"If-None-Match": etag} if first and etag else {}
                status, response_headers, body = self.gh.requester.requestJson(
                    "GET", url, parameters=params if first else None, headers=headers
                )
                poll.requests += 1
                if status == 304:
                    poll.not_modified = True
                    poll.etag = etag
                    return poll
                if status >= 400:
                    data = json.loads(body) if body else {}
                    raise GithubException(status, data, response_headers)
                poll.points += 1
                if first:
                    poll.etag = response_headers.get("etag")
                poll.issues.extend(i for i in json.loads(body) if "pull_request" not in i)
                url = _next_link(response_headers)
                first = False
        return poll

    def label_event(self, name: str, number: int, label: str) -> LabelEvent | None:
        """The event that put `label` on the issue, if the label is still on it."""
        current: LabelEvent | None = None
        with self.explained(f"reading the events of {name}#{number}"):
            for event in self.repo(name).get_issue(number).get_events():
                event_label = event.raw_data.get("label") or {}
                if event_label.get("name", "").lower() != label.lower():
                    continue
                if event.event == "labeled":
                    actor = event.actor.login if event.actor else "ghost"
                    current = LabelEvent(int(event.id), actor, event_label["name"], event.raw_data["created_at"])
                elif event.event == "unlabeled":
                    current = None
        return current

    def permission(self, name: str, login: str) -> str:
        with self.explained(f"reading {login}'s permission on {name}"):
            try:
                data = self.repo(name)._requester.requestJsonAndCheck(
                    "GET", f"/repos/{name}/collaborators/{login}/permission"
                )[1]
            except GithubException as exc:
                if exc.status == 404:
                    return "none"
                raise
        role = data.get("role_name") or data.get("permission") or "none"
        return str(role)

    # --- issues ------------------------------------------------------------------------------------

    def issue(self, name: str, number: int) -> Issue:
        with self.explained(f"reading issue {name}#{number}"):
            return self.repo(name).get_issue(number)

    def snapshot(self, name: str, number: int) -> IssueSnapshot:
        issue = self.issue(name, number)
        return IssueSnapshot(
            repo=name,
            number=number,
            title=issue.title,
            body=issue.body or "",
            labels=tuple(label.name for label in issue.labels),
            author=issue.user.login if issue.user else "ghost",
            state=issue.state,
            comments=issue.comments,
            html_url=issue.html_url,
            updated_at=issue.raw_data["updated_at"],
        )

    def comment(self, name: str, number: int, body: str) -> str:
        with self.explained(f"commenting on {name}#{number}"):
            return str(self.repo(name).get_issue(number).create_comment(safe_body(body)).html_url)

    def find_comment(self, name: str, number: int, marker: str) -> str | None:
        """The URL of the comment on the issue whose body carries `marker`, if there is one."""
        with self.explained(f"reading the comments of {name}#{number}"):
            for comment in self.repo(name).get_issue(number).get_comments():
                if marker in (comment.body or ""):
                    return str(comment.html_url)
        return None

    def has_label(self, name: str, number: int, label: str) -> bool:
        with self.explained(f"reading the labels of {name}#{number}"):
            labels = self.repo(name).get_issue(number).get_labels()
            return any(existing.name.lower() == label.lower() for existing in labels)

    def add_label(self, name: str, number: int, label: str) -> None:
        with self.explained(f"labeling {name}#{number} {label!r}"):
            self.repo(name).get_issue(number).add_to_labels(label)

    def remove_label(self, name: str, number: int, label: str) -> None:
        with self.explained(f"removing label {label!r} from {name}#{number}"):
            try:
                self.repo(name).get_issue(number).remove_from_labels(label)
            except GithubException as exc:
                if exc.status != 404:
                    raise

    def comments_after(self, name: str, number: int, since: str | None) -> list[dict[str, Any]]:
        with self.explained(f"reading the comments of {name}#{number}"):
            issue = self.repo(name).get_issue(number)
            comments = issue.get_comments(since=_parse_time(since)) if since else issue.get_comments()
            return [c.raw_data for c in comments]

    # --- pull requests -------------------------------------------------------------------------------

    def open_pull_for(self, name: str, branch: str) -> PullRequest | None:
        repo = self.repo(name)
        with self.explained(f"looking for an open pull request from {branch} in {name}"):
            for pull in repo.get_pulls(state="open", head=f"{repo.owner.login}:{branch}"):
                return pull
        return None

    def open_pull(self, name: str, title: str, body: str, branch: str, base: str, draft: bool) -> PullRequest:
        with self.explained(f"opening a pull request from {branch} in {name}"):
            return self.repo(name).create_pull(
                title=one_line(title, fallback="Paid's change"),
                body=safe_body(body),
                head=branch,
                base=base,
                draft=draft,
            )

    def pull_diff(self, name: str, number: int) -> tuple[list[str], str]:
        """The changed paths and a unified diff of the pull request, from its files."""
        with self.explained(f"reading the files of {name}#{number}"):
            files = list(self.repo(name).get_pull(number).get_files())
        diff = "\n".join(f"--- a/{f.filename}\n+++ b/{f.filename}\n{f.patch or ''}" for f in files)
        return [f.filename for f in files], diff

    def find_review(self, name: str, number: int, marker: str) -> str | None:
        """The state of the review on the pull request whose body carries `marker`, if there is one."""
        with self.explained(f"reading the reviews of {name}#{number}"):
            for review in self.repo(name).get_pull(number).get_reviews():
                if marker in (review.body or ""):
                    return str(review.state)
        return None

    def post_review(self, name: str, number: int, event: str, body: str, comments: list[dict[str, Any]]) -> str:
        """Posts a review; REQUEST_CHANGES by the PR's own author (refused by GitHub) becomes a COMMENT."""
        with self.explained(f"reviewing {name}#{number}"):
            pull = self.repo(name).get_pull(number)
            me = self.gh.get_user().login
            if event != "COMMENT" and pull.user.login == me:
                event = "COMMENT"
            review = pull.create_review(
                body=safe_body(body),
                event=event,  # type: ignore[arg-type]
                comments=[{**c, "body": safe_body(str(c.get("body", "")))} for c in comments],  # type: ignore[misc,typeddict-item]
            )
            return str(review.state)

    def update_pull(self, pull: PullRequest, body: str) -> PullRequest:
        with self.explained(f"updating pull request #{pull.number}"):
            pull.edit(body=safe_body(body))
        return pull
