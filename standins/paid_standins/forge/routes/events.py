"""An issue's events, and its timeline: events and comments in the order they happened."""

from __future__ import annotations

from typing import Any

from ..service import not_found
from ..store import Row
from .base import Api, Reply, Request, number_of, paged

# (created_at, id, kind, row): sorted by time, an event before a comment of the same second, then by id.
TimelineItem = tuple[str, int, str, Row]


def list_events(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    return paged(req, api.store.events_of_issue(issue["id"]), lambda e: api.shapes.event(repo, e))


def get_event(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    event = api.store.event_in_repo(repo["id"], number_of(req.params["event_id"]))
    if event is None:
        raise not_found()
    return Reply(200, api.shapes.event(repo, event, with_issue=True))


def timeline_items(api: Api, issue: Row) -> list[TimelineItem]:
    items: list[TimelineItem] = [(e["created_at"], e["id"], "event", e) for e in api.store.events_of_issue(issue["id"])]
    items += [(c["created_at"], c["id"], "comment", c) for c in api.store.comments_of_issue(issue["id"])]
    items.sort(key=lambda x: (x[0], x[2] == "comment", x[1]))
    return items


def list_timeline(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)

    def shape(item: TimelineItem) -> Any:
        kind, row = item[2], item[3]
        return api.shapes.timeline_comment(repo, row) if kind == "comment" else api.shapes.event(repo, row)

    return paged(req, timeline_items(api, issue), shape)
