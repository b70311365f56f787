"""What GitHub does when asked: permissions, validation and side effects, independent of HTTP."""

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
        pull = self.store.one("SELECT * FROM pulls WHERE issue_id = ?", issue["id"])
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
        with self.store.tx() as db:
            db.execute("UPDATE repos SET pushed_at = ?, updated_at = ? WHERE id = ?", (now, now, repo["id"]))
            rows = db.execute(
                "SELECT p.issue_id, p.head_ref, p.head_sha FROM pulls p JOIN issues i ON i.id = p.issue_id"
                " WHERE i.repo_id = ? AND i.state = 'open'",
                (repo["id"],),
            ).fetchall()
            for issue_id, head_ref, head_sha in rows:
                new_sha = refs.get(f"refs/heads/{head_ref}")
                if new_sha and new_sha != head_sha:
                    db.execute("UPDATE pulls SET head_sha = ? WHERE issue_id = ?", (new_sha, issue_id))
                    db.execute("UPDATE issues SET updated_at = ? WHERE id = ?", (now, issue_id))

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
        now = now_iso()
        with self.store.tx() as db:
            number = self.store.next_number(db, repo["id"])
            issue_id = db.execute(
                "INSERT INTO issues(repo_id, number, title, body, user_id, assignee_id, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (
                    repo["id"],
                    number,
                    title,
                    body,
                    actor["id"],
                    assignee_row["id"] if assignee_row else None,
                    now,
                    now,
                ),
            ).lastrowid
            assert issue_id is not None
            # GitHub silently drops labels from people who may not triage.
            for name in (labels or []) if can_triage else []:
                self._attach_label(db, repo, issue_id, actor, name)
        return self.store.issue_by_id(int(issue_id)) or {}

    def edit_issue(self, repo: Row, issue: Row, actor: Row, changes: dict[str, Any]) -> Row:
        is_author = issue["user_id"] == actor["id"]
        if not is_author:
            self.require(repo, actor, "triage")
        now = now_iso()
        with self.store.tx() as db:
            for field in ("title", "body"):
                if field in changes:
                    if field == "title" and not str(changes[field] or "").strip():
                        raise validation("Issue", "title", "missing_field")
                    db.execute(f"UPDATE issues SET {field} = ? WHERE id = ?", (changes[field], issue["id"]))
            if "state" in changes and changes["state"] != issue["state"]:
                state = changes["state"]
                if state not in ("open", "closed"):
                    raise validation("Issue", "state", "invalid")
                if state == "closed":
                    reason = changes.get("state_reason") or "completed"
                    db.execute(
                        "UPDATE issues SET state='closed', state_reason=?, closed_at=?, closed_by_id=? WHERE id=?",
                        (reason, now, actor["id"], issue["id"]),
                    )
                    self.store.add_event(db, issue["id"], actor["id"], "closed")
                else:
                    db.execute(
                        "UPDATE issues SET state='open', state_reason='reopened', closed_at=NULL WHERE id=?",
                        (issue["id"],),
                    )
                    self.store.add_event(db, issue["id"], actor["id"], "reopened")
            if "labels" in changes and changes["labels"] is not None:
                self._set_labels(db, repo, issue["id"], actor, list(changes["labels"]))
            if "assignee" in changes or "assignees" in changes:
                login = changes.get("assignee") or (changes.get("assignees") or [None])[0]
                user = self.store.user(login) if login else None
                db.execute(
                    "UPDATE issues SET assignee_id = ? WHERE id = ?",
                    (user["id"] if user else None, issue["id"]),
                )
                if user is not None:
                    self.store.add_event(db, issue["id"], actor["id"], "assigned", assignee_id=user["id"])
            db.execute("UPDATE issues SET updated_at = ? WHERE id = ?", (now, issue["id"]))
        return self.store.issue_by_id(issue["id"]) or {}

    def lock(self, repo: Row, issue: Row, actor: Row, reason: str | None, locked: bool) -> None:
        self.require(repo, actor, "triage")
        with self.store.tx() as db:
            db.execute(
                "UPDATE issues SET locked = ?, lock_reason = ? WHERE id = ?",
                (int(locked), reason if locked else None, issue["id"]),
            )
            self.store.add_event(db, issue["id"], actor["id"], "locked" if locked else "unlocked")
            self.store.touch_issue(db, issue["id"])

    # --- labels -----------------------------------------------------------------------

    def create_label(self, repo: Row, actor: Row, name: str, color: str, description: str | None) -> Row:
        self.require(repo, actor, "write")
        if not name:
            raise validation("Label", "name", "missing_field")
        if not re.fullmatch(r"[0-9a-fA-F]{6}", color or ""):
            raise validation("Label", "color", "invalid")
        if self.store.label(repo["id"], name):
            raise validation("Label", "name", "already_exists")
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO labels(repo_id, name, color, description) VALUES (?,?,?,?)",
                (repo["id"], name, color.lower(), description),
            )
        return self.store.label(repo["id"], name) or {}

    def edit_label(self, repo: Row, actor: Row, label: Row, changes: dict[str, Any]) -> Row:
        self.require(repo, actor, "write")
        name = changes.get("new_name") or changes.get("name") or label["name"]
        with self.store.tx() as db:
            db.execute(
                "UPDATE labels SET name = ?, color = ?, description = ? WHERE id = ?",
                (
                    name,
                    changes.get("color", label["color"]),
                    changes.get("description", label["description"]),
                    label["id"],
                ),
            )
        return self.store.label(repo["id"], name) or {}

    def delete_label(self, repo: Row, actor: Row, label: Row) -> None:
        self.require(repo, actor, "write")
        with self.store.tx() as db:
            db.execute("DELETE FROM issue_labels WHERE label_id = ?", (label["id"],))
            db.execute("DELETE FROM labels WHERE id = ?", (label["id"],))

    def _attach_label(self, db: Any, repo: Row, issue_id: int, actor: Row, name: str) -> None:
        label_id = self.store.ensure_label(db, repo["id"], name)
        if db.execute(
            "SELECT 1 FROM issue_labels WHERE issue_id = ? AND label_id = ?", (issue_id, label_id)
        ).fetchone():
            return
        db.execute("INSERT INTO issue_labels VALUES (?, ?)", (issue_id, label_id))
        name_, color = db.execute("SELECT name, color FROM labels WHERE id = ?", (label_id,)).fetchone()
        self.store.add_event(db, issue_id, actor["id"], "labeled", label_name=name_, label_color=color)
        self.store.touch_issue(db, issue_id)

    def _detach_label(self, db: Any, issue_id: int, actor: Row, label: Row) -> bool:
        removed = db.execute(
            "DELETE FROM issue_labels WHERE issue_id = ? AND label_id = ?", (issue_id, label["id"])
        ).rowcount
        if removed:
            self.store.add_event(
                db, issue_id, actor["id"], "unlabeled", label_name=label["name"], label_color=label["color"]
            )
            self.store.touch_issue(db, issue_id)
        return bool(removed)

    def _set_labels(self, db: Any, repo: Row, issue_id: int, actor: Row, names: list[str]) -> None:
        wanted = {n.lower() for n in names}
        for label in self.store.labels_of(issue_id):
            if label["name"].lower() not in wanted:
                self._detach_label(db, issue_id, actor, label)
        for name in names:
            self._attach_label(db, repo, issue_id, actor, name)

    def add_labels(self, repo: Row, issue: Row, actor: Row, names: list[str]) -> None:
        self.require(repo, actor, "triage")
        with self.store.tx() as db:
            for name in names:
                self._attach_label(db, repo, issue["id"], actor, name)

    def set_labels(self, repo: Row, issue: Row, actor: Row, names: list[str]) -> None:
        self.require(repo, actor, "triage")
        with self.store.tx() as db:
            self._set_labels(db, repo, issue["id"], actor, names)

    def remove_label(self, repo: Row, issue: Row, actor: Row, name: str) -> None:
        self.require(repo, actor, "triage")
        label = self.store.label(repo["id"], name)
        with self.store.tx() as db:
            if label is None or not self._detach_label(db, issue["id"], actor, label):
                raise ApiError(404, "Label does not exist")

    # --- comments and reactions ---------------------------------------------------------

    def comment(self, repo: Row, issue: Row, actor: Row, body: str) -> Row:
        self.require(repo, actor, "read")
        if not isinstance(body, str) or not body:
            raise validation("IssueComment", "body", "missing_field")
        if issue["locked"] and PERMISSION_RANK[self.store.permission(repo, actor)] < PERMISSION_RANK["write"]:
            raise ApiError(403, "Unable to create comment because issue is locked.")
        now = now_iso()
        with self.store.tx() as db:
            comment_id = db.execute(
                "INSERT INTO comments(issue_id, user_id, body, created_at, updated_at) VALUES (?,?,?,?,?)",
                (issue["id"], actor["id"], body, now, now),
            ).lastrowid
            self.store.touch_issue(db, issue["id"])
        return self.store.one("SELECT * FROM comments WHERE id = ?", comment_id) or {}

    def find_comment(self, repo: Row, comment_id: int) -> Row:
        comment = self.store.one(
            "SELECT c.* FROM comments c JOIN issues i ON i.id = c.issue_id WHERE c.id = ? AND i.repo_id = ?",
            comment_id,
            repo["id"],
        )
        if comment is None:
            raise not_found()
        return comment

    def edit_comment(self, repo: Row, comment: Row, actor: Row, body: str) -> Row:
        if comment["user_id"] != actor["id"]:
            self.require(repo, actor, "write")
        with self.store.tx() as db:
            db.execute("UPDATE comments SET body = ?, updated_at = ? WHERE id = ?", (body, now_iso(), comment["id"]))
        return self.find_comment(repo, comment["id"])

    def react(self, repo: Row, subject: str, subject_id: int, actor: Row, content: str) -> tuple[Row, bool]:
        """Returns the reaction and whether it is new (GitHub answers 200 for an existing one, 201 for new)."""
        self.require(repo, actor, "read")
        if content not in REACTIONS:
            raise validation("Reaction", "content", "invalid")
        existing = self.store.one(
            "SELECT * FROM reactions WHERE subject = ? AND subject_id = ? AND user_id = ? AND content = ?",
            subject,
            subject_id,
            actor["id"],
            content,
        )
        if existing:
            return existing, False
        with self.store.tx() as db:
            reaction_id = db.execute(
                "INSERT INTO reactions(subject, subject_id, user_id, content, created_at) VALUES (?,?,?,?,?)",
                (subject, subject_id, actor["id"], content, now_iso()),
            ).lastrowid
            if subject == "issue":
                self.store.touch_issue(db, subject_id)
        return self.store.one("SELECT * FROM reactions WHERE id = ?", reaction_id) or {}, True

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
        head_ref = head.split(":", 1)[1] if ":" in head else head
        bare = self.git(repo)
        head_sha = bare.ref_sha(f"refs/heads/{head_ref}")
        base_sha = bare.ref_sha(f"refs/heads/{base}")
        if base_sha is None:
            raise validation("PullRequest", "base", "invalid")
        if head_sha is None:
            raise validation("PullRequest", "head", "invalid")
        if not title:
            raise validation("PullRequest", "title", "missing_field")
        duplicate = self.store.scalar(
            "SELECT i.number FROM pulls p JOIN issues i ON i.id = p.issue_id"
            " WHERE i.repo_id = ? AND i.state = 'open' AND p.head_ref = ? AND p.base_ref = ?",
            repo["id"],
            head_ref,
            base,
        )
        if duplicate is not None:
            raise validation(
                "PullRequest",
                "",
                "custom",
                f"A pull request already exists for {repo['owner_login']}:{head_ref}.",
            )
        if not bare.commits_between(base_sha, head_sha):
            raise validation("PullRequest", "", "custom", f"No commits between {base} and {head_ref}")
        now = now_iso()
        with self.store.tx() as db:
            number = self.store.next_number(db, repo["id"])
            issue_id = db.execute(
                "INSERT INTO issues(repo_id, number, title, body, user_id, created_at, updated_at, is_pull)"
                " VALUES (?,?,?,?,?,?,?,1)",
                (repo["id"], number, title, body, actor["id"], now, now),
            ).lastrowid
            db.execute(
                "INSERT INTO pulls(issue_id, head_ref, head_sha, base_ref, draft, maintainer_can_modify)"
                " VALUES (?,?,?,?,?,?)",
                (issue_id, head_ref, head_sha, base, int(draft), int(maintainer_can_modify)),
            )
        return self.store.issue_by_id(int(issue_id or 0)) or {}

    def edit_pull(self, repo: Row, issue: Row, pull: Row, actor: Row, changes: dict[str, Any]) -> None:
        issue_changes = {k: v for k, v in changes.items() if k in ("title", "body", "state")}
        if issue_changes:
            self.edit_issue(repo, issue, actor, issue_changes)
        if "base" in changes:
            self.require(repo, actor, "write")
            if self.git(repo).ref_sha(f"refs/heads/{changes['base']}") is None:
                raise validation("PullRequest", "base", "invalid")
            with self.store.tx() as db:
                db.execute("UPDATE pulls SET base_ref = ? WHERE issue_id = ?", (changes["base"], issue["id"]))
        if "draft" in changes:
            with self.store.tx() as db:
                db.execute(
                    "UPDATE pulls SET draft = ? WHERE issue_id = ?",
                    (int(bool(changes["draft"])), issue["id"]),
                )

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
        full_message = headline + ("\n\n" + message if message else "")
        identity = {
            "GIT_AUTHOR_NAME": actor["name"] or actor["login"],
            "GIT_AUTHOR_EMAIL": actor["email"] or f"{actor['login']}@forge.local",
            "GIT_COMMITTER_NAME": "Forge",
            "GIT_COMMITTER_EMAIL": "noreply@forge.local",
        }
        try:
            merge_sha = self.git(repo).merge(pull["base_ref"], pull["head_sha"], full_message, method, identity)
        except GitError as exc:
            raise ApiError(405, "Pull Request is not mergeable") from exc
        now = now_iso()
        with self.store.tx() as db:
            db.execute(
                "UPDATE pulls SET merged = 1, merged_at = ?, merged_by_id = ?, merge_commit_sha = ? WHERE issue_id = ?",
                (now, actor["id"], merge_sha, issue["id"]),
            )
            db.execute(
                "UPDATE issues SET state = 'closed', closed_at = ?, closed_by_id = ?, updated_at = ? WHERE id = ?",
                (now, actor["id"], now, issue["id"]),
            )
            self.store.add_event(db, issue["id"], actor["id"], "merged", commit_id=merge_sha)
            self.store.add_event(db, issue["id"], actor["id"], "closed", commit_id=merge_sha)
            self._close_referenced_issues(db, repo, issue, actor, now)
        self.after_push(repo)
        return merge_sha

    def _close_referenced_issues(self, db: Any, repo: Row, pull_issue: Row, actor: Row, now: str) -> None:
        """`Closes #N` in a merged PR's body closes issue N, as on GitHub."""
        body = pull_issue["body"] or ""
        for number in re.findall(r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s+#(\d+)", body):
            row = db.execute(
                "SELECT id, state FROM issues WHERE repo_id = ? AND number = ? AND is_pull = 0",
                (repo["id"], int(number)),
            ).fetchone()
            if row and row[1] == "open":
                db.execute(
                    "UPDATE issues SET state='closed', state_reason='completed', closed_at=?, closed_by_id=?,"
                    " updated_at=? WHERE id=?",
                    (now, actor["id"], now, row[0]),
                )
                self.store.add_event(db, row[0], actor["id"], "closed")

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
        state = REVIEW_EVENTS.get(event or "")
        if state is None:
            raise validation("PullRequestReview", "event", "invalid")
        if state in ("CHANGES_REQUESTED", "COMMENTED") and not body and not comments:
            raise ApiError(422, "Unprocessable Entity", [{"message": "Review body is required"}])
        if issue["user_id"] == actor["id"] and state != "COMMENTED":
            raise ApiError(422, "Unprocessable Entity", [{"message": "Can not approve your own pull request"}])
        now = now_iso()
        commit = commit_id or pull["head_sha"]
        with self.store.tx() as db:
            review_id = db.execute(
                "INSERT INTO reviews(issue_id, user_id, body, state, commit_id, submitted_at) VALUES (?,?,?,?,?,?)",
                (issue["id"], actor["id"], body or "", state, commit, now),
            ).lastrowid
            for c in comments or []:
                db.execute(
                    "INSERT INTO review_comments(issue_id, review_id, user_id, body, path, line, side, commit_id,"
                    " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        issue["id"],
                        review_id,
                        actor["id"],
                        c.get("body", ""),
                        c.get("path", ""),
                        int(c.get("line") or c.get("position") or 1),
                        c.get("side", "RIGHT"),
                        commit,
                        now,
                        now,
                    ),
                )
            self.store.add_event(db, issue["id"], actor["id"], "reviewed")
            self.store.touch_issue(db, issue["id"])
        return self.store.one("SELECT * FROM reviews WHERE id = ?", review_id) or {}

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
        with self.store.tx() as db:
            status_id = db.execute(
                "INSERT INTO statuses(repo_id, sha, state, context, description, target_url, creator_id, created_at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (
                    repo["id"],
                    full_sha,
                    state,
                    fields.get("context") or "default",
                    fields.get("description"),
                    fields.get("target_url"),
                    actor["id"],
                    now_iso(),
                ),
            ).lastrowid
            self._touch_pulls_at(db, repo, full_sha)
        return self.store.one("SELECT * FROM statuses WHERE id = ?", status_id) or {}

    def latest_statuses(self, repo: Row, sha: str) -> list[Row]:
        """The newest status per context, as in GitHub's combined status."""
        return self.store.all(
            "SELECT * FROM statuses WHERE id IN (SELECT MAX(id) FROM statuses WHERE repo_id = ? AND sha = ?"
            " GROUP BY context) ORDER BY id",
            repo["id"],
            sha,
        )

    def create_check_run(self, repo: Row, actor: Row, fields: dict[str, Any]) -> Row:
        self.require(repo, actor, "write")
        if not fields.get("name"):
            raise validation("CheckRun", "name", "missing_field")
        sha = self.resolve_sha(repo, str(fields.get("head_sha") or ""))
        status, conclusion = self._check_state(fields)
        now = now_iso()
        output = fields.get("output") or {}
        with self.store.tx() as db:
            run_id = db.execute(
                "INSERT INTO check_runs(repo_id, head_sha, name, status, conclusion, started_at, completed_at,"
                " title, summary, text, external_id, details_url) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    repo["id"],
                    sha,
                    fields["name"],
                    status,
                    conclusion,
                    fields.get("started_at") or now,
                    fields.get("completed_at") or (now if status == "completed" else None),
                    output.get("title"),
                    output.get("summary"),
                    output.get("text"),
                    fields.get("external_id"),
                    fields.get("details_url"),
                ),
            ).lastrowid
            self._touch_pulls_at(db, repo, sha)
        return self.store.one("SELECT * FROM check_runs WHERE id = ?", run_id) or {}

    def update_check_run(self, repo: Row, actor: Row, run: Row, fields: dict[str, Any]) -> Row:
        self.require(repo, actor, "write")
        merged = {"status": run["status"], "conclusion": run["conclusion"], **fields}
        status, conclusion = self._check_state(merged)
        with self.store.tx() as db:
            db.execute(
                "UPDATE check_runs SET status = ?, conclusion = ?, completed_at = ? WHERE id = ?",
                (status, conclusion, now_iso() if status == "completed" else None, run["id"]),
            )
            self._touch_pulls_at(db, repo, run["head_sha"])
        return self.store.one("SELECT * FROM check_runs WHERE id = ?", run["id"]) or {}

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

    def _touch_pulls_at(self, db: Any, repo: Row, sha: str) -> None:
        db.execute(
            "UPDATE issues SET updated_at = ? WHERE id IN (SELECT p.issue_id FROM pulls p JOIN issues i"
            " ON i.id = p.issue_id WHERE i.repo_id = ? AND p.head_sha = ?)",
            (now_iso(), repo["id"], sha),
        )
