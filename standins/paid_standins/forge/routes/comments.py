"""Issue comments, and the reactions on issues and on comments."""

from __future__ import annotations

from ..store import Row
from .base import Api, Reply, Request, number_of, paged


def list_comments(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    # PyGithub sends `since` with milliseconds; the stored times have none.
    since = req.query.get("since", "").replace(".000", "")
    comments = api.store.comments_of_issue(issue["id"], since)
    return paged(req, comments, lambda c: api.shapes.comment(repo, c))


def create_comment(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    comment = api.service.comment(repo, api.issue(req, repo), req.actor(), req.json_field("body"))
    return Reply(201, api.shapes.comment(repo, comment))


def get_comment(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return Reply(200, api.shapes.comment(repo, api.service.find_comment(repo, number_of(req.params["comment_id"]))))


def edit_comment(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    comment = api.service.find_comment(repo, number_of(req.params["comment_id"]))
    edited = api.service.edit_comment(repo, comment, req.actor(), req.json_field("body", ""))
    return Reply(200, api.shapes.comment(repo, edited))


# --- reactions ----------------------------------------------------------------------------------


def reactions_reply(api: Api, req: Request, repo: Row, subject: str, subject_id: int) -> Reply:
    """One handler for listing (GET) and adding (POST) reactions to an issue or a comment."""
    if req.method == "POST":
        reaction, new = api.service.react(repo, subject, subject_id, req.actor(), req.json_field("content", ""))
        return Reply(201 if new else 200, api.shapes.reaction(reaction))
    reactions = api.store.reactions_of(subject, subject_id)
    if req.query.get("content"):
        reactions = [r for r in reactions if r["content"] == req.query["content"]]
    return paged(req, reactions, api.shapes.reaction)


def issue_reactions(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return reactions_reply(api, req, repo, "issue", api.issue(req, repo)["id"])


def comment_reactions(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    comment = api.service.find_comment(repo, number_of(req.params["comment_id"]))
    return reactions_reply(api, req, repo, "comment", comment["id"])
