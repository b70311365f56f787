"""The forge's admin endpoints under `/_forge/`: users, permissions, faults and the request log."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

from .service import ApiError, Service
from .traffic import Traffic


def admin_route(service: Service, traffic: Traffic, method: str, path: str, query: str, raw: bytes) -> tuple[int, Any]:
    try:
        body = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        return 400, {"message": "Problems parsing JSON"}
    args = {k: v[-1] for k, v in parse_qs(query).items()}
    try:
        return _route(service, traffic, method, path, args, body)
    except (ApiError, ValueError, KeyError) as exc:
        return 422, {"message": str(exc)}


def _route(
    service: Service, traffic: Traffic, method: str, path: str, args: dict[str, str], body: dict[str, Any]
) -> tuple[int, Any]:
    store = service.store
    if path == "/_forge/health":
        return 200, {"ok": True}
    if path == "/_forge/requests":
        if method == "DELETE":
            traffic.clear_requests()
            return 200, {"cleared": True}
        return 200, traffic.as_json(int(args.get("since", 0)))
    if path == "/_forge/faults":
        if method == "DELETE":
            traffic.clear_faults()
        elif method in ("PUT", "PATCH", "POST"):
            traffic.set_faults(**body)
        return 200, asdict(traffic.faults)
    if path == "/_forge/users" and method == "POST":
        user, token = store.create_user(body["login"], body.get("name"))
        for full_name, permission in (body.get("permissions") or {}).items():
            owner, _, name = full_name.partition("/")
            repo = store.repo(owner, name)
            if repo is None:
                raise KeyError(f"no repository {full_name}")
            service.grant(repo, user, permission)
        return 201, {"login": user["login"], "token": token}
    if path == "/_forge/permissions" and method in ("PUT", "POST"):
        owner, _, name = body["repo"].partition("/")
        found_repo, found_user = store.repo(owner, name), store.user(body["login"])
        if found_repo is None or found_user is None:
            raise KeyError("unknown repository or user")
        service.grant(found_repo, found_user, body["permission"])
        return 200, {"repo": body["repo"], "login": body["login"], "permission": body["permission"]}
    return 404, {"message": f"no admin endpoint {method} {path}"}
