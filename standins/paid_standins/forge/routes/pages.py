"""Plain HTML pages at GitHub's `html_url` addresses, so that the links Paid prints open something readable."""

from __future__ import annotations

from html import escape

from ..service import Service
from ..store import Row

STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto}pre{white-space:pre-wrap;"
    "background:#f6f8fa;padding:.8em}.comment{border-top:1px solid #ddd;margin-top:1em}"
)


def page(service: Service, owner: str, name: str, kind: str, number: int) -> str | None:
    """The page of issue or pull request `number`; None for what an anonymous visitor may not see."""
    repo = service.store.repo(owner, name)
    if repo is None or repo["private"]:
        return None
    issue = service.store.issue(repo["id"], number)
    if issue is None:
        return None
    parts = [issue_header(service, issue, number)]
    pull = service.store.pull_of_issue(issue["id"])
    if pull is not None:
        parts += pull_section(service, repo, issue, pull)
    parts += comment_sections(service, issue)
    title = escape(f"{owner}/{name} {kind} #{number}")
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title><style>{STYLE}</style>"
        f"</head><body><p>{escape(owner)}/{escape(name)} — the forge</p>{''.join(parts)}</body></html>"
    )


def login_of(service: Service, user_id: int) -> str:
    user = service.store.user_by_id(user_id)
    return user["login"] if user else "ghost"


def issue_header(service: Service, issue: Row, number: int) -> str:
    labels = ", ".join(escape(label["name"]) for label in service.store.labels_of(issue["id"])) or "none"
    return (
        f"<h1>{escape(issue['title'])} <small>#{number}</small></h1>"
        f"<p><b>{escape(issue['state'])}</b> · opened by {escape(login_of(service, issue['user_id']))}"
        f" · labels: {labels}</p>"
        f"<pre class=body>{escape(issue['body'] or '')}</pre>"
    )


def pull_section(service: Service, repo: Row, issue: Row, pull: Row) -> list[str]:
    state = "merged" if pull["merged"] else ("draft" if pull["draft"] else issue["state"])
    parts = [f"<p>{escape(pull['head_ref'])} → {escape(pull['base_ref'])} · {state}</p>"]
    for change in service.pull_files(repo, pull):
        parts.append(
            f"<h3>{escape(change.filename)} (+{change.additions} −{change.deletions})</h3>"
            f"<pre class=diff>{escape(change.patch)}</pre>"
        )
    return parts


def comment_sections(service: Service, issue: Row) -> list[str]:
    return [
        f"<div class=comment><b>{escape(login_of(service, comment['user_id']))}</b>"
        f"<pre>{escape(comment['body'])}</pre></div>"
        for comment in service.store.comments_of_issue(issue["id"])
    ]
