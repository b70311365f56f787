"""Labels: the repository's, and those on an issue."""

from __future__ import annotations

from ..service import not_found, validation
from ..store import Row
from .base import Api, Reply, Request, paged


def find_label(api: Api, repo: Row, name: str) -> Row:
    label = api.store.label(repo["id"], name)
    if label is None:
        raise not_found()
    return label


def list_labels(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return paged(req, api.store.labels_of_repo(repo["id"]), lambda label: api.shapes.label(repo, label))


def create_label(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    label = api.service.create_label(
        repo,
        req.actor(),
        req.json_field("name", ""),
        req.json_field("color", ""),
        req.json_field("description"),
    )
    return Reply(201, api.shapes.label(repo, label))


def get_label(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return Reply(200, api.shapes.label(repo, find_label(api, repo, req.params["name"])))


def edit_label(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    label = api.service.edit_label(repo, req.actor(), find_label(api, repo, req.params["name"]), req.body or {})
    return Reply(200, api.shapes.label(repo, label))


def delete_label(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    api.service.delete_label(repo, req.actor(), find_label(api, repo, req.params["name"]))
    return Reply(204)


# --- the labels on an issue ------------------------------------------------------------------


def label_names(req: Request) -> list[str]:
    """GitHub takes either `{"labels": [...]}` or a bare list of names."""
    body = req.body
    names = body.get("labels", []) if isinstance(body, dict) else body
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise validation("Label", "labels", "invalid")
    return names


def issue_labels_reply(api: Api, repo: Row, issue: Row) -> Reply:
    return Reply(200, [api.shapes.label(repo, label) for label in api.store.labels_of(issue["id"])])


def list_issue_labels(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    return paged(req, api.store.labels_of(issue["id"]), lambda label: api.shapes.label(repo, label))


def add_issue_labels(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    api.service.add_labels(repo, issue, req.actor(), label_names(req))
    return issue_labels_reply(api, repo, issue)


def set_issue_labels(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    api.service.set_labels(repo, issue, req.actor(), label_names(req))
    return issue_labels_reply(api, repo, issue)


def clear_issue_labels(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    api.service.set_labels(repo, api.issue(req, repo), req.actor(), [])
    return Reply(204)


def remove_issue_label(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    api.service.remove_label(repo, issue, req.actor(), req.params["name"])
    return issue_labels_reply(api, repo, issue)
