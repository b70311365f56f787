"""Pull requests: listing, opening, editing, merging, and their files and commits."""

from __future__ import annotations

from ..service import not_found
from ..shapes import JSON
from ..store import PullFilter, Row
from .base import Api, Reply, Request, paged


def pull_reply(api: Api, repo: Row, issue: Row, status: int = 200) -> Reply:
    """A single pull request in full (with git's numbers), read again after whatever changed it."""
    pull = api.store.pull_of_issue(issue["id"])
    assert pull is not None
    fresh = api.store.issue_by_id(issue["id"]) or issue
    return Reply(status, api.shapes.pull(repo, fresh, pull, api.service.pull_stats(repo, pull)))


def pull_filter(req: Request) -> PullFilter:
    state = req.query.get("state", "open")
    _, _, branch = req.query.get("head", "").rpartition(":")
    return PullFilter(
        state=state if state in ("open", "closed") else None,
        head_ref=branch if req.query.get("head") else None,
        base_ref=req.query.get("base") or None,
        sort=req.query.get("sort", "created"),
        ascending=req.query.get("direction") == "asc",
    )


def list_pulls(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    owner, _, _ = req.query.get("head", "").rpartition(":")
    if owner and owner.lower() != repo["owner_login"].lower():
        return Reply(200, [])  # no forks here: a head in another owner's repository matches nothing

    def shape(issue_id: int) -> JSON:
        issue, pull = api.store.issue_by_id(issue_id), api.store.pull_of_issue(issue_id)
        assert issue is not None and pull is not None
        return api.shapes.pull(repo, issue, pull)

    return paged(req, api.store.pull_issue_ids(repo["id"], pull_filter(req)), shape)


def create_pull(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.service.create_pull(
        repo,
        req.actor(),
        req.json_field("title", ""),
        req.json_field("head", ""),
        req.json_field("base", ""),
        req.json_field("body"),
        bool(req.json_field("draft", False)),
        bool(req.json_field("maintainer_can_modify", True)),
    )
    return pull_reply(api, repo, issue, 201)


def get_pull(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, _ = api.pull(req, repo)
    return pull_reply(api, repo, issue)


def edit_pull(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, pull = api.pull(req, repo)
    api.service.edit_pull(repo, issue, pull, req.actor(), req.body or {})
    return pull_reply(api, repo, issue)


def is_merged(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    _, pull = api.pull(req, repo)
    if not pull["merged"]:
        raise not_found()
    return Reply(204)


def merge_pull(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, pull = api.pull(req, repo)
    sha = api.service.merge(
        repo,
        issue,
        pull,
        req.actor(),
        req.json_field("sha"),
        req.json_field("commit_title"),
        req.json_field("commit_message"),
        req.json_field("merge_method") or "merge",
    )
    return Reply(200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


def list_pull_files(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    _, pull = api.pull(req, repo)
    return paged(req, api.service.pull_files(repo, pull), lambda c: api.shapes.pull_file(repo, pull["head_sha"], c))


def list_pull_commits(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    _, pull = api.pull(req, repo)
    return paged(req, api.service.pull_commits(repo, pull), lambda c: api.shapes.commit(repo, c))
