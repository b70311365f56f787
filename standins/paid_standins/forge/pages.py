"""Plain HTML pages at GitHub's `html_url` addresses, so that the links Paid prints open something readable."""

from __future__ import annotations

from html import escape

from .service import Service


def page(service: Service, owner: str, name: str, kind: str, number: int) -> str | None:
    repo = service.store.repo(owner, name)
    if repo is None or repo["private"]:
        return None
    issue = service.store.issue(repo["id"], number)
    if issue is None:
        return None
    author = service.store.user_by_id(issue["user_id"])
    labels = ", ".join(escape(label["name"]) for label in service.store.labels_of(issue["id"])) or "none"
    parts = [
        f"<h1>{escape(issue['title'])} <small>#{number}</small></h1>",
        f"<p><b>{escape(issue['state'])}</b> · opened by {escape(author['login'] if author else 'ghost')}"
        f" · labels: {labels}</p>",
        f"<pre class=body>{escape(issue['body'] or '')}</pre>",
    ]
    pull = service.store.one("SELECT * FROM pulls WHERE issue_id = ?", issue["id"])
    if pull is not None:
        state = "merged" if pull["merged"] else ("draft" if pull["draft"] else issue["state"])
        parts.append(f"<p>{escape(pull['head_ref'])} → {escape(pull['base_ref'])} · {state}</p>")
        for change in service.pull_files(repo, pull):
            parts.append(
                f"<h3>{escape(change.filename)} (+{change.additions} −{change.deletions})</h3>"
                f"<pre class=diff>{escape(change.patch)}</pre>"
            )
    for comment in service.store.all("SELECT * FROM comments WHERE issue_id = ? ORDER BY id", issue["id"]):
        who = service.store.user_by_id(comment["user_id"])
        parts.append(
            f"<div class=comment><b>{escape(who['login'] if who else 'ghost')}</b>"
            f"<pre>{escape(comment['body'])}</pre></div>"
        )
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto}pre{white-space:pre-wrap;"
        "background:#f6f8fa;padding:.8em}.comment{border-top:1px solid #ddd;margin-top:1em}"
    )
    title = escape(f"{owner}/{name} {kind} #{number}")
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title><style>{style}</style>"
        f"</head><body><p>{escape(owner)}/{escape(name)} — the forge</p>{''.join(parts)}</body></html>"
    )
