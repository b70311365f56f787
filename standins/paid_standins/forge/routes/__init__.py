"""The forge's REST routes: one module per resource family, and the whole routing table here.

The first route whose method and pattern match a request serves it, so the order below is the order of
precedence (it matters only where patterns could overlap, e.g. `issues/{number}` and `issues/comments/...`).
Git smart HTTP (`git_http`), the HTML pages (`pages`) and the admin endpoints (`admin`) are not REST
routes: the server sends requests to them by path prefix.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from ..service import not_found
from . import checks, comments, events, issues, labels, meta, pulls, refs, repos, reviews, users
from .base import Api, Reply, Request, Route, route

REPO = "/repos/{owner}/{repo}"

ROUTES: list[Route] = [
    # users, repositories and permissions
    route("GET", "/rate_limit", meta.get_rate_limit),
    route("GET", "/user", users.get_authenticated_user),
    route("GET", "/users/{login}", users.get_user),
    route("POST", "/user/repos", repos.create_repo),
    route("GET", REPO, repos.get_repo),
    route("GET", f"{REPO}/collaborators/{{login}}/permission", users.get_permission),
    # issues
    route("GET", f"{REPO}/issues", issues.list_issues),
    route("POST", f"{REPO}/issues", issues.create_issue),
    route("GET", f"{REPO}/issues/{{number}}", issues.get_issue),
    route("PATCH", f"{REPO}/issues/{{number}}", issues.edit_issue),
    route("PUT", f"{REPO}/issues/{{number}}/lock", issues.lock_issue),
    route("DELETE", f"{REPO}/issues/{{number}}/lock", issues.unlock_issue),
    # labels
    route("GET", f"{REPO}/labels", labels.list_labels),
    route("POST", f"{REPO}/labels", labels.create_label),
    route("GET", f"{REPO}/labels/{{name}}", labels.get_label),
    route("PATCH", f"{REPO}/labels/{{name}}", labels.edit_label),
    route("DELETE", f"{REPO}/labels/{{name}}", labels.delete_label),
    route("GET", f"{REPO}/issues/{{number}}/labels", labels.list_issue_labels),
    route("POST", f"{REPO}/issues/{{number}}/labels", labels.add_issue_labels),
    route("PUT", f"{REPO}/issues/{{number}}/labels", labels.set_issue_labels),
    route("DELETE", f"{REPO}/issues/{{number}}/labels", labels.clear_issue_labels),
    route("DELETE", f"{REPO}/issues/{{number}}/labels/{{name}}", labels.remove_issue_label),
    # comments
    route("GET", f"{REPO}/issues/{{number}}/comments", comments.list_comments),
    route("POST", f"{REPO}/issues/{{number}}/comments", comments.create_comment),
    route("GET", f"{REPO}/issues/comments/{{comment_id}}", comments.get_comment),
    route("PATCH", f"{REPO}/issues/comments/{{comment_id}}", comments.edit_comment),
    # events and timeline
    route("GET", f"{REPO}/issues/{{number}}/events", events.list_events),
    route("GET", f"{REPO}/issues/events/{{event_id}}", events.get_event),
    route("GET", f"{REPO}/issues/{{number}}/timeline", events.list_timeline),
    # reactions
    route("GET|POST", f"{REPO}/issues/{{number}}/reactions", comments.issue_reactions),
    route("GET|POST", f"{REPO}/issues/comments/{{comment_id}}/reactions", comments.comment_reactions),
    # git refs, branches and commits
    route("GET", f"{REPO}/git/ref/{{ref:path}}", refs.get_ref),
    route("GET", f"{REPO}/git/matching-refs/{{ref:path}}", refs.matching_refs),
    route("GET", f"{REPO}/git/refs{{ref:optpath}}", refs.list_refs),
    route("POST", f"{REPO}/git/refs", refs.create_ref),
    route("PATCH", f"{REPO}/git/refs/{{ref:path}}", refs.update_ref),
    route("DELETE", f"{REPO}/git/refs/{{ref:path}}", refs.delete_ref),
    route("GET", f"{REPO}/branches", refs.list_branches),
    route("GET", f"{REPO}/branches/{{branch:path}}", refs.get_branch),
    route("GET", f"{REPO}/commits/{{ref}}", refs.get_commit),
    # pull requests
    route("GET", f"{REPO}/pulls", pulls.list_pulls),
    route("POST", f"{REPO}/pulls", pulls.create_pull),
    route("GET", f"{REPO}/pulls/{{number}}", pulls.get_pull),
    route("PATCH", f"{REPO}/pulls/{{number}}", pulls.edit_pull),
    route("GET", f"{REPO}/pulls/{{number}}/merge", pulls.is_merged),
    route("PUT", f"{REPO}/pulls/{{number}}/merge", pulls.merge_pull),
    route("GET", f"{REPO}/pulls/{{number}}/files", pulls.list_pull_files),
    route("GET", f"{REPO}/pulls/{{number}}/commits", pulls.list_pull_commits),
    # reviews
    route("GET", f"{REPO}/pulls/{{number}}/reviews", reviews.list_reviews),
    route("POST", f"{REPO}/pulls/{{number}}/reviews", reviews.create_review),
    route("GET", f"{REPO}/pulls/{{number}}/reviews/{{review_id}}", reviews.get_review),
    route("GET", f"{REPO}/pulls/{{number}}/comments", reviews.list_review_comments),
    # CI: statuses and check runs
    route("POST", f"{REPO}/statuses/{{sha}}", checks.create_status),
    route("GET", f"{REPO}/commits/{{ref}}/status", checks.combined_status),
    route("GET", f"{REPO}/commits/{{ref}}/statuses", checks.list_statuses),
    route("POST", f"{REPO}/check-runs", checks.create_check_run),
    route("GET", f"{REPO}/check-runs/{{run_id}}", checks.get_check_run),
    route("PATCH", f"{REPO}/check-runs/{{run_id}}", checks.update_check_run),
    route("GET", f"{REPO}/commits/{{ref}}/check-runs", checks.list_check_runs),
    # the API root
    route("GET", "/", meta.get_root),
]

REPOSITORY_BY_ID = re.compile(r"^/repositories/(\d+)(/.*)?$")


def dispatch(api: Api, req: Request) -> Reply:
    """Serves the request with the first matching route; no route is GitHub's plain 404."""
    by_id = REPOSITORY_BY_ID.match(req.path)
    if by_id:
        # GitHub also addresses a repository by its id (its own Link headers do): same routes, same checks.
        repo = api.store.repo_by_id(int(by_id[1]))
        if repo is None:
            raise not_found()
        req.path = f"/repos/{repo['owner_login']}/{repo['name']}{by_id[2] or ''}"
    for method, regex, handler in ROUTES:
        match = regex.match(req.path)
        if match and req.method in method.split("|"):
            req.params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            return handler(api, req)
    raise not_found()


__all__ = ["ROUTES", "Api", "Reply", "Request", "Route", "dispatch"]
