"""What GitHub does when asked: permissions, validation and side effects, independent of HTTP and of SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .gitrepo import BareRepo, CommitInfo, GitError
from .store import PERMISSION_RANK, Row, Store, now_iso

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
REVIEW_EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
STATUS_STATES = ("error", "failure", "pending", "success")
CHECK_CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


@dataclass
class ApiError(Exception):
    status: int
    message: str
    errors: list[dict[str, Any]] | None = None
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.message}"


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def validation(resource: str, field: str, code: str = "invalid", message: str | None = None) -> ApiError:
    default = f"{field} is {code.replace('_', ' ')}" if field else code
    err: dict[str, Any] = {"resource": resource, "field": field, "code": code, "message": message or default}
    return ApiError(422, "Validation Failed", [err])


class Service:
    def __init__(self, store: Store, git_root: Path) -> None:
        self.store = store
        self.git_root = git_root

    # --- access -------------------------------------------------------------------------

    def git(self, repo: Row) -> BareRepo:
        return BareRepo(self.git_root / repo["owner_login"] / f"{repo['name']}.git")

    def find_repo(self, owner: str, name: str, actor: Row | None) -> Row:
        repo = self.store.repo(owner, name)
        if repo is None or PERMISSION_RANK[self.store.permission(repo, actor)] < PERMISSION_RANK["read"]:
            raise not_found()
        return repo

    def require(self, repo: Row, actor: Row | None, needed: str) -> None:
        if actor is None:
            raise ApiError(401, "Requires authentication")
        have = self.store.permission(repo, actor)
        if PERMISSION_RANK[have] < PERMISSION_RANK[needed]:
            raise ApiError(403, "Resource not accessible by personal access token")

    def find_issue(self, repo: Row, number: int) -> Row:
        issue = self.store.issue(repo["id"], number)
        if issue is None:
            raise not_found()
        return issue

    def find_pull(self, repo: Row, number: int) -> tuple[Row, Row]:
        issue = self.find_issue(repo, number)
        pull = self.store.pull_of_issue(issue["id"])
        if pull is None:
            raise not_found()
        return issue, pull

    # --- repositories -------------------------------------------------------------------

    def create_repo(
        self,
        owner: Row,
        name: str,
        description: str | None = None,
        private: bool = False,
        default_branch: str = "main",
        files: dict[str, str] | None = None,
    ) -> Row:
        if not NAME_RE.match(name):
            raise validation("Repository", "name", "custom", "name is invalid")
        if self.store.repo(owner["login"], name) is not None:
            raise validation("Repository", "name", "custom", "name already exists on this account")
        repo = self.store.create_repo(owner["id"], name, description, private, default_branch)
        bare = self.git(repo)
        bare.init(default_branch)
        bare.import_files(default_branch, files or {"README.md": f"# {name}\n"}, "Initial commit")
        self.store.bump()
        return repo

    def grant(self, repo: Row, user: Row, permission: str) -> None:
        self.store.set_permission(repo["id"], user["id"], permission)

    def after_push(self, repo: Row) -> None:
        """A push moved refs: open pulls follow their head branch, as on GitHub."""
        refs = self.git(repo).refs("refs/heads/")
        now = now_iso()
        with self.store.tx():
            self.store.mark_pushed(repo["id"], now)
            for pull in self.store.open_pull_heads(repo["id"]):
                new_sha = refs.get(f"refs/heads/{pull['head_ref']}")
                if new_sha and new_sha != pull["head_sha"]:
                    self.store.move_pull_head(pull["issue_id"], new_sha, now)

    # --- issues -------------------------------------------------------------------------

    def create_issue(
        self,
        repo: Row,
        actor: Row,
        title: str,
        body: str | None = None,
        labels: list[str] | None = None,
        assignee: str | None = None,
    ) -> Row:
        self.require(repo, actor, "read")
        if not isinstance(title, str) or not title.strip():
            raise validation("Issue", "title", "missing_field")
        can_triage = PERMISSION_RANK[self.store.permission(repo, actor)] >= PERMISSION_RANK["triage"]
        assignee_row = self.store.user(assignee) if assignee and can_triage else None
        assignee_id = assignee_row["id"] if assignee_row else None
        with self.store.tx():
            issue_id = self.store.insert_issue(repo["id"], actor["id"], title, body, now_iso(), assignee_id)
            # GitHub silently drops labels from people who may not triage.
            for name in (labels or []) if can_triage else []:
                self._attach_label(repo, issue_id, actor, name)
        return self.store.issue_by_id(issue_id) or {}

    def edit_issue(self, repo: Row, issue: Row, actor: Row, changes: dict[str, Any]) -> Row:
        is_author = issue["user_id"] == actor["id"]
        if not is_author:
            self.require(repo, actor, "triage")
        now = now_iso()
        # One transaction: a change refused half-way (an empty title, an unknown state) leaves the issue as it was.
        with self.store.tx():
            self._edit_text(issue, changes)
            if "state" in changes and changes["state"] != issue["state"]:
                self._change_state(issue, actor, changes, now)
            if "labels" in changes and changes["labels"] is not None:
                self._set_labels(repo, issue["id"], actor, list(changes["labels"]))
            if "assignee" in changes or "assignees" in changes:
                self._assign(issue, actor, changes.get("assignee") or (changes.get("assignees") or [None])[0])
            self.store.touch_issue(issue["id"], now)
        return self.store.issue_by_id(issue["id"]) or {}

    def _edit_text(self, issue: Row, changes: dict[str, Any]) -> None:
        for field in ("title", "body"):
            if field in changes:
                if field == "title" and not str(changes[field] or "").strip():
                    raise validation("Issue", "title", "missing_field")
                self.store.set_issue_text(issue["id"], field, changes[field])

    def _change_state(self, issue: Row, actor: Row, changes: dict[str, Any], now: str) -> None:
        state = changes["state"]
        if state not in ("open", "closed"):
            raise validation("Issue", "state", "invalid")
        if state == "closed":
            self.store.close_issue(issue["id"], changes.get("state_reason") or "completed", actor["id"], now)
            self.store.add_event(issue["id"], actor["id"], "closed")
        else:
            self.store.reopen_issue(issue["id"])
            self.store.add_event(issue["id"], actor["id"], "reopened")

    def _assign(self, issue: Row, actor: Row, login: str | None) -> None:
        user = self.store.user(login) if login else None
        self.store.set_assignee(issue["id"], user["id"] if user else None)
        if user is not None:
            self.store.add_event(issue["id"], actor["id"], "assigned", assignee_id=user["id"])

    def lock(self, repo: Row, issue: Row, actor: Row, reason: str | None, locked: bool) -> None:
        self.require(repo, actor, "triage")
        with self.store.tx():
            self.store.set_lock(issue["id"], locked, reason)
            self.store.add_event(issue["id"], actor["id"], "locked" if locked else "unlocked")
            self.store.touch_issue(issue["id"])

    # --- labels -----------------------------------------------------------------------

    def create_label(self, repo: Row, actor: Row, name: str, color: str, description: str | None) -> Row:
        self.require(repo, actor, "write")
        if not name:
            raise validation("Label", "name", "missing_field")
        if not re.fullmatch(r"[0-9a-fA-F]{6}", color or ""):
            raise validation("Label", "color", "invalid")
        if self.store.label(repo["id"], name):
            raise validation("Label", "name", "already_exists")
        self.store.insert_label(repo["id"], name, color.lower(), description)
        return self.store.label(repo["id"], name) or {}

    def edit_label(self, repo: Row, actor: Row, label: Row, changes: dict[str, Any]) -> Row:
        self.require(repo, actor, "write")
        name = changes.get("new_name") or changes.get("name") or label["name"]
        color = changes.get("color", label["color"])
        self.store.update_label(label["id"], name, color, changes.get("description", label["description"]))
        return self.store.label(repo["id"], name) or {}

    def delete_label(self, repo: Row, actor: Row, label: Row) -> None:
        self.require(repo, actor, "write")
        self.store.delete_label(label["id"])

    def _attach_label(self, repo: Row, issue_id: int, actor: Row, name: str) -> None:
        label_id = self.store.ensure_label(repo["id"], name)
        if not self.store.attach_label(issue_id, label_id):
            return
        label = self.store.label_by_id(label_id) or {}
        self.store.add_event(issue_id, actor["id"], "labeled", label_name=label["name"], label_color=label["color"])
        self.store.touch_issue(issue_id)

    def _detach_label(self, issue_id: int, actor: Row, label: Row) -> bool:
        removed = self.store.detach_label(issue_id, label["id"])
        if removed:
            self.store.add_event(
                issue_id, actor["id"], "unlabeled", label_name=label["name"], label_color=label["color"]
            )
            self.store.touch_issue(issue_id)
        return removed

    def _set_labels(self, repo: Row, issue_id: int, actor: Row, names: list[str]) -> None:
        wanted = {n.lower() for n in names}
        for label in self.store.labels_of(issue_id):
            if label["name"].lower() not in wanted:
                self._detach_label(issue_id, actor, label)
        for name in names:
            self._attach_label(repo, issue_id, actor, name)

    def add_labels(self, repo: Row, issue: Row, actor: Row, names: list[str]) -> None:
        self.require(repo, actor, "triage")
        with self.store.tx():
            for name in names:
                self._attach_label(repo, issue["id"], actor, name)

    def set_labels(self, repo: Row, issue: Row, actor: Row, names: list[str]) -> None:
        self.require(repo, actor, "triage")
        with self.store.tx():
            self._set_labels(repo, issue["id"], actor, names)

    def remove_label(self, repo: Row, issue: Row, actor: Row, name: str) -> None:
        self.require(repo, actor, "triage")
        label = self.store.label(repo["id"], name)
        with self.store.tx():
            if label is None or not self._detach_label(issue["id"], actor, label):
                raise ApiError(404, "Label does not exist")

    # --- comments and reactions ---------------------------------------------------------

    def comment(self, repo: Row, issue: Row, actor: Row, body: str) -> Row:
        self.require(repo, actor, "read")
        if not isinstance(body, str) or not body:
            raise validation("IssueComment", "body", "missing_field")
        if issue["locked"] and PERMISSION_RANK[self.store.permission(repo, actor)] < PERMISSION_RANK["write"]:
            raise ApiError(403, "Unable to create comment because issue is locked.")
        with self.store.tx():
            comment_id = self.store.insert_comment(issue["id"], actor["id"], body, now_iso())
            self.store.touch_issue(issue["id"])
        return self.store.comment_by_id(comment_id) or {}

    def find_comment(self, repo: Row, comment_id: int) -> Row:
        comment = self.store.comment_in_repo(repo["id"], comment_id)
        if comment is None:
            raise not_found()
        return comment

    def edit_comment(self, repo: Row, comment: Row, actor: Row, body: str) -> Row:
        if comment["user_id"] != actor["id"]:
            self.require(repo, actor, "write")
        self.store.update_comment(comment["id"], body, now_iso())
        return self.find_comment(repo, comment["id"])

    def react(self, repo: Row, subject: str, subject_id: int, actor: Row, content: str) -> tuple[Row, bool]:
        """Returns the reaction and whether it is new (GitHub answers 200 for an existing one, 201 for new)."""
        self.require(repo, actor, "read")
        if content not in REACTIONS:
            raise validation("Reaction", "content", "invalid")
        existing = self.store.find_reaction(subject, subject_id, actor["id"], content)
        if existing:
            return existing, False
        with self.store.tx():
            reaction_id = self.store.insert_reaction(subject, subject_id, actor["id"], content, now_iso())
            if subject == "issue":
                self.store.touch_issue(subject_id)
        return self.store.reaction_by_id(reaction_id) or {}, True

    # --- refs ---------------------------------------------------------------------------

    def create_ref(self, repo: Row, actor: Row, ref: str, sha: str) -> None:
        self.require(repo, actor, "write")
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.")
        bare = self.git(repo)
        if bare.ref_sha(ref):
            raise ApiError(422, "Reference already exists")
        try:
            bare.update_ref(ref, sha)
        except GitError as exc:
            raise ApiError(422, "Object does not exist") from exc
        self.after_push(repo)

    def update_ref(self, repo: Row, actor: Row, ref: str, sha: str, force: bool) -> None:
        self.require(repo, actor, "write")
        bare = self.git(repo)
        current = bare.ref_sha(ref)
        if current is None:
            raise ApiError(422, "Reference does not exist")
        if not force and bare.merge_base(current, sha) != current:
            raise ApiError(422, "Update is not a fast forward")
        bare.update_ref(ref, sha)
        self.after_push(repo)

    def delete_ref(self, repo: Row, actor: Row, ref: str) -> None:
        self.require(repo, actor, "write")
        bare = self.git(repo)
        if bare.ref_sha(ref) is None:
            raise ApiError(422, "Reference does not exist")
        bare.delete_ref(ref)
        self.store.bump()

    # --- pulls ----------------------------------------------------------------------------

    def create_pull(
        self,
        repo: Row,
        actor: Row,
        title: str,
        head: str,
        base: str,
        body: str | None,
        draft: bool,
        maintainer_can_modify: bool = True,
    ) -> Row:
        self.require(repo, actor, "read")
        head_ref = head.split(":", 1)[1] if ":" in head else head  # `owner:branch` or `branch`
        head_sha = self._check_new_pull(repo, title, head_ref, base)
        with self.store.tx():
            issue_id = self.store.insert_issue(repo["id"], actor["id"], title, body, now_iso(), is_pull=True)
            self.store.insert_pull(issue_id, head_ref, head_sha, base, draft, maintainer_can_modify)
        return self.store.issue_by_id(issue_id) or {}

    def _check_new_pull(self, repo: Row, title: str, head_ref: str, base: str) -> str:
        """The head's sha, once GitHub's checks pass: both branches exist, a title, no twin, some commits."""
        bare = self.git(repo)
        head_sha = bare.ref_sha(f"refs/heads/{head_ref}")
        base_sha = bare.ref_sha(f"refs/heads/{base}")
        if base_sha is None:
            raise validation("PullRequest", "base", "invalid")
        if head_sha is None:
            raise validation("PullRequest", "head", "invalid")
        if not title:
            raise validation("PullRequest", "title", "missing_field")
        if self.store.open_pull_number(repo["id"], head_ref, base) is not None:
            message = f"A pull request already exists for {repo['owner_login']}:{head_ref}."
            raise validation("PullRequest", "", "custom", message)
        if not bare.commits_between(base_sha, head_sha):
            raise validation("PullRequest", "", "custom", f"No commits between {base} and {head_ref}")
        return head_sha

    def edit_pull(self, repo: Row, issue: Row, pull: Row, actor: Row, changes: dict[str, Any]) -> None:
        issue_changes = {k: v for k, v in changes.items() if k in ("title", "body", "state")}
        if issue_changes:
            self.edit_issue(repo, issue, actor, issue_changes)
        if "base" in changes:
            self.require(repo, actor, "write")
            if self.git(repo).ref_sha(f"refs/heads/{changes['base']}") is None:
                raise validation("PullRequest", "base", "invalid")
            self.store.set_pull_base(issue["id"], changes["base"])
        if "draft" in changes:
            self.store.set_pull_draft(issue["id"], bool(changes["draft"]))

    def pull_stats(self, repo: Row, pull: Row) -> dict[str, Any]:
        bare = self.git(repo)
        base_sha = bare.ref_sha(f"refs/heads/{pull['base_ref']}") or pull["head_sha"]
        if pull["merged"]:
            start = bare.merge_base(f"{pull['merge_commit_sha']}^1", pull["head_sha"]) or base_sha
        else:
            start = base_sha
        changes = bare.changed_files(start, pull["head_sha"])
        return {
            "base_sha": base_sha,
            "commits": len(bare.commits_between(start, pull["head_sha"])),
            "additions": sum(c.additions for c in changes),
            "deletions": sum(c.deletions for c in changes),
            "changed_files": len(changes),
            "mergeable": None if pull["merged"] else bare.mergeable(base_sha, pull["head_sha"]),
        }

    def pull_commits(self, repo: Row, pull: Row) -> list[CommitInfo]:
        bare = self.git(repo)
        base = self._pull_start(repo, pull)
        return bare.commits_between(base, pull["head_sha"])

    def pull_files(self, repo: Row, pull: Row) -> list[Any]:
        return self.git(repo).changed_files(self._pull_start(repo, pull), pull["head_sha"])

    def _pull_start(self, repo: Row, pull: Row) -> str:
        bare = self.git(repo)
        if pull["merged"]:
            return f"{pull['merge_commit_sha']}^1"
        return bare.ref_sha(f"refs/heads/{pull['base_ref']}") or pull["head_sha"]

    def merge(
        self,
        repo: Row,
        issue: Row,
        pull: Row,
        actor: Row,
        sha: str | None,
        title: str | None,
        message: str | None,
        method: str,
    ) -> str:
        self.require(repo, actor, "write")
        if pull["merged"] or issue["state"] != "open":
            raise ApiError(405, "Pull Request is not mergeable")
        if sha and sha != pull["head_sha"]:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        if pull["draft"]:
            raise ApiError(405, "Pull Request is still a draft")
        headline = title or f"Merge pull request #{issue['number']} from {repo['owner_login']}/{pull['head_ref']}"
        merge_sha = self._merge_commit(repo, pull, actor, headline + ("\n\n" + message if message else ""), method)
        now = now_iso()
        with self.store.tx():
            self.store.mark_merged(issue["id"], actor["id"], merge_sha, now)
            self.store.add_event(issue["id"], actor["id"], "merged", commit_id=merge_sha)
            self.store.add_event(issue["id"], actor["id"], "closed", commit_id=merge_sha)
            self._close_referenced_issues(repo, issue, actor, now)
        self.after_push(repo)
        return merge_sha

    def _merge_commit(self, repo: Row, pull: Row, actor: Row, message: str, method: str) -> str:
        """Merges in git, authored by the user who merged and committed by the forge, as GitHub does."""
        identity = {
            "GIT_AUTHOR_NAME": actor["name"] or actor["login"],
            "GIT_AUTHOR_EMAIL": actor["email"] or f"{actor['login']}@forge.local",
            "GIT_COMMITTER_NAME": "Forge",
            "GIT_COMMITTER_EMAIL": "noreply@forge.local",
        }
        try:
            return self.git(repo).merge(pull["base_ref"], pull["head_sha"], message, method, identity)
        except GitError as exc:
            raise ApiError(405, "Pull Request is not mergeable") from exc

    def _close_referenced_issues(self, repo: Row, pull_issue: Row, actor: Row, now: str) -> None:
        """`Closes #N` in a merged PR's body closes issue N, as on GitHub."""
        body = pull_issue["body"] or ""
        for number in re.findall(r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s+#(\d+)", body):
            issue = self.store.issue(repo["id"], int(number))
            if issue and not issue["is_pull"] and issue["state"] == "open":
                self.store.close_issue(issue["id"], "completed", actor["id"], now)
                self.store.touch_issue(issue["id"], now)
                self.store.add_event(issue["id"], actor["id"], "closed")

    # --- reviews ---------------------------------------------------------------------------

    def review(
        self,
        repo: Row,
        issue: Row,
        pull: Row,
        actor: Row,
        event: str,
        body: str,
        comments: list[dict[str, Any]] | None = None,
        commit_id: str | None = None,
    ) -> Row:
        self.require(repo, actor, "read")
        state = self._review_state(issue, actor, event, body, comments)
        now = now_iso()
        commit = commit_id or pull["head_sha"]
        with self.store.tx():
            review_id = self.store.insert_review(issue["id"], actor["id"], body or "", state, commit, now)
            for c in comments or []:
                line = int(c.get("line") or c.get("position") or 1)
                path, side = c.get("path", ""), c.get("side", "RIGHT")
                self.store.insert_review_comment(
                    issue["id"], review_id, actor["id"], c.get("body", ""), path, line, side, commit, now
                )
            self.store.add_event(issue["id"], actor["id"], "reviewed")
            self.store.touch_issue(issue["id"])
        return self.store.review_by_id(review_id) or {}

    @staticmethod
    def _review_state(issue: Row, actor: Row, event: str, body: str, comments: list[dict[str, Any]] | None) -> str:
        """The review's state for `event`, refused as GitHub does: an empty critique, approving oneself."""
        state = REVIEW_EVENTS.get(event or "")
        if state is None:
            raise validation("PullRequestReview", "event", "invalid")
        if state in ("CHANGES_REQUESTED", "COMMENTED") and not body and not comments:
            raise ApiError(422, "Unprocessable Entity", [{"message": "Review body is required"}])
        if issue["user_id"] == actor["id"] and state != "COMMENTED":
            raise ApiError(422, "Unprocessable Entity", [{"message": "Can not approve your own pull request"}])
        return state

    # --- CI -------------------------------------------------------------------------------

    def resolve_sha(self, repo: Row, ref: str) -> str:
        bare = self.git(repo)
        for candidate in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}"):
            sha = bare.ref_sha(candidate)
            if sha:
                return sha
        raise ApiError(422, f"No commit found for SHA: {ref}")

    def create_status(self, repo: Row, actor: Row, sha: str, fields: dict[str, Any]) -> Row:
        self.require(repo, actor, "write")
        state = fields.get("state")
        if state not in STATUS_STATES:
            raise validation("Status", "state", "custom", f"state is not included in the list: {state}")
        full_sha = self.resolve_sha(repo, sha)
        with self.store.tx():
            status_id = self.store.insert_status(
                repo["id"],
                full_sha,
                state,
                fields.get("context") or "default",
                fields.get("description"),
                fields.get("target_url"),
                actor["id"],
                now_iso(),
            )
            self.store.touch_pulls_at(repo["id"], full_sha, now_iso())
        return self.store.status_by_id(status_id) or {}

    def latest_statuses(self, repo: Row, sha: str) -> list[Row]:
        """The newest status per context, as in GitHub's combined status."""
        return self.store.latest_statuses(repo["id"], sha)

    def create_check_run(self, repo: Row, actor: Row, fields: dict[str, Any]) -> Row:
        self.require(repo, actor, "write")
        if not fields.get("name"):
            raise validation("CheckRun", "name", "missing_field")
        sha = self.resolve_sha(repo, str(fields.get("head_sha") or ""))
        status, conclusion = self._check_state(fields)
        now = now_iso()
        output = fields.get("output") or {}
        with self.store.tx():
            run_id = self.store.insert_check_run(
                repo["id"],
                sha,
                fields["name"],
                status=status,
                conclusion=conclusion,
                started_at=fields.get("started_at") or now,
                completed_at=fields.get("completed_at") or (now if status == "completed" else None),
                title=output.get("title"),
                summary=output.get("summary"),
                text=output.get("text"),
                external_id=fields.get("external_id"),
                details_url=fields.get("details_url"),
            )
            self.store.touch_pulls_at(repo["id"], sha, now_iso())
        return self.store.check_run_by_id(run_id) or {}

    def update_check_run(self, repo: Row, actor: Row, run: Row, fields: dict[str, Any]) -> Row:
        self.require(repo, actor, "write")
        merged = {"status": run["status"], "conclusion": run["conclusion"], **fields}
        status, conclusion = self._check_state(merged)
        with self.store.tx():
            self.store.update_check_run(run["id"], status, conclusion, now_iso() if status == "completed" else None)
            self.store.touch_pulls_at(repo["id"], run["head_sha"], now_iso())
        return self.store.check_run_by_id(run["id"]) or {}

    @staticmethod
    def _check_state(fields: dict[str, Any]) -> tuple[str, str | None]:
        conclusion = fields.get("conclusion")
        status = fields.get("status") or ("completed" if conclusion else "queued")
        if status not in ("queued", "in_progress", "completed"):
            raise validation("CheckRun", "status", "invalid")
        if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
            raise validation("CheckRun", "conclusion", "invalid")
        if status == "completed" and conclusion is None:
            raise validation("CheckRun", "conclusion", "missing_field")
        return status, conclusion
