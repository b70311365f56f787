"""What every route handler works with: the parsed request, the reply, the per-request context and paging."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

from ..service import ApiError, Service, not_found
from ..shapes import Shapes
from ..store import Row
from ..traffic import Traffic

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 30


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    user: Row | None
    base: str
    params: dict[str, str] = field(default_factory=dict)

    def json_field(self, name: str, default: Any = None) -> Any:
        return self.body.get(name, default) if isinstance(self.body, dict) else default

    def actor(self) -> Row:
        if self.user is None:
            raise ApiError(401, "Requires authentication")
        return self.user


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Api:
    """The context of one request; made per request so that shapes are cached only within it."""

    def __init__(self, service: Service, traffic: Traffic, base: str) -> None:
        self.service = service
        self.store = service.store
        self.traffic = traffic
        self.shapes = Shapes(service.store, base)

    def repo(self, req: Request) -> Row:
        return self.service.find_repo(req.params["owner"], req.params["repo"], req.user)

    def issue(self, req: Request, repo: Row) -> Row:
        return self.service.find_issue(repo, number_of(req.params["number"]))

    def pull(self, req: Request, repo: Row) -> tuple[Row, Row]:
        return self.service.find_pull(repo, number_of(req.params["number"]))

    def perm(self, repo: Row, req: Request) -> str:
        return self.store.permission(repo, req.user)


Handler = Callable[[Api, Request], Reply]


class Route(NamedTuple):
    method: str  # one method or several joined by "|"
    regex: re.Pattern[str]
    handler: Handler


def route(method: str, pattern: str, handler: Handler) -> Route:
    """A route from a GitHub-style path: `{name}` is one segment, `{name:path}` may span slashes and
    `{name:optpath}` is an optional `/...` suffix."""
    pattern = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", pattern)
    pattern = re.sub(r"\{(\w+):optpath\}", r"(?P<\1>(?:/.*)?)", pattern)
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
    return Route(method, regex, handler)


def number_of(text: str) -> int:
    """A number from the path; anything else is a resource that does not exist."""
    if not text.isdigit():
        raise not_found()
    return int(text)


# --- pagination, as GitHub does it: `per_page` (at most 100), `page` and a Link header -----------


def page_args(req: Request) -> tuple[int, int]:
    try:
        per_page = min(max(int(req.query.get("per_page", DEFAULT_PER_PAGE)), 1), MAX_PER_PAGE)
        page = max(int(req.query.get("page", 1)), 1)
    except ValueError as exc:
        raise ApiError(422, "Invalid pagination parameters") from exc
    return per_page, page


def link_header(req: Request, page: int, per_page: int, total: int) -> dict[str, str]:
    last = max((total + per_page - 1) // per_page, 1)
    if last <= 1:
        return {}

    def url(n: int) -> str:
        query = dict(req.query)
        query["page"] = str(n)
        query.setdefault("per_page", str(per_page))
        return f"{req.base}{quote(req.path)}?{urlencode(query)}"

    links = []
    if page < last:
        links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if page > 1:
        links += [f'<{url(1)}>; rel="first"', f'<{url(page - 1)}>; rel="prev"']
    return {"Link": ", ".join(links)}


def page_of(req: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """The requested page of `items` and the Link header that leads through the others."""
    per_page, page = page_args(req)
    return items[(page - 1) * per_page : page * per_page], link_header(req, page, per_page, len(items))


def paged(req: Request, items: list[Any], shape: Callable[[Any], Any]) -> Reply:
    chunk, links = page_of(req, items)
    return Reply(200, [shape(x) for x in chunk], links)
