"""The forge's admin endpoints under `/_forge/`: users, permissions, faults and the request log.

`/_forge/as/{login}/...` (acting as a user) is not here: it re-enters the REST API, which is the server's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

from ..service import ApiError, Service
from ..traffic import Traffic

AdminReply = tuple[int, Any]


class Admin:
    """One admin request: the forge's service and traffic, with the request's query and JSON body."""

    def __init__(self, service: Service, traffic: Traffic, args: dict[str, str], body: dict[str, Any]) -> None:
        self.service = service
        self.store = service.store
        self.traffic = traffic
        self.args = args
        self.body = body


def admin_route(service: Service, traffic: Traffic, method: str, path: str, query: str, raw: bytes) -> AdminReply:
    try:
        body = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        return 400, {"message": "Problems parsing JSON"}
    args = {k: v[-1] for k, v in parse_qs(query).items()}
    handler = find_handler(method, path)
    if handler is None:
        return 404, {"message": f"no admin endpoint {method} {path}"}
    try:
        return handler(Admin(service, traffic, args, body), method)
    except (ApiError, ValueError, KeyError) as exc:
        return 422, {"message": str(exc)}


def health(admin: Admin, method: str) -> AdminReply:
    return 200, {"ok": True}


def request_log(admin: Admin, method: str) -> AdminReply:
    if method == "DELETE":
        admin.traffic.clear_requests()
        return 200, {"cleared": True}
    return 200, admin.traffic.as_json(int(admin.args.get("since", 0)))


def faults(admin: Admin, method: str) -> AdminReply:
    """Reads the faults (GET), sets some of them (PUT, PATCH, POST) or clears them all (DELETE)."""
    if method == "DELETE":
        admin.traffic.clear_faults()
    elif method in ("PUT", "PATCH", "POST"):
        admin.traffic.set_faults(**admin.body)
    return 200, asdict(admin.traffic.faults)


def create_user(admin: Admin, method: str) -> AdminReply:
    """A user (or a new token for an existing one), with permissions given as `{"owner/repo": "write"}`."""
    user, token = admin.store.create_user(admin.body["login"], admin.body.get("name"))
    for full_name, permission in (admin.body.get("permissions") or {}).items():
        owner, _, name = full_name.partition("/")
        repo = admin.store.repo(owner, name)
        if repo is None:
            raise KeyError(f"no repository {full_name}")
        admin.service.grant(repo, user, permission)
    return 201, {"login": user["login"], "token": token}


def set_permission(admin: Admin, method: str) -> AdminReply:
    body = admin.body
    owner, _, name = body["repo"].partition("/")
    found_repo, found_user = admin.store.repo(owner, name), admin.store.user(body["login"])
    if found_repo is None or found_user is None:
        raise KeyError("unknown repository or user")
    admin.service.grant(found_repo, found_user, body["permission"])
    return 200, {"repo": body["repo"], "login": body["login"], "permission": body["permission"]}


AdminHandler = Callable[[Admin, str], AdminReply]
# (path, methods it answers, or None for any method, handler)
ADMIN_ROUTES: list[tuple[str, tuple[str, ...] | None, AdminHandler]] = [
    ("/_forge/health", None, health),
    ("/_forge/requests", None, request_log),
    ("/_forge/faults", None, faults),
    ("/_forge/users", ("POST",), create_user),
    ("/_forge/permissions", ("PUT", "POST"), set_permission),
]


def find_handler(method: str, path: str) -> AdminHandler | None:
    for route_path, methods, handler in ADMIN_ROUTES:
        if path == route_path and (methods is None or method in methods):
            return handler
    return None
