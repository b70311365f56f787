"""Pull request reviews and their line comments."""

from __future__ import annotations

from ..service import not_found
from .base import Api, Reply, Request, number_of, paged


def list_reviews(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, _ = api.pull(req, repo)
    return paged(req, api.store.reviews_of_issue(issue["id"]), lambda r: api.shapes.review(repo, issue, r))


def create_review(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, pull = api.pull(req, repo)
    review = api.service.review(
        repo,
        issue,
        pull,
        req.actor(),
        req.json_field("event", ""),
        req.json_field("body", ""),
        req.json_field("comments"),
        req.json_field("commit_id"),
    )
    return Reply(200, api.shapes.review(repo, issue, review))


def get_review(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, _ = api.pull(req, repo)
    review = api.store.review_of_issue(issue["id"], number_of(req.params["review_id"]))
    if review is None:
        raise not_found()
    return Reply(200, api.shapes.review(repo, issue, review))


def list_review_comments(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, _ = api.pull(req, repo)
    comments = api.store.review_comments_of_issue(issue["id"])
    return paged(req, comments, lambda c: api.shapes.review_comment(repo, issue, c))
