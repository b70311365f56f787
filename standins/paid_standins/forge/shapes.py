"""GitHub's JSON shapes, filled from forge rows.

Every key that GitHub's REST API returns for these objects is present (the fidelity test compares them
with recorded exchanges), so that PyGithub and other clients cannot tell the difference.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .gitrepo import CommitInfo, FileChange
from .store import Row, Store

JSON = dict[str, Any]


def node_id(kind: str, ident: int | str) -> str:
    return base64.b64encode(f"0:{kind}{ident}".encode()).decode().rstrip("=")


def _iso(value: str) -> str:
    """Git's ISO dates (with offset) as GitHub's UTC `Z` form."""
    from datetime import UTC, datetime

    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Shapes:
    """Serialisers bound to one base URL (taken from the request's Host, as PyGithub checks it)."""

    def __init__(self, store: Store, base: str) -> None:
        self.store = store
        self.base = base.rstrip("/")
        self._users: dict[int, JSON] = {}
        self._repos: dict[int, JSON] = {}

    # --- users ----------------------------------------------------------------------

    def simple_user(self, user: Row | None) -> JSON | None:
        if user is None:
            return None
        cached = self._users.get(user["id"])
        if cached is not None:
            return cached
        login = user["login"]
        api = f"{self.base}/users/{login}"
        shaped = {
            "login": login,
            "id": user["id"],
            "node_id": node_id("User", user["id"]),
            "avatar_url": f"{self.base}/_forge/avatars/{login}",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.base}/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": user["type"],
            "user_view_type": "public",
            "site_admin": bool(user["site_admin"]),
        }
        self._users[user["id"]] = shaped
        return shaped

    def user(self, user: Row, private: bool = False) -> JSON:
        public_repos = self.store.repo_count_of(user["id"])
        shaped = dict(self.simple_user(user) or {})
        shaped.update(
            {
                "name": user["name"],
                "company": None,
                "blog": "",
                "location": None,
                "email": user["email"],
                "hireable": None,
                "bio": None,
                "twitter_username": None,
                "notification_email": user["email"],
                "public_repos": public_repos,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": user["created_at"],
                "updated_at": user["created_at"],
            }
        )
        if private:
            shaped.update(
                {
                    "private_gists": 0,
                    "total_private_repos": 0,
                    "owned_private_repos": 0,
                    "disk_usage": 0,
                    "collaborators": 0,
                    "two_factor_authentication": False,
                    "plan": {"name": "free", "space": 976562499, "collaborators": 0, "private_repos": 10000},
                }
            )
        return shaped

    # --- repositories ---------------------------------------------------------------

    def repo_url(self, repo: Row) -> str:
        return f"{self.base}/repos/{repo['owner_login']}/{repo['name']}"

    def repository(self, repo: Row, viewer_permission: str = "read", full: bool = True) -> JSON:
        cached = self._repos.get(repo["id"]) if not full else None
        if cached is not None:
            return cached
        owner = self.store.user_by_id(repo["owner_id"])
        full_name = f"{repo['owner_login']}/{repo['name']}"
        api = self.repo_url(repo)
        html = f"{self.base}/{full_name}"
        open_issues = self.store.open_issue_count(repo["id"])
        shaped: JSON = {
            "id": repo["id"],
            "node_id": node_id("Repository", repo["id"]),
            "name": repo["name"],
            "full_name": full_name,
            "private": bool(repo["private"]),
            "owner": self.simple_user(owner),
            "html_url": html,
            "description": repo["description"],
            "fork": False,
            "url": api,
            "forks_url": f"{api}/forks",
            "keys_url": f"{api}/keys{{/key_id}}",
            "collaborators_url": f"{api}/collaborators{{/collaborator}}",
            "teams_url": f"{api}/teams",
            "hooks_url": f"{api}/hooks",
            "issue_events_url": f"{api}/issues/events{{/number}}",
            "events_url": f"{api}/events",
            "assignees_url": f"{api}/assignees{{/user}}",
            "branches_url": f"{api}/branches{{/branch}}",
            "tags_url": f"{api}/tags",
            "blobs_url": f"{api}/git/blobs{{/sha}}",
            "git_tags_url": f"{api}/git/tags{{/sha}}",
            "git_refs_url": f"{api}/git/refs{{/sha}}",
            "trees_url": f"{api}/git/trees{{/sha}}",
            "statuses_url": f"{api}/statuses/{{sha}}",
            "languages_url": f"{api}/languages",
            "stargazers_url": f"{api}/stargazers",
            "contributors_url": f"{api}/contributors",
            "subscribers_url": f"{api}/subscribers",
            "subscription_url": f"{api}/subscription",
            "commits_url": f"{api}/commits{{/sha}}",
            "git_commits_url": f"{api}/git/commits{{/sha}}",
            "comments_url": f"{api}/comments{{/number}}",
            "issue_comment_url": f"{api}/issues/comments{{/number}}",
            "contents_url": f"{api}/contents/{{+path}}",
            "compare_url": f"{api}/compare/{{base}}...{{head}}",
            "merges_url": f"{api}/merges",
            "archive_url": f"{api}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{api}/downloads",
            "issues_url": f"{api}/issues{{/number}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "milestones_url": f"{api}/milestones{{/number}}",
            "notifications_url": f"{api}/notifications{{?since,all,participating}}",
            "labels_url": f"{api}/labels{{/name}}",
            "releases_url": f"{api}/releases{{/id}}",
            "deployments_url": f"{api}/deployments",
            "created_at": repo["created_at"],
            "updated_at": repo["updated_at"],
            "pushed_at": repo["pushed_at"],
            "git_url": f"{self.base}/{full_name}.git".replace("http://", "git://", 1),
            "ssh_url": f"git@forge.local:{full_name}.git",
            "clone_url": f"{self.base}/{full_name}.git",
            "svn_url": html,
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": "Python",
            "has_issues": True,
            "has_projects": False,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": open_issues,
            "license": None,
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private" if repo["private"] else "public",
            "forks": 0,
            "open_issues": open_issues,
            "watchers": 0,
            "default_branch": repo["default_branch"],
            "master_branch": repo["default_branch"],
            "permissions": self.permissions(viewer_permission),
        }
        if owner is not None and owner["type"] == "Organization":
            shaped["organization"] = self.simple_user(owner)
        if full:
            shaped.update(
                {
                    "temp_clone_token": "",
                    "allow_squash_merge": True,
                    "allow_merge_commit": True,
                    "allow_rebase_merge": False,
                    "allow_auto_merge": False,
                    "delete_branch_on_merge": False,
                    "allow_update_branch": False,
                    "use_squash_pr_title_as_default": False,
                    "squash_merge_commit_message": "COMMIT_MESSAGES",
                    "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
                    "merge_commit_message": "PR_TITLE",
                    "merge_commit_title": "MERGE_MESSAGE",
                    "custom_properties": {},
                    "security_and_analysis": {
                        "secret_scanning": {"status": "disabled"},
                        "secret_scanning_push_protection": {"status": "disabled"},
                        "dependabot_security_updates": {"status": "disabled"},
                        "secret_scanning_non_provider_patterns": {"status": "disabled"},
                        "secret_scanning_validity_checks": {"status": "disabled"},
                    },
                    "network_count": 0,
                    "subscribers_count": 0,
                }
            )
        else:
            self._repos[repo["id"]] = shaped
        return shaped

    @staticmethod
    def permissions(permission: str) -> JSON:
        from .store import PERMISSION_RANK

        rank = PERMISSION_RANK.get(permission, 0)
        return {
            "admin": rank >= 5,
            "maintain": rank >= 4,
            "push": rank >= 3,
            "triage": rank >= 2,
            "pull": rank >= 1,
        }

    # --- labels -----------------------------------------------------------------------

    def label(self, repo: Row, label: Row) -> JSON:
        return {
            "id": label["id"],
            "node_id": node_id("Label", label["id"]),
            "url": f"{self.repo_url(repo)}/labels/{label['name']}",
            "name": label["name"],
            "color": label["color"],
            "default": False,
            "description": label["description"],
        }

    # --- issues -------------------------------------------------------------------------

    def reactions_summary(self, repo: Row, subject: str, subject_id: int, url: str) -> JSON:
        counts = {
            "+1": 0,
            "-1": 0,
            "laugh": 0,
            "hooray": 0,
            "confused": 0,
            "heart": 0,
            "rocket": 0,
            "eyes": 0,
        }
        for reaction in self.store.reactions_of(subject, subject_id):
            counts[reaction["content"]] = counts.get(reaction["content"], 0) + 1
        return {"url": f"{url}/reactions", "total_count": sum(counts.values()), **counts}

    def author_association(self, repo: Row, user_id: int) -> str:
        if user_id == repo["owner_id"]:
            return "OWNER"
        permission = self.store.granted_permission(repo["id"], user_id)
        return "COLLABORATOR" if permission in ("write", "maintain", "admin", "triage") else "NONE"

    def issue(self, repo: Row, issue: Row, single: bool = False) -> JSON:
        api = f"{self.repo_url(repo)}/issues/{issue['number']}"
        html_kind = "pull" if issue["is_pull"] else "issues"
        html = f"{self.base}/{repo['owner_login']}/{repo['name']}/{html_kind}/{issue['number']}"
        assignee = self.simple_user(self.store.user_by_id(issue["assignee_id"]))
        shaped: JSON = {
            "url": api,
            "repository_url": self.repo_url(repo),
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": html,
            "id": issue["id"],
            "node_id": node_id("Issue", issue["id"]),
            "number": issue["number"],
            "title": issue["title"],
            "user": self.simple_user(self.store.user_by_id(issue["user_id"])),
            "labels": [self.label(repo, label) for label in self.store.labels_of(issue["id"])],
            "state": issue["state"],
            "locked": bool(issue["locked"]),
            "assignee": assignee,
            "assignees": [assignee] if assignee else [],
            "milestone": None,
            "comments": self.store.comment_count(issue["id"]),
            "created_at": issue["created_at"],
            "updated_at": issue["updated_at"],
            "closed_at": issue["closed_at"],
            "author_association": self.author_association(repo, issue["user_id"]),
            "type": None,
            "active_lock_reason": issue["lock_reason"],
            "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
            "issue_dependencies_summary": {
                "blocked_by": 0,
                "total_blocked_by": 0,
                "blocking": 0,
                "total_blocking": 0,
            },
            "body": issue["body"],
            "reactions": self.reactions_summary(repo, "issue", issue["id"], api),
            "timeline_url": f"{api}/timeline",
            "performed_via_github_app": None,
            "state_reason": issue["state_reason"],
        }
        if issue["is_pull"]:
            pulls = f"{self.repo_url(repo)}/pulls/{issue['number']}"
            pull = self.store.pull_of_issue(issue["id"]) or {}
            shaped["draft"] = bool(pull.get("draft"))
            shaped["pull_request"] = {
                "url": pulls,
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": pull.get("merged_at"),
            }
        if single:
            shaped["closed_by"] = self.simple_user(self.store.user_by_id(issue["closed_by_id"]))
        return shaped

    def comment(self, repo: Row, comment: Row) -> JSON:
        issue = self.store.issue_by_id(comment["issue_id"])
        assert issue is not None
        api = f"{self.repo_url(repo)}/issues/comments/{comment['id']}"
        kind = "pull" if issue["is_pull"] else "issues"
        return {
            "url": api,
            "html_url": f"{self.base}/{repo['owner_login']}/{repo['name']}/{kind}/{issue['number']}"
            f"#issuecomment-{comment['id']}",
            "issue_url": f"{self.repo_url(repo)}/issues/{issue['number']}",
            "id": comment["id"],
            "node_id": node_id("IssueComment", comment["id"]),
            "user": self.simple_user(self.store.user_by_id(comment["user_id"])),
            "created_at": comment["created_at"],
            "updated_at": comment["updated_at"],
            "author_association": self.author_association(repo, comment["user_id"]),
            "body": comment["body"],
            "reactions": self.reactions_summary(repo, "comment", comment["id"], api),
            "performed_via_github_app": None,
        }

    def event(self, repo: Row, event: Row, with_issue: bool = False) -> JSON:
        shaped: JSON = {
            "id": event["id"],
            "node_id": node_id(event["event"].title().replace("_", "") + "Event", event["id"]),
            "url": f"{self.repo_url(repo)}/issues/events/{event['id']}",
            "actor": self.simple_user(self.store.user_by_id(event["actor_id"])),
            "event": event["event"],
            "commit_id": event["commit_id"],
            "commit_url": (f"{self.repo_url(repo)}/commits/{event['commit_id']}" if event["commit_id"] else None),
            "created_at": event["created_at"],
            "performed_via_github_app": None,
        }
        if event["assignee_id"] is not None:
            shaped["assignee"] = self.simple_user(self.store.user_by_id(event["assignee_id"]))
            shaped["assigner"] = shaped["actor"]
        if event["label_name"] is not None:
            shaped["label"] = {"name": event["label_name"], "color": event["label_color"]}
        if with_issue:
            issue = self.store.issue_by_id(event["issue_id"])
            assert issue is not None
            shaped["issue"] = self.issue(repo, issue)
        return shaped

    def timeline_comment(self, repo: Row, comment: Row) -> JSON:
        shaped = self.comment(repo, comment)
        shaped["event"] = "commented"
        shaped["actor"] = shaped["user"]
        return shaped

    def reaction(self, reaction: Row) -> JSON:
        return {
            "id": reaction["id"],
            "node_id": node_id("Reaction", reaction["id"]),
            "user": self.simple_user(self.store.user_by_id(reaction["user_id"])),
            "content": reaction["content"],
            "created_at": reaction["created_at"],
        }

    # --- pulls ----------------------------------------------------------------------------

    def branch_end(self, repo: Row, ref: str, sha: str) -> JSON:
        return {
            "label": f"{repo['owner_login']}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.simple_user(self.store.user_by_id(repo["owner_id"])),
            "repo": self.repository(repo, full=False),
        }

    def pull(self, repo: Row, issue: Row, pull: Row, stats: JSON | None = None) -> JSON:
        number = issue["number"]
        api = f"{self.repo_url(repo)}/pulls/{number}"
        issue_api = f"{self.repo_url(repo)}/issues/{number}"
        html = f"{self.base}/{repo['owner_login']}/{repo['name']}/pull/{number}"
        assignee = self.simple_user(self.store.user_by_id(issue["assignee_id"]))
        base_sha = stats["base_sha"] if stats else pull["head_sha"]
        shaped: JSON = {
            "url": api,
            "id": issue["id"],
            "node_id": node_id("PullRequest", issue["id"]),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_api,
            "number": number,
            "state": issue["state"],
            "locked": bool(issue["locked"]),
            "title": issue["title"],
            "user": self.simple_user(self.store.user_by_id(issue["user_id"])),
            "body": issue["body"],
            "created_at": issue["created_at"],
            "updated_at": issue["updated_at"],
            "closed_at": issue["closed_at"],
            "merged_at": pull["merged_at"],
            "merge_commit_sha": pull["merge_commit_sha"] or pull["head_sha"],
            "assignee": assignee,
            "assignees": [assignee] if assignee else [],
            "requested_reviewers": [],
            "requested_teams": [],
            "labels": [self.label(repo, label) for label in self.store.labels_of(issue["id"])],
            "milestone": None,
            "draft": bool(pull["draft"]),
            "commits_url": f"{api}/commits",
            "review_comments_url": f"{api}/comments",
            "review_comment_url": f"{self.repo_url(repo)}/pulls/comments{{/number}}",
            "comments_url": f"{issue_api}/comments",
            "statuses_url": f"{self.repo_url(repo)}/statuses/{pull['head_sha']}",
            "head": self.branch_end(repo, pull["head_ref"], pull["head_sha"]),
            "base": self.branch_end(repo, pull["base_ref"], base_sha),
            "_links": {
                "self": {"href": api},
                "html": {"href": html},
                "issue": {"href": issue_api},
                "comments": {"href": f"{issue_api}/comments"},
                "review_comments": {"href": f"{api}/comments"},
                "review_comment": {"href": f"{self.repo_url(repo)}/pulls/comments{{/number}}"},
                "commits": {"href": f"{api}/commits"},
                "statuses": {"href": f"{self.repo_url(repo)}/statuses/{pull['head_sha']}"},
            },
            "author_association": self.author_association(repo, issue["user_id"]),
            "auto_merge": None,
            "active_lock_reason": issue["lock_reason"],
        }
        if stats is not None:
            merged_by = self.simple_user(self.store.user_by_id(pull["merged_by_id"]))
            shaped.update(
                {
                    "merged": bool(pull["merged"]),
                    "mergeable": stats["mergeable"],
                    "rebaseable": False,
                    "mergeable_state": "clean" if stats["mergeable"] else "dirty",
                    "merged_by": merged_by,
                    "comments": self.store.comment_count(issue["id"]),
                    "review_comments": self.store.review_comment_count(issue["id"]),
                    "maintainer_can_modify": bool(pull["maintainer_can_modify"]),
                    "commits": stats["commits"],
                    "additions": stats["additions"],
                    "deletions": stats["deletions"],
                    "changed_files": stats["changed_files"],
                }
            )
        return shaped

    def pull_file(self, repo: Row, head_sha: str, change: FileChange) -> JSON:
        html = f"{self.base}/{repo['owner_login']}/{repo['name']}"
        return {
            "sha": change.sha,
            "filename": change.filename,
            "status": change.status,
            "additions": change.additions,
            "deletions": change.deletions,
            "changes": change.additions + change.deletions,
            "blob_url": f"{html}/blob/{head_sha}/{change.filename}",
            "raw_url": f"{html}/raw/{head_sha}/{change.filename}",
            "contents_url": f"{self.repo_url(repo)}/contents/{change.filename}?ref={head_sha}",
            "patch": change.patch,
        }

    def commit(self, repo: Row, info: CommitInfo) -> JSON:
        api = f"{self.repo_url(repo)}/commits/{info.sha}"
        author = self.simple_user(self.store.user_by_email(info.author_email))
        committer = self.simple_user(self.store.user_by_email(info.committer_email))
        return {
            "sha": info.sha,
            "node_id": node_id("Commit", info.sha),
            "commit": {
                "author": {
                    "name": info.author_name,
                    "email": info.author_email,
                    "date": _iso(info.author_date),
                },
                "committer": {
                    "name": info.committer_name,
                    "email": info.committer_email,
                    "date": _iso(info.committer_date),
                },
                "message": info.message,
                "tree": {"sha": info.tree, "url": f"{self.repo_url(repo)}/git/trees/{info.tree}"},
                "url": f"{self.repo_url(repo)}/git/commits/{info.sha}",
                "comment_count": 0,
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "url": api,
            "html_url": f"{self.base}/{repo['owner_login']}/{repo['name']}/commit/{info.sha}",
            "comments_url": f"{api}/comments",
            "author": author,
            "committer": committer,
            "parents": [
                {
                    "sha": p,
                    "url": f"{self.repo_url(repo)}/commits/{p}",
                    "html_url": f"{self.base}/{repo['owner_login']}/{repo['name']}/commit/{p}",
                }
                for p in info.parents
            ],
        }

    def review(self, repo: Row, issue: Row, review: Row) -> JSON:
        html = f"{self.base}/{repo['owner_login']}/{repo['name']}/pull/{issue['number']}"
        api = f"{self.repo_url(repo)}/pulls/{issue['number']}"
        return {
            "id": review["id"],
            "node_id": node_id("PullRequestReview", review["id"]),
            "user": self.simple_user(self.store.user_by_id(review["user_id"])),
            "body": review["body"],
            "state": review["state"],
            "html_url": f"{html}#pullrequestreview-{review['id']}",
            "pull_request_url": api,
            "author_association": self.author_association(repo, review["user_id"]),
            "_links": {
                "html": {"href": f"{html}#pullrequestreview-{review['id']}"},
                "pull_request": {"href": api},
            },
            "submitted_at": review["submitted_at"],
            "commit_id": review["commit_id"],
        }

    def review_comment(self, repo: Row, issue: Row, comment: Row) -> JSON:
        api = f"{self.repo_url(repo)}/pulls/comments/{comment['id']}"
        pull_api = f"{self.repo_url(repo)}/pulls/{issue['number']}"
        html = f"{self.base}/{repo['owner_login']}/{repo['name']}/pull/{issue['number']}#discussion_r{comment['id']}"
        return {
            "url": api,
            "pull_request_review_id": comment["review_id"],
            "id": comment["id"],
            "node_id": node_id("PullRequestReviewComment", comment["id"]),
            "diff_hunk": f"@@ -{comment['line']},1 +{comment['line']},1 @@",
            "path": comment["path"],
            "position": comment["line"],
            "original_position": comment["line"],
            "commit_id": comment["commit_id"],
            "original_commit_id": comment["commit_id"],
            "user": self.simple_user(self.store.user_by_id(comment["user_id"])),
            "body": comment["body"],
            "created_at": comment["created_at"],
            "updated_at": comment["updated_at"],
            "html_url": html,
            "pull_request_url": pull_api,
            "author_association": self.author_association(repo, comment["user_id"]),
            "_links": {"self": {"href": api}, "html": {"href": html}, "pull_request": {"href": pull_api}},
            "reactions": self.reactions_summary(repo, "review_comment", comment["id"], api),
            "start_line": None,
            "original_start_line": None,
            "start_side": None,
            "line": comment["line"],
            "original_line": comment["line"],
            "side": comment["side"],
            "subject_type": "line",
            "performed_via_github_app": None,
        }

    # --- git refs and branches ------------------------------------------------------------

    def ref(self, repo: Row, ref: str, sha: str) -> JSON:
        return {
            "ref": ref,
            "node_id": node_id("Ref", ref),
            "url": f"{self.repo_url(repo)}/git/{ref}",
            "object": {"sha": sha, "type": "commit", "url": f"{self.repo_url(repo)}/git/commits/{sha}"},
        }

    def branch(self, repo: Row, name: str, info: CommitInfo, protected: bool = False) -> JSON:
        html = f"{self.base}/{repo['owner_login']}/{repo['name']}"
        return {
            "name": name,
            "commit": self.commit(repo, info),
            "_links": {"self": f"{self.repo_url(repo)}/branches/{name}", "html": f"{html}/tree/{name}"},
            "protected": protected,
            "protection": {
                "enabled": False,
                "required_status_checks": {"enforcement_level": "off", "contexts": []},
            },
            "protection_url": f"{self.repo_url(repo)}/branches/{name}/protection",
        }

    def short_branch(self, repo: Row, name: str, sha: str) -> JSON:
        return {
            "name": name,
            "commit": {"sha": sha, "url": f"{self.repo_url(repo)}/commits/{sha}"},
            "protected": False,
        }

    # --- CI: statuses and check runs ------------------------------------------------------

    def status(self, repo: Row, status: Row) -> JSON:
        creator = self.simple_user(self.store.user_by_id(status["creator_id"]))
        return {
            "url": f"{self.repo_url(repo)}/statuses/{status['sha']}",
            "avatar_url": (creator or {}).get("avatar_url", ""),
            "id": status["id"],
            "node_id": node_id("StatusContext", status["id"]),
            "state": status["state"],
            "description": status["description"],
            "target_url": status["target_url"],
            "context": status["context"],
            "created_at": status["created_at"],
            "updated_at": status["created_at"],
            "creator": creator,
        }

    def combined_status(self, repo: Row, sha: str, statuses: list[Row]) -> JSON:
        states = [s["state"] for s in statuses]
        if any(s in ("error", "failure") for s in states):
            state = "failure"
        elif not states or any(s == "pending" for s in states):
            state = "pending"
        else:
            state = "success"
        return {
            "state": state,
            "statuses": [self.status(repo, s) for s in statuses],
            "sha": sha,
            "total_count": len(statuses),
            "repository": self.repository(repo, full=False),
            "commit_url": f"{self.repo_url(repo)}/commits/{sha}",
            "url": f"{self.repo_url(repo)}/commits/{sha}/status",
        }

    def forge_app(self) -> JSON:
        owner = {
            "login": "forge",
            "id": 0,
            "node_id": node_id("Organization", 0),
            "avatar_url": f"{self.base}/_forge/avatars/forge",
            "gravatar_id": "",
            "url": f"{self.base}/users/forge",
            "html_url": f"{self.base}/forge",
            "followers_url": f"{self.base}/users/forge/followers",
            "following_url": f"{self.base}/users/forge/following{{/other_user}}",
            "gists_url": f"{self.base}/users/forge/gists{{/gist_id}}",
            "starred_url": f"{self.base}/users/forge/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{self.base}/users/forge/subscriptions",
            "organizations_url": f"{self.base}/users/forge/orgs",
            "repos_url": f"{self.base}/users/forge/repos",
            "events_url": f"{self.base}/users/forge/events{{/privacy}}",
            "received_events_url": f"{self.base}/users/forge/received_events",
            "type": "Organization",
            "user_view_type": "public",
            "site_admin": False,
        }
        return {
            "id": 1,
            "client_id": "Iv1.forge",
            "slug": "forge-ci",
            "node_id": node_id("App", 1),
            "owner": owner,
            "name": "Forge CI",
            "description": "Check runs posted to the local GitHub stand-in",
            "external_url": self.base,
            "html_url": f"{self.base}/apps/forge-ci",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "permissions": {
                name: "write"
                for name in (
                    "actions",
                    "administration",
                    "attestations",
                    "checks",
                    "contents",
                    "deployments",
                    "discussions",
                    "issues",
                    "merge_queues",
                    "metadata",
                    "packages",
                    "pages",
                    "pull_requests",
                    "repository_hooks",
                    "repository_projects",
                    "security_events",
                    "statuses",
                    "vulnerability_alerts",
                    "workflows",
                )
            },
            "events": ["check_run", "check_suite", "pull_request", "push"],
        }

    def check_run(self, repo: Row, run: Row) -> JSON:
        api = f"{self.repo_url(repo)}/check-runs/{run['id']}"
        html = f"{self.base}/{repo['owner_login']}/{repo['name']}/runs/{run['id']}"
        suite_id = int(hashlib.sha1(run["head_sha"].encode()).hexdigest()[:8], 16)
        pulls = self.store.pulls_at_sha(repo["id"], run["head_sha"])
        light_repo = {"id": repo["id"], "url": self.repo_url(repo), "name": repo["name"]}
        return {
            "id": run["id"],
            "name": run["name"],
            "node_id": node_id("CheckRun", run["id"]),
            "head_sha": run["head_sha"],
            "external_id": run["external_id"] or "",
            "url": api,
            "html_url": html,
            "details_url": run["details_url"] or html,
            "status": run["status"],
            "conclusion": run["conclusion"],
            "started_at": run["started_at"],
            "completed_at": run["completed_at"],
            "output": {
                "title": run["title"],
                "summary": run["summary"],
                "text": run["text"],
                "annotations_count": 0,
                "annotations_url": f"{api}/annotations",
            },
            "check_suite": {"id": suite_id},
            "app": self.forge_app(),
            "pull_requests": [
                {
                    "url": f"{self.repo_url(repo)}/pulls/{p['number']}",
                    "id": p["number"],
                    "number": p["number"],
                    "head": {"ref": p["head_ref"], "sha": p["head_sha"], "repo": light_repo},
                    "base": {"ref": p["base_ref"], "sha": p["head_sha"], "repo": light_repo},
                }
                for p in pulls
            ],
        }

    # --- rate limit and errors --------------------------------------------------------------

    @staticmethod
    def rate_limit(limit: int, remaining: int, reset: int, used: int) -> JSON:
        core = {"limit": limit, "remaining": remaining, "reset": reset, "used": used, "resource": "core"}
        other = {"limit": limit, "remaining": limit, "reset": reset, "used": 0}
        names = (
            "search",
            "graphql",
            "integration_manifest",
            "source_import",
            "code_scanning_upload",
            "code_scanning_autofix",
            "actions_runner_registration",
            "scim",
            "dependency_snapshots",
            "dependency_sbom",
            "audit_log",
            "audit_log_streaming",
            "code_search",
        )
        resources = {"core": core, **{n: {**other, "resource": n} for n in names}}
        return {"resources": resources, "rate": core}


def error(message: str, status: int, errors: list[JSON] | None = None, doc: str = "rest") -> JSON:
    shaped: JSON = {
        "message": message,
        "documentation_url": f"https://docs.github.com/{doc}",
        "status": str(status),
    }
    if errors is not None:
        shaped["errors"] = errors
    return shaped


def etag_of(body: bytes) -> str:
    return 'W/"' + hashlib.sha256(body).hexdigest()[:40] + '"'


__all__ = ["JSON", "Shapes", "error", "etag_of", "node_id"]
