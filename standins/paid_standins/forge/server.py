"""The forge's HTTP face: GitHub's REST routes, headers, ETags, pagination and git smart HTTP."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from .gitrepo import GitError
from .service import ApiError, Service, not_found, validation
from .shapes import Shapes, error, etag_of
from .store import PERMISSION_RANK, Row
from .traffic import LoggedRequest, Traffic

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


Handler = Callable[["Api", Request], Reply]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    # `{name:path}` may span slashes; `{name:optpath}` is an optional `/...` suffix.
    pattern = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", pattern)
    pattern = re.sub(r"\{(\w+):optpath\}", r"(?P<\1>(?:/.*)?)", pattern)
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

    def register(fn: Handler) -> Handler:
        ROUTES.append((method, regex, fn))
        return fn

    return register


def number_of(text: str) -> int:
    if not text.isdigit():
        raise not_found()
    return int(text)


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


def paged(req: Request, items: list[Any], shape: Callable[[Any], Any]) -> Reply:
    per_page, page = page_args(req)
    chunk = items[(page - 1) * per_page : page * per_page]
    return Reply(200, [shape(x) for x in chunk], link_header(req, page, per_page, len(items)))


class Api:
    """Route handlers; one instance per request so that shapes are cached only within it."""

    def __init__(self, service: Service, traffic: Traffic, base: str) -> None:
        self.service = service
        self.store = service.store
        self.traffic = traffic
        self.shapes = Shapes(service.store, base)

    def repo(self, req: Request) -> Row:
        return self.service.find_repo(req.params["owner"], req.params["repo"], req.user)

    def issue(self, req: Request, repo: Row) -> Row:
        return self.service.find_issue(repo, number_of(req.params["number"]))

    def perm(self, repo: Row, req: Request) -> str:
        return self.store.permission(repo, req.user)


# --- users and meta -----------------------------------------------------------------------


@route("GET", "/rate_limit")
def get_rate_limit(api: Api, req: Request) -> Reply:
    who = req.user["login"] if req.user else "anonymous"
    limit, remaining, reset, used = api.traffic.usage(who, req.user is not None)
    return Reply(200, api.shapes.rate_limit(limit, remaining, reset, used))


@route("GET", "/user")
def get_authenticated_user(api: Api, req: Request) -> Reply:
    return Reply(200, api.shapes.user(req.actor(), private=True))


@route("GET", "/users/{login}")
def get_user(api: Api, req: Request) -> Reply:
    user = api.store.user(req.params["login"])
    if user is None:
        raise not_found()
    return Reply(200, api.shapes.user(user, private=req.user is not None and req.user["id"] == user["id"]))


@route("POST", "/user/repos")
def create_repo(api: Api, req: Request) -> Reply:
    name = req.json_field("name")
    if not name:
        raise validation("Repository", "name", "missing_field")
    repo = api.service.create_repo(
        req.actor(), name, req.json_field("description"), bool(req.json_field("private", False))
    )
    return Reply(201, api.shapes.repository(api.store.repo_by_id(repo["id"]) or repo, "admin"))


# --- repositories --------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}")
def get_repo(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return Reply(200, api.shapes.repository(repo, api.perm(repo, req)))


@route("GET", "/repos/{owner}/{repo}/collaborators/{login}/permission")
def get_permission(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    if PERMISSION_RANK[api.perm(repo, req)] < PERMISSION_RANK["write"]:
        raise ApiError(403, "Must have push access to view collaborator permission.")
    user = api.store.user(req.params["login"])
    if user is None:
        raise ApiError(404, f"{req.params['login']} is not a user")
    permission = api.store.permission(repo, user)
    role = {"maintain": "maintain", "triage": "triage"}.get(permission, permission)
    legacy = {"maintain": "write", "triage": "read"}.get(permission, permission)
    shaped_user = dict(api.shapes.simple_user(user) or {})
    shaped_user["permissions"] = api.shapes.permissions(permission)
    shaped_user["role_name"] = role
    return Reply(200, {"permission": legacy, "role_name": role, "user": shaped_user})


# --- issues ------------------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/issues")
def list_issues(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    per_page, page = page_args(req)
    where, args = ["i.repo_id = ?"], [repo["id"]]
    state = req.query.get("state", "open")
    if state in ("open", "closed"):
        where.append("i.state = ?")
        args.append(state)
    elif state != "all":
        raise validation("Issue", "state", "invalid")
    if req.query.get("since"):
        where.append("i.updated_at >= ?")
        args.append(req.query["since"].replace(".000", ""))
    for name in filter(None, (n.strip() for n in req.query.get("labels", "").split(","))):
        where.append(
            "EXISTS (SELECT 1 FROM issue_labels il JOIN labels l ON l.id = il.label_id"
            " WHERE il.issue_id = i.id AND l.name = ? COLLATE NOCASE)"
        )
        args.append(name)
    if req.query.get("creator"):
        where.append("i.user_id = (SELECT id FROM users WHERE login = ? COLLATE NOCASE)")
        args.append(req.query["creator"])
    sort = {"created": "created_at", "updated": "updated_at", "comments": "comments"}.get(
        req.query.get("sort", "created")
    )
    if sort is None:
        raise validation("Issue", "sort", "invalid")
    direction = "ASC" if req.query.get("direction") == "asc" else "DESC"
    order = "(SELECT COUNT(*) FROM comments c WHERE c.issue_id = i.id)" if sort == "comments" else f"i.{sort}"
    clause = " AND ".join(where)
    total = api.store.scalar(f"SELECT COUNT(*) FROM issues i WHERE {clause}", *args)
    rows = api.store.all(
        f"SELECT * FROM issues i WHERE {clause} ORDER BY {order} {direction}, i.number {direction} LIMIT ? OFFSET ?",
        *args,
        per_page,
        (page - 1) * per_page,
    )
    return Reply(200, [api.shapes.issue(repo, r) for r in rows], link_header(req, page, per_page, total))


@route("POST", "/repos/{owner}/{repo}/issues")
def create_issue(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.service.create_issue(
        repo,
        req.actor(),
        req.json_field("title"),
        req.json_field("body"),
        req.json_field("labels"),
        req.json_field("assignee") or (req.json_field("assignees") or [None])[0],
    )
    return Reply(201, api.shapes.issue(repo, issue, single=True))


@route("GET", "/repos/{owner}/{repo}/issues/{number}")
def get_issue(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return Reply(200, api.shapes.issue(repo, api.issue(req, repo), single=True))


@route("PATCH", "/repos/{owner}/{repo}/issues/{number}")
def edit_issue(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.service.edit_issue(repo, api.issue(req, repo), req.actor(), req.body or {})
    return Reply(200, api.shapes.issue(repo, issue, single=True))


@route("PUT", "/repos/{owner}/{repo}/issues/{number}/lock")
def lock_issue(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    api.service.lock(repo, api.issue(req, repo), req.actor(), req.json_field("lock_reason"), True)
    return Reply(204)


@route("DELETE", "/repos/{owner}/{repo}/issues/{number}/lock")
def unlock_issue(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    api.service.lock(repo, api.issue(req, repo), req.actor(), None, False)
    return Reply(204)


# --- labels --------------------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/labels")
def list_labels(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    labels = api.store.all("SELECT * FROM labels WHERE repo_id = ? ORDER BY name", repo["id"])
    return paged(req, labels, lambda label: api.shapes.label(repo, label))


@route("POST", "/repos/{owner}/{repo}/labels")
def create_label(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    label = api.service.create_label(
        repo,
        req.actor(),
        req.json_field("name", ""),
        req.json_field("color", ""),
        req.json_field("description"),
    )
    return Reply(201, api.shapes.label(repo, label))


def find_label(api: Api, repo: Row, name: str) -> Row:
    label = api.store.label(repo["id"], name)
    if label is None:
        raise not_found()
    return label


@route("GET", "/repos/{owner}/{repo}/labels/{name}")
def get_label(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return Reply(200, api.shapes.label(repo, find_label(api, repo, req.params["name"])))


@route("PATCH", "/repos/{owner}/{repo}/labels/{name}")
def edit_label(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    label = api.service.edit_label(repo, req.actor(), find_label(api, repo, req.params["name"]), req.body or {})
    return Reply(200, api.shapes.label(repo, label))


@route("DELETE", "/repos/{owner}/{repo}/labels/{name}")
def delete_label(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    api.service.delete_label(repo, req.actor(), find_label(api, repo, req.params["name"]))
    return Reply(204)


def label_names(req: Request) -> list[str]:
    body = req.body
    names = body.get("labels", []) if isinstance(body, dict) else body
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise validation("Label", "labels", "invalid")
    return names


def issue_labels_reply(api: Api, repo: Row, issue: Row) -> Reply:
    return Reply(200, [api.shapes.label(repo, label) for label in api.store.labels_of(issue["id"])])


@route("GET", "/repos/{owner}/{repo}/issues/{number}/labels")
def list_issue_labels(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    return paged(req, api.store.labels_of(issue["id"]), lambda label: api.shapes.label(repo, label))


@route("POST", "/repos/{owner}/{repo}/issues/{number}/labels")
def add_issue_labels(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    api.service.add_labels(repo, issue, req.actor(), label_names(req))
    return issue_labels_reply(api, repo, issue)


@route("PUT", "/repos/{owner}/{repo}/issues/{number}/labels")
def set_issue_labels(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    api.service.set_labels(repo, issue, req.actor(), label_names(req))
    return issue_labels_reply(api, repo, issue)


@route("DELETE", "/repos/{owner}/{repo}/issues/{number}/labels")
def clear_issue_labels(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    api.service.set_labels(repo, api.issue(req, repo), req.actor(), [])
    return Reply(204)


@route("DELETE", "/repos/{owner}/{repo}/issues/{number}/labels/{name}")
def remove_issue_label(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    api.service.remove_label(repo, issue, req.actor(), req.params["name"])
    return issue_labels_reply(api, repo, issue)


# --- comments, events, timeline, reactions ---------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/issues/{number}/comments")
def list_comments(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    since = req.query.get("since", "").replace(".000", "")
    comments = api.store.all(
        "SELECT * FROM comments WHERE issue_id = ? AND updated_at >= ? ORDER BY id", issue["id"], since
    )
    return paged(req, comments, lambda c: api.shapes.comment(repo, c))


@route("POST", "/repos/{owner}/{repo}/issues/{number}/comments")
def create_comment(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    comment = api.service.comment(repo, api.issue(req, repo), req.actor(), req.json_field("body"))
    return Reply(201, api.shapes.comment(repo, comment))


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def get_comment(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return Reply(200, api.shapes.comment(repo, api.service.find_comment(repo, number_of(req.params["comment_id"]))))


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def edit_comment(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    comment = api.service.find_comment(repo, number_of(req.params["comment_id"]))
    edited = api.service.edit_comment(repo, comment, req.actor(), req.json_field("body", ""))
    return Reply(200, api.shapes.comment(repo, edited))


@route("GET", "/repos/{owner}/{repo}/issues/{number}/events")
def list_events(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    events = api.store.all("SELECT * FROM events WHERE issue_id = ? ORDER BY id", issue["id"])
    return paged(req, events, lambda e: api.shapes.event(repo, e))


@route("GET", "/repos/{owner}/{repo}/issues/events/{event_id}")
def get_event(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    event = api.store.one(
        "SELECT e.* FROM events e JOIN issues i ON i.id = e.issue_id WHERE e.id = ? AND i.repo_id = ?",
        number_of(req.params["event_id"]),
        repo["id"],
    )
    if event is None:
        raise not_found()
    return Reply(200, api.shapes.event(repo, event, with_issue=True))


@route("GET", "/repos/{owner}/{repo}/issues/{number}/timeline")
def list_timeline(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue = api.issue(req, repo)
    items: list[tuple[str, int, str, Row]] = [
        (e["created_at"], e["id"], "event", e)
        for e in api.store.all("SELECT * FROM events WHERE issue_id = ?", issue["id"])
    ]
    items += [
        (c["created_at"], c["id"], "comment", c)
        for c in api.store.all("SELECT * FROM comments WHERE issue_id = ?", issue["id"])
    ]
    items.sort(key=lambda x: (x[0], x[2] == "comment", x[1]))

    def shape(item: tuple[str, int, str, Row]) -> Any:
        kind, row = item[2], item[3]
        return api.shapes.timeline_comment(repo, row) if kind == "comment" else api.shapes.event(repo, row)

    return paged(req, items, shape)


def reactions_reply(api: Api, req: Request, repo: Row, subject: str, subject_id: int) -> Reply:
    if req.method == "POST":
        reaction, new = api.service.react(repo, subject, subject_id, req.actor(), req.json_field("content", ""))
        return Reply(201 if new else 200, api.shapes.reaction(reaction))
    reactions = api.store.reactions_of(subject, subject_id)
    if req.query.get("content"):
        reactions = [r for r in reactions if r["content"] == req.query["content"]]
    return paged(req, reactions, api.shapes.reaction)


@route("GET|POST", "/repos/{owner}/{repo}/issues/{number}/reactions")
def issue_reactions(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return reactions_reply(api, req, repo, "issue", api.issue(req, repo)["id"])


@route("GET|POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def comment_reactions(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    comment = api.service.find_comment(repo, number_of(req.params["comment_id"]))
    return reactions_reply(api, req, repo, "comment", comment["id"])


# --- git refs, branches, commits --------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/git/ref/{ref:path}")
def get_ref(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    ref = "refs/" + req.params["ref"]
    sha = api.service.git(repo).refs(ref).get(ref)
    if sha is None:
        raise not_found()
    return Reply(200, api.shapes.ref(repo, ref, sha))


@route("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref:path}")
def matching_refs(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    prefix = "refs/" + req.params["ref"]
    refs = sorted(api.service.git(repo).refs("refs/").items())
    return paged(req, [r for r in refs if r[0].startswith(prefix)], lambda r: api.shapes.ref(repo, r[0], r[1]))


@route("GET", "/repos/{owner}/{repo}/git/refs{ref:optpath}")
def list_refs(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    prefix = "refs/" + req.params.get("ref", "").strip("/")
    refs = sorted(api.service.git(repo).refs("refs/").items())
    matching = [r for r in refs if r[0] == prefix or r[0].startswith(prefix.rstrip("/") + "/")]
    if not matching:
        raise not_found()
    exact = [r for r in matching if r[0] == prefix]
    if exact:
        return Reply(200, api.shapes.ref(repo, exact[0][0], exact[0][1]))
    return paged(req, matching, lambda r: api.shapes.ref(repo, r[0], r[1]))


@route("POST", "/repos/{owner}/{repo}/git/refs")
def create_ref(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    ref, sha = req.json_field("ref", ""), req.json_field("sha", "")
    api.service.create_ref(repo, req.actor(), ref, sha)
    return Reply(201, api.shapes.ref(repo, ref, api.service.git(repo).ref_sha(ref) or sha))


@route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref:path}")
def update_ref(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    ref = "refs/" + req.params["ref"]
    api.service.update_ref(repo, req.actor(), ref, req.json_field("sha", ""), bool(req.json_field("force")))
    return Reply(200, api.shapes.ref(repo, ref, req.json_field("sha", "")))


@route("DELETE", "/repos/{owner}/{repo}/git/refs/{ref:path}")
def delete_ref(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    api.service.delete_ref(repo, req.actor(), "refs/" + req.params["ref"])
    return Reply(204)


@route("GET", "/repos/{owner}/{repo}/branches")
def list_branches(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    heads = sorted(api.service.git(repo).refs("refs/heads/").items())
    return paged(req, heads, lambda h: api.shapes.short_branch(repo, h[0].removeprefix("refs/heads/"), h[1]))


@route("GET", "/repos/{owner}/{repo}/branches/{branch:path}")
def get_branch(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    bare = api.service.git(repo)
    sha = bare.ref_sha(f"refs/heads/{req.params['branch']}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    return Reply(200, api.shapes.branch(repo, req.params["branch"], bare.commit(sha)))


@route("GET", "/repos/{owner}/{repo}/commits/{ref}")
def get_commit(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    sha = api.service.resolve_sha(repo, req.params["ref"])
    bare = api.service.git(repo)
    info = bare.commit(sha)
    shaped = api.shapes.commit(repo, info)
    parent = info.parents[0] if info.parents else None
    changes = bare.changed_files(parent, sha) if parent else []
    shaped["stats"] = {
        "total": sum(c.additions + c.deletions for c in changes),
        "additions": sum(c.additions for c in changes),
        "deletions": sum(c.deletions for c in changes),
    }
    shaped["files"] = [api.shapes.pull_file(repo, sha, c) for c in changes]
    return Reply(200, shaped)


# --- pulls -----------------------------------------------------------------------------------------------


def pull_reply(api: Api, repo: Row, issue: Row, status: int = 200) -> Reply:
    pull = api.store.one("SELECT * FROM pulls WHERE issue_id = ?", issue["id"])
    assert pull is not None
    fresh = api.store.issue_by_id(issue["id"]) or issue
    return Reply(status, api.shapes.pull(repo, fresh, pull, api.service.pull_stats(repo, pull)))


@route("GET", "/repos/{owner}/{repo}/pulls")
def list_pulls(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    where, args = ["i.repo_id = ?"], [repo["id"]]
    state = req.query.get("state", "open")
    if state in ("open", "closed"):
        where.append("i.state = ?")
        args.append(state)
    if req.query.get("head"):
        owner, _, branch = req.query["head"].rpartition(":")
        if owner and owner.lower() != repo["owner_login"].lower():
            return Reply(200, [])
        where.append("p.head_ref = ?")
        args.append(branch)
    if req.query.get("base"):
        where.append("p.base_ref = ?")
        args.append(req.query["base"])
    sort = {"created": "i.created_at", "updated": "i.updated_at"}.get(req.query.get("sort", "created"), "i.created_at")
    direction = "ASC" if req.query.get("direction") == "asc" else "DESC"
    rows = api.store.all(
        "SELECT i.id AS issue_id FROM issues i JOIN pulls p ON p.issue_id = i.id WHERE "
        + " AND ".join(where)
        + f" ORDER BY {sort} {direction}, i.number {direction}",
        *args,
    )

    def shape(row: Row) -> Any:
        issue = api.store.issue_by_id(row["issue_id"])
        pull = api.store.one("SELECT * FROM pulls WHERE issue_id = ?", row["issue_id"])
        assert issue is not None and pull is not None
        return api.shapes.pull(repo, issue, pull)

    return paged(req, rows, shape)


@route("POST", "/repos/{owner}/{repo}/pulls")
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


@route("GET", "/repos/{owner}/{repo}/pulls/{number}")
def get_pull(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, _ = api.service.find_pull(repo, number_of(req.params["number"]))
    return pull_reply(api, repo, issue)


@route("PATCH", "/repos/{owner}/{repo}/pulls/{number}")
def edit_pull(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, pull = api.service.find_pull(repo, number_of(req.params["number"]))
    api.service.edit_pull(repo, issue, pull, req.actor(), req.body or {})
    return pull_reply(api, repo, issue)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/merge")
def is_merged(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    _, pull = api.service.find_pull(repo, number_of(req.params["number"]))
    if not pull["merged"]:
        raise not_found()
    return Reply(204)


@route("PUT", "/repos/{owner}/{repo}/pulls/{number}/merge")
def merge_pull(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, pull = api.service.find_pull(repo, number_of(req.params["number"]))
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


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/files")
def list_pull_files(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    _, pull = api.service.find_pull(repo, number_of(req.params["number"]))
    return paged(req, api.service.pull_files(repo, pull), lambda c: api.shapes.pull_file(repo, pull["head_sha"], c))


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/commits")
def list_pull_commits(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    _, pull = api.service.find_pull(repo, number_of(req.params["number"]))
    return paged(req, api.service.pull_commits(repo, pull), lambda c: api.shapes.commit(repo, c))


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def list_reviews(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, _ = api.service.find_pull(repo, number_of(req.params["number"]))
    reviews = api.store.all("SELECT * FROM reviews WHERE issue_id = ? ORDER BY id", issue["id"])
    return paged(req, reviews, lambda r: api.shapes.review(repo, issue, r))


@route("POST", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def create_review(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, pull = api.service.find_pull(repo, number_of(req.params["number"]))
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


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews/{review_id}")
def get_review(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, _ = api.service.find_pull(repo, number_of(req.params["number"]))
    review = api.store.one(
        "SELECT * FROM reviews WHERE id = ? AND issue_id = ?", number_of(req.params["review_id"]), issue["id"]
    )
    if review is None:
        raise not_found()
    return Reply(200, api.shapes.review(repo, issue, review))


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/comments")
def list_review_comments(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    issue, _ = api.service.find_pull(repo, number_of(req.params["number"]))
    comments = api.store.all("SELECT * FROM review_comments WHERE issue_id = ? ORDER BY id", issue["id"])
    return paged(req, comments, lambda c: api.shapes.review_comment(repo, issue, c))


# --- CI: statuses and check runs ------------------------------------------------------------------------


@route("POST", "/repos/{owner}/{repo}/statuses/{sha}")
def create_status(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    status = api.service.create_status(repo, req.actor(), req.params["sha"], req.body or {})
    return Reply(201, api.shapes.status(repo, status))


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/status")
def combined_status(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    sha = api.service.resolve_sha(repo, req.params["ref"])
    return Reply(200, api.shapes.combined_status(repo, sha, api.service.latest_statuses(repo, sha)))


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/statuses")
def list_statuses(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    sha = api.service.resolve_sha(repo, req.params["ref"])
    statuses = api.store.all("SELECT * FROM statuses WHERE repo_id = ? AND sha = ? ORDER BY id DESC", repo["id"], sha)
    return paged(req, statuses, lambda s: api.shapes.status(repo, s))


@route("POST", "/repos/{owner}/{repo}/check-runs")
def create_check_run(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    run = api.service.create_check_run(repo, req.actor(), req.body or {})
    return Reply(201, api.shapes.check_run(repo, run))


def find_check_run(api: Api, repo: Row, run_id: str) -> Row:
    run = api.store.one("SELECT * FROM check_runs WHERE id = ? AND repo_id = ?", number_of(run_id), repo["id"])
    if run is None:
        raise not_found()
    return run


@route("GET", "/repos/{owner}/{repo}/check-runs/{run_id}")
def get_check_run(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    return Reply(200, api.shapes.check_run(repo, find_check_run(api, repo, req.params["run_id"])))


@route("PATCH", "/repos/{owner}/{repo}/check-runs/{run_id}")
def update_check_run(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    run = api.service.update_check_run(
        repo, req.actor(), find_check_run(api, repo, req.params["run_id"]), req.body or {}
    )
    return Reply(200, api.shapes.check_run(repo, run))


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs")
def list_check_runs(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    sha = api.service.resolve_sha(repo, req.params["ref"])
    runs = api.store.all(
        "SELECT * FROM check_runs WHERE repo_id = ? AND head_sha = ? ORDER BY id DESC", repo["id"], sha
    )
    if req.query.get("check_name"):
        runs = [r for r in runs if r["name"] == req.query["check_name"]]
    if req.query.get("status"):
        runs = [r for r in runs if r["status"] == req.query["status"]]
    if req.query.get("filter", "latest") == "latest":
        seen: set[str] = set()
        runs = [r for r in runs if not (r["name"] in seen or seen.add(r["name"]))]  # type: ignore[func-returns-value]
    per_page, page = page_args(req)
    chunk = runs[(page - 1) * per_page : page * per_page]
    return Reply(
        200,
        {"total_count": len(runs), "check_runs": [api.shapes.check_run(repo, r) for r in chunk]},
        link_header(req, page, per_page, len(runs)),
    )


# --- dispatch ----------------------------------------------------------------------------------------------


@route("GET", "/")
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


REPOSITORY_BY_ID = re.compile(r"^/repositories/(\d+)(/.*)?$")


def dispatch(api: Api, req: Request) -> Reply:
    by_id = REPOSITORY_BY_ID.match(req.path)
    if by_id:
        # GitHub also addresses a repository by its id (its own Link headers do): same routes, same checks.
        repo = api.store.repo_by_id(int(by_id[1]))
        if repo is None:
            raise not_found()
        req.path = f"/repos/{repo['owner_login']}/{repo['name']}{by_id[2] or ''}"
    for method, regex, fn in ROUTES:
        match = regex.match(req.path)
        if match and req.method in method.split("|"):
            req.params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            return fn(api, req)
    raise not_found()


def _has_lone_surrogate(value: Any) -> bool:
    """GitHub rejects text that is not valid Unicode; so does the forge (SQLite could not store it either)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


class ForgeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], service: Service, traffic: Traffic) -> None:
        super().__init__(address, ForgeRequestHandler)
        self.service = service
        self.traffic = traffic
        # (base, path, query, user) → (store version, ETag) of the last body rendered for it
        self.etags: dict[tuple[str, str, str, int | None], tuple[int, str]] = {}


class ForgeRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    server: ForgeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- plumbing ---------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self.handle_any()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

    @property
    def base(self) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def credentials(self) -> str | None:
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("token", "bearer"):
            return value.strip()
        if scheme.lower() == "basic":
            try:
                _, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return ""
            return password
        return None

    def send(self, status: int, body: bytes, headers: dict[str, str], counted: bool = False) -> None:
        # Logged before the answer leaves, so that a client that has its answer also finds it in the log.
        if self.log_this:
            self.server.traffic.record(
                LoggedRequest(
                    self.command,
                    self.path,
                    status,
                    counted,
                    self.login,
                    time.time(),
                    (time.monotonic() - self.started) * 1000,
                )
            )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def handle_any(self) -> None:
        self.started = time.monotonic()
        self.login: str | None = None
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        self.log_this = not path.startswith("/_forge/") or path.startswith("/_forge/as/")
        raw = self.read_body()
        if path.startswith("/_forge/"):
            self.handle_admin(path, split.query, raw)
        elif re.match(r"^/[^/]+/[^/]+\.git/", path):
            self.handle_git(path, split.query, raw)
        elif (m := re.match(r"^/([^/]+)/([^/]+)/(pull|issues)/(\d+)$", path)) and m[1] not in ("repos", "repositories"):
            from .pages import page

            html = page(self.server.service, m[1], m[2], m[3], int(m[4]))
            if html is None:
                self.send(404, b"Not Found", {"Content-Type": "text/plain"})
            else:
                self.send(200, html.encode(), {"Content-Type": "text/html; charset=utf-8"})
        else:
            self.handle_api(path, split.query, raw)

    # --- REST ------------------------------------------------------------------------------------------

    def handle_api(self, path: str, query: str, raw: bytes, as_user: Row | None = None) -> int:
        traffic, service = self.server.traffic, self.server.service
        headers = {"Content-Type": "application/json; charset=utf-8", "X-GitHub-Media-Type": "github.v3"}
        token = self.credentials()
        user = as_user or (service.store.user_for_token(token) if token else None)
        login = self.login = user["login"] if user else None
        if token is not None and user is None and as_user is None:
            return self.reply_error(401, "Bad credentials", headers)
        fault = traffic.fault_for(path)
        who = login or f"ip:{self.client_address[0]}"
        if fault is not None and fault.status is not None:
            _, limit_headers = traffic.limit_headers(who, user is not None, spend=False)
            return self.reply_error(fault.status, fault.message, {**headers, **limit_headers, **fault.headers})
        spend = path != "/rate_limit"
        if_none_match = self.headers.get("If-None-Match")
        # A conditional GET spends a point only when it is not answered 304, so decide after serving.
        allowed, limit_headers = traffic.limit_headers(
            who, user is not None, spend=spend and not (self.command == "GET" and if_none_match)
        )
        if not allowed:
            message = f"API rate limit exceeded for user ID {user['id'] if user else 0}."
            return self.reply_error(403, message, {**headers, **limit_headers})
        try:
            body = json.loads(raw) if raw.strip() else None
            json.dumps(body).encode("utf-8").decode("utf-8")
            if body is not None and _has_lone_surrogate(body):
                raise ValueError("lone surrogate")
        except (json.JSONDecodeError, UnicodeError, ValueError):
            return self.reply_error(400, "Problems parsing JSON", {**headers, **limit_headers}, counted=spend)
        cache_key = (self.base, path, query, user["id"] if user else None)
        version = service.store.version
        if self.command == "GET" and if_none_match and path != "/rate_limit":
            known = self.server.etags.get(cache_key)
            # Nothing was written since this ETag was computed: answer 304 without rendering the body again.
            if known and known[0] == version and known[1] in [t.strip() for t in if_none_match.split(",")]:
                self.send(304, b"", {**headers, **limit_headers, "ETag": known[1]})
                return 304
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        req = Request(self.command if self.command != "HEAD" else "GET", path, params, body, user, self.base)
        try:
            reply = dispatch(Api(service, traffic, self.base), req)
        except ApiError as exc:
            return self.reply_error(exc.status, exc.message, {**headers, **limit_headers}, exc.errors, spend)
        except GitError as exc:
            return self.reply_error(422, str(exc), {**headers, **limit_headers}, counted=spend)
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        headers.update(limit_headers)
        headers.update(reply.headers)
        counted = spend
        if req.method == "GET" and reply.status == 200:
            etag = etag_of(payload)
            if path != "/rate_limit":
                if len(self.server.etags) > 50_000:
                    self.server.etags.clear()
                self.server.etags[cache_key] = (version, etag)
            headers["ETag"] = etag
            headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
            headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
            if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
                self.send(304, b"", headers)
                return 304
            if if_none_match and spend:
                allowed, limit_headers = traffic.limit_headers(who, user is not None, spend=True)
                headers.update(limit_headers)
                counted = True
        self.send(reply.status, payload, headers, counted)
        return reply.status

    def reply_error(
        self,
        status: int,
        message: str,
        headers: dict[str, str],
        errors: list[dict[str, Any]] | None = None,
        counted: bool = False,
    ) -> int:
        doc = "rest/overview/rate-limits-for-the-rest-api" if "rate limit" in message else "rest"
        self.send(status, json.dumps(error(message, status, errors, doc)).encode(), headers, counted)
        return status

    # --- git smart HTTP --------------------------------------------------------------------------------

    def handle_git(self, path: str, query: str, body: bytes) -> int:
        service = self.server.service
        owner, repo_git, rest = path.lstrip("/").split("/", 2)
        repo = service.store.repo(owner, repo_git.removesuffix(".git"))
        token = self.credentials()
        user = service.store.user_for_token(token) if token else None
        login = self.login = user["login"] if user else None
        if repo is None:
            self.send(404, b"Repository not found.\n", {"Content-Type": "text/plain"})
            return 404
        pushing = "git-receive-pack" in (rest, parse_qs(query).get("service", [""])[0])
        needed = "write" if pushing else "read"
        if PERMISSION_RANK[service.store.permission(repo, user)] < PERMISSION_RANK[needed]:
            status = 401 if user is None else 403
            self.send(
                status,
                b"Authentication required.\n" if status == 401 else b"Permission denied.\n",
                {"WWW-Authenticate": 'Basic realm="GitHub"', "Content-Type": "text/plain"},
            )
            return status
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(service.git_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{repo['owner_login']}/{repo['name']}.git/{rest}",
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": login or "anonymous",
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": os.environ.get("HOME", "/tmp"),
        }
        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status, headers = 200, {}
        for line in head.decode(errors="replace").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers[name.strip()] = value.strip()
        if pushing and self.command == "POST" and status == 200:
            service.after_push(repo)  # before answering: the pusher then sees the PR already moved
        self.send(status, payload, headers)
        return status

    # --- admin ---------------------------------------------------------------------------------------------

    def handle_admin(self, path: str, query: str, raw: bytes) -> int:
        from .admin import admin_route

        traffic, service = self.server.traffic, self.server.service
        if path.startswith("/_forge/as/"):
            # Act as any user: the REST call after the login runs with that user's identity.
            login, _, api_path = path.removeprefix("/_forge/as/").partition("/")
            user = service.store.user(login)
            if user is None:
                return self.reply_error(404, f"no forge user {login}", {"Content-Type": "application/json"})
            return self.handle_api("/" + api_path, query, raw, as_user=user)
        status, payload = admin_route(service, traffic, self.command, path, query, raw)
        self.send(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        return status
