"""The API root and the rate limit: what a client reads before anything else."""

from __future__ import annotations

from .base import Api, Reply, Request


def get_root(api: Api, req: Request) -> Reply:
    base = req.base
    return Reply(
        200,
        {
            "current_user_url": f"{base}/user",
            "rate_limit_url": f"{base}/rate_limit",
            "repository_url": f"{base}/repos/{{owner}}/{{repo}}",
            "issues_url": f"{base}/issues",
            "user_url": f"{base}/users/{{user}}",
            "user_repositories_url": f"{base}/users/{{user}}/repos{{?type,page,per_page,sort}}",
        },
    )


def get_rate_limit(api: Api, req: Request) -> Reply:
    who = req.user["login"] if req.user else "anonymous"
    limit, remaining, reset, used = api.traffic.usage(who, req.user is not None)
    return Reply(200, api.shapes.rate_limit(limit, remaining, reset, used))
