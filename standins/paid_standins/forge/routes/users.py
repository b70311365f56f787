"""Users, and what a user may do in a repository."""

from __future__ import annotations

from ..service import ApiError, not_found
from ..store import PERMISSION_RANK
from .base import Api, Reply, Request


def get_authenticated_user(api: Api, req: Request) -> Reply:
    return Reply(200, api.shapes.user(req.actor(), private=True))


def get_user(api: Api, req: Request) -> Reply:
    user = api.store.user(req.params["login"])
    if user is None:
        raise not_found()
    return Reply(200, api.shapes.user(user, private=req.user is not None and req.user["id"] == user["id"]))


def get_permission(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    if PERMISSION_RANK[api.perm(repo, req)] < PERMISSION_RANK["write"]:
        raise ApiError(403, "Must have push access to view collaborator permission.")
    user = api.store.user(req.params["login"])
    if user is None:
        raise ApiError(404, f"{req.params['login']} is not a user")
    permission = api.store.permission(repo, user)
    # GitHub names the role exactly but answers `permission` in the older five-level vocabulary.
    role = {"maintain": "maintain", "triage": "triage"}.get(permission, permission)
    legacy = {"maintain": "write", "triage": "read"}.get(permission, permission)
    shaped_user = dict(api.shapes.simple_user(user) or {})
    shaped_user["permissions"] = api.shapes.permissions(permission)
    shaped_user["role_name"] = role
    return Reply(200, {"permission": legacy, "role_name": role, "user": shaped_user})
