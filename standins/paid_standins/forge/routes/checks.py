"""CI results on a commit: commit statuses and check runs."""

from __future__ import annotations

from typing import Any

from ..service import not_found
from ..store import Row
from .base import Api, Reply, Request, number_of, page_of, paged


def create_status(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    status = api.service.create_status(repo, req.actor(), req.params["sha"], req.body or {})
    return Reply(201, api.shapes.status(repo, status))


def combined_status(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    sha = api.service.resolve_sha(repo, req.params["ref"])
    return Reply(200, api.shapes.combined_status(repo, sha, api.service.latest_statuses(repo, sha)))


def list_statuses(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    sha = api.service.resolve_sha(repo, req.params["ref"])
    return paged(req, api.store.statuses_at(repo["id"], sha), lambda s: api.shapes.status(repo, s))


# --- check runs ------------------------------------------------------------------------------------


def find_check_run(api: Api, repo: Row, run_id: str) -> Row:
    run = api.store.check_run_in_repo(repo["id"], number_of(run_id))
    if run is None:
        raise not_found()
    return run


def create_check_run(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    run = api.service.create_check_run(repo, req.actor(), req.body or {})
    return Reply(201, api.shapes.check_run(repo, run))


def get_check_run(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return Reply(200, api.shapes.check_run(repo, find_check_run(api, repo, req.params["run_id"])))


def update_check_run(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    run = api.service.update_check_run(
        repo, req.actor(), find_check_run(api, repo, req.params["run_id"]), req.body or {}
    )
    return Reply(200, api.shapes.check_run(repo, run))


def filter_check_runs(runs: list[Row], query: dict[str, str]) -> list[Row]:
    """GitHub's filters; `filter=latest` (the default) keeps the newest run of each name."""
    if query.get("check_name"):
        runs = [r for r in runs if r["name"] == query["check_name"]]
    if query.get("status"):
        runs = [r for r in runs if r["status"] == query["status"]]
    if query.get("filter", "latest") == "latest":
        seen: set[str] = set()
        runs = [r for r in runs if not (r["name"] in seen or seen.add(r["name"]))]  # type: ignore[func-returns-value]
    return runs


def list_check_runs(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    sha = api.service.resolve_sha(repo, req.params["ref"])
    runs = filter_check_runs(api.store.check_runs_at(repo["id"], sha), req.query)
    chunk, links = page_of(req, runs)
    body: dict[str, Any] = {"total_count": len(runs), "check_runs": [api.shapes.check_run(repo, r) for r in chunk]}
    return Reply(200, body, links)
