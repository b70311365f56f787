"""Issues: listing with GitHub's filters, creating, reading, editing, locking."""

from __future__ import annotations

from ..service import validation
from ..store import ISSUE_ORDER, IssueFilter
from .base import Api, Reply, Request, link_header, page_args


def issue_filter(req: Request) -> IssueFilter:
    """The listing's query string as a filter; an unknown state or sort is refused, as GitHub does."""
    state = req.query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise validation("Issue", "state", "invalid")
    sort = req.query.get("sort", "created")
    if sort not in ISSUE_ORDER:
        raise validation("Issue", "sort", "invalid")
    since = req.query.get("since")
    return IssueFilter(
        state=state,
        # PyGithub sends milliseconds; the stored times have none.
        since=since.replace(".000", "") if since else None,
        labels=tuple(filter(None, (n.strip() for n in req.query.get("labels", "").split(",")))),
        creator=req.query.get("creator") or None,
        sort=sort,
        ascending=req.query.get("direction") == "asc",
    )


def list_issues(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    per_page, page = page_args(req)
    # Paged in SQL rather than in Python: listings are what clients poll, and repositories grow.
    total, rows = api.store.issues_of_repo(repo["id"], issue_filter(req), per_page, (page - 1) * per_page)
    return Reply(200, [api.shapes.issue(repo, r) for r in rows], link_header(req, page, per_page, total))


def create_issue(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.service.create_issue(
        repo,
        req.actor(),
        req.json_field("title"),
        req.json_field("body"),
        req.json_field("labels"),
        req.json_field("assignee") or (req.json_field("assignees") or [None])[0],
    )
    return Reply(201, api.shapes.issue(repo, issue, single=True))


def get_issue(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return Reply(200, api.shapes.issue(repo, api.issue(req, repo), single=True))


def edit_issue(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.service.edit_issue(repo, api.issue(req, repo), req.actor(), req.body or {})
    return Reply(200, api.shapes.issue(repo, issue, single=True))


def lock_issue(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    api.service.lock(repo, api.issue(req, repo), req.actor(), req.json_field("lock_reason"), True)
    return Reply(204)


def unlock_issue(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    api.service.lock(repo, api.issue(req, repo), req.actor(), None, False)
    return Reply(204)
