"""Repositories: creating one and reading it."""

from __future__ import annotations

from ..service import validation
from .base import Api, Reply, Request


def create_repo(api: Api, req: Request) -> Reply:
    name = req.json_field("name")
    if not name:
        raise validation("Repository", "name", "missing_field")
    repo = api.service.create_repo(
        req.actor(), name, req.json_field("description"), bool(req.json_field("private", False))
    )
    return Reply(201, api.shapes.repository(api.store.repo_by_id(repo["id"]) or repo, "admin"))


def get_repo(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return Reply(200, api.shapes.repository(repo, api.perm(repo, req)))
