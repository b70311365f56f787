"""The forge's state: one SQLite file under the forge directory, serialised by one lock.

Rows hold only what GitHub itself stores; the JSON shapes are made in `shapes.py`. Every SQL statement the
forge runs is here, behind a named method, so that the schema and its queries change in one place; the
service decides what happens and the routes how it is served.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY, login TEXT UNIQUE NOT NULL, name TEXT, email TEXT,
  type TEXT NOT NULL DEFAULT 'User', site_admin INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, user_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS repos (
  id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL, name TEXT NOT NULL, description TEXT,
  default_branch TEXT NOT NULL DEFAULT 'main', private INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, pushed_at TEXT NOT NULL,
  next_number INTEGER NOT NULL DEFAULT 1, UNIQUE(owner_id, name));
CREATE TABLE IF NOT EXISTS permissions (
  repo_id INTEGER NOT NULL, user_id INTEGER NOT NULL, permission TEXT NOT NULL,
  PRIMARY KEY (repo_id, user_id));
CREATE TABLE IF NOT EXISTS issues (
  id INTEGER PRIMARY KEY, repo_id INTEGER NOT NULL, number INTEGER NOT NULL, title TEXT NOT NULL,
  body TEXT, user_id INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'open', state_reason TEXT,
  locked INTEGER NOT NULL DEFAULT 0, lock_reason TEXT, assignee_id INTEGER,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, closed_at TEXT, closed_by_id INTEGER,
  is_pull INTEGER NOT NULL DEFAULT 0, UNIQUE(repo_id, number));
CREATE INDEX IF NOT EXISTS issues_by_update ON issues(repo_id, updated_at);
CREATE TABLE IF NOT EXISTS labels (
  id INTEGER PRIMARY KEY, repo_id INTEGER NOT NULL, name TEXT NOT NULL, color TEXT NOT NULL,
  description TEXT, UNIQUE(repo_id, name));
CREATE TABLE IF NOT EXISTS issue_labels (
  issue_id INTEGER NOT NULL, label_id INTEGER NOT NULL, PRIMARY KEY(issue_id, label_id));
CREATE TABLE IF NOT EXISTS comments (
  id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL, user_id INTEGER NOT NULL, body TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS comments_by_issue ON comments(issue_id);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL, actor_id INTEGER NOT NULL, event TEXT NOT NULL,
  label_name TEXT, label_color TEXT, commit_id TEXT, assignee_id INTEGER, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_issue ON events(issue_id);
CREATE TABLE IF NOT EXISTS reactions (
  id INTEGER PRIMARY KEY, subject TEXT NOT NULL, subject_id INTEGER NOT NULL, user_id INTEGER NOT NULL,
  content TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE(subject, subject_id, user_id, content));
CREATE TABLE IF NOT EXISTS pulls (
  issue_id INTEGER PRIMARY KEY, head_ref TEXT NOT NULL, head_sha TEXT NOT NULL, base_ref TEXT NOT NULL,
  draft INTEGER NOT NULL DEFAULT 0, merged INTEGER NOT NULL DEFAULT 0, merged_at TEXT,
  merged_by_id INTEGER, merge_commit_sha TEXT, maintainer_can_modify INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS reviews (
  id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL, user_id INTEGER NOT NULL, body TEXT NOT NULL,
  state TEXT NOT NULL, commit_id TEXT NOT NULL, submitted_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS review_comments (
  id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL, review_id INTEGER, user_id INTEGER NOT NULL,
  body TEXT NOT NULL, path TEXT NOT NULL, line INTEGER NOT NULL, side TEXT NOT NULL DEFAULT 'RIGHT',
  commit_id TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS statuses (
  id INTEGER PRIMARY KEY, repo_id INTEGER NOT NULL, sha TEXT NOT NULL, state TEXT NOT NULL,
  context TEXT NOT NULL, description TEXT, target_url TEXT, creator_id INTEGER NOT NULL,
  created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS check_runs (
  id INTEGER PRIMARY KEY, repo_id INTEGER NOT NULL, head_sha TEXT NOT NULL, name TEXT NOT NULL,
  status TEXT NOT NULL, conclusion TEXT, started_at TEXT NOT NULL, completed_at TEXT,
  title TEXT, summary TEXT, text TEXT, external_id TEXT, details_url TEXT);
"""


PERMISSION_RANK = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}

# How `GET /repos/{owner}/{repo}/issues` may sort; `comments` counts each issue's comments.
ISSUE_ORDER = {
    "created": "i.created_at",
    "updated": "i.updated_at",
    "comments": "(SELECT COUNT(*) FROM comments c WHERE c.issue_id = i.id)",
}
# How `GET /repos/{owner}/{repo}/pulls` may sort; anything else sorts by creation, as GitHub does.
PULL_ORDER = {"created": "i.created_at", "updated": "i.updated_at"}
ISSUE_TEXT_FIELDS = ("title", "body")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Row = dict[str, Any]


@dataclass(frozen=True)
class IssueFilter:
    """The filters and order of an issue listing, already validated by the route."""

    state: str = "open"  # "open", "closed" or "all"
    since: str | None = None
    labels: tuple[str, ...] = ()
    creator: str | None = None
    sort: str = "created"  # a key of ISSUE_ORDER
    ascending: bool = False


@dataclass(frozen=True)
class PullFilter:
    """The filters and order of a pull request listing; `None` filters nothing."""

    state: str | None = "open"
    head_ref: str | None = None
    base_ref: str | None = None
    sort: str = "created"
    ascending: bool = False


class Store:
    """Thread-safe access to the forge database.

    Every write method is one transaction; inside `tx()` several of them commit (or roll back) together.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self.version = 0  # bumped by every write: a response rendered at the same version is the same
        self._depth = 0  # nesting of `tx()` in the thread holding the lock; only the outermost commits

    # --- transactions and raw queries ----------------------------------------------------

    @contextmanager
    def tx(self) -> Iterator[None]:
        """A transaction; one opened inside another joins it, so that a service call commits as a whole."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._db.execute("ROLLBACK")
                raise
            self._depth = 0
            self._db.execute("COMMIT")
            self.version += 1

    def bump(self) -> None:
        """A change outside SQLite (git refs) that responses reflect."""
        with self._lock:
            self.version += 1

    def _write(self, sql: str, *args: Any) -> sqlite3.Cursor:
        with self.tx():
            return self._db.execute(sql, args)

    # `one`, `all` and `scalar` also serve tests and ad-hoc inspection; the forge itself uses named methods.

    def one(self, sql: str, *args: Any) -> Row | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return dict(row) if row else None

    def all(self, sql: str, *args: Any) -> list[Row]:
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    def scalar(self, sql: str, *args: Any) -> Any:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- users and tokens -------------------------------------------------------------

    def create_user(self, login: str, name: str | None = None, site_admin: bool = False) -> tuple[Row, str]:
        token = "ghp_" + secrets.token_hex(18)
        with self.tx():
            existing = self._db.execute("SELECT id FROM users WHERE login = ?", (login,)).fetchone()
            if existing:
                user_id = existing[0]
            else:
                user_id = self._db.execute(
                    "INSERT INTO users(login, name, email, site_admin, created_at) VALUES (?,?,?,?,?)",
                    (login, name or login.title(), f"{login}@forge.local", int(site_admin), now_iso()),
                ).lastrowid
            self._db.execute("INSERT INTO tokens(token, user_id) VALUES (?, ?)", (token, user_id))
        user = self.user_by_id(user_id)
        assert user is not None
        return user, token

    def set_user_type(self, login: str, kind: str) -> None:
        self._write("UPDATE users SET type = ? WHERE login = ?", kind, login)

    def user_for_token(self, token: str) -> Row | None:
        return self.one("SELECT u.* FROM users u JOIN tokens t ON t.user_id = u.id WHERE t.token = ?", token)

    def user(self, login: str) -> Row | None:
        return self.one("SELECT * FROM users WHERE login = ? COLLATE NOCASE", login)

    def user_by_id(self, user_id: int | None) -> Row | None:
        if user_id is None:
            return None
        return self.one("SELECT * FROM users WHERE id = ?", user_id)

    def user_by_email(self, email: str) -> Row | None:
        return self.one("SELECT * FROM users WHERE email = ?", email)

    def token_of(self, login: str) -> str:
        token = self.scalar(
            "SELECT t.token FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.login = ? LIMIT 1", login
        )
        if token is None:
            raise KeyError(f"no user {login!r} in the forge")
        return str(token)

    # --- repositories and permissions -------------------------------------------------

    def create_repo(self, owner_id: int, name: str, description: str | None, private: bool, branch: str) -> Row:
        now = now_iso()
        with self.tx():
            repo_id = self._db.execute(
                "INSERT INTO repos(owner_id, name, description, private, default_branch, created_at,"
                " updated_at, pushed_at) VALUES (?,?,?,?,?,?,?,?)",
                (owner_id, name, description, int(private), branch, now, now, now),
            ).lastrowid
            self._db.execute("INSERT INTO permissions VALUES (?, ?, 'admin')", (repo_id, owner_id))
        repo = self.repo_by_id(int(repo_id or 0))
        assert repo is not None
        return repo

    def repo(self, owner: str, name: str) -> Row | None:
        return self.one(
            "SELECT r.*, u.login AS owner_login FROM repos r JOIN users u ON u.id = r.owner_id"
            " WHERE u.login = ? COLLATE NOCASE AND r.name = ? COLLATE NOCASE",
            owner,
            name,
        )

    def repo_by_id(self, repo_id: int) -> Row | None:
        return self.one(
            "SELECT r.*, u.login AS owner_login FROM repos r JOIN users u ON u.id = r.owner_id WHERE r.id = ?",
            repo_id,
        )

    def repo_count_of(self, owner_id: int) -> int:
        return int(self.scalar("SELECT COUNT(*) FROM repos WHERE owner_id = ?", owner_id))

    def mark_pushed(self, repo_id: int, at: str) -> None:
        self._write("UPDATE repos SET pushed_at = ?, updated_at = ? WHERE id = ?", at, at, repo_id)

    def set_permission(self, repo_id: int, user_id: int, permission: str) -> None:
        if permission not in PERMISSION_RANK:
            raise ValueError(f"unknown permission {permission!r}")
        self._write("INSERT OR REPLACE INTO permissions VALUES (?, ?, ?)", repo_id, user_id, permission)

    def granted_permission(self, repo_id: int, user_id: int) -> str | None:
        """The permission given to the user on the repository, without the defaults of `permission`."""
        found = self.scalar("SELECT permission FROM permissions WHERE repo_id = ? AND user_id = ?", repo_id, user_id)
        return None if found is None else str(found)

    def permission(self, repo: Row, user: Row | None) -> str:
        """The user's effective permission: what was granted, else read on public repositories."""
        found = self.granted_permission(repo["id"], user["id"]) if user is not None else None
        if found:
            return found
        return "none" if repo["private"] else "read"

    # --- issues ------------------------------------------------------------------------

    def _next_number(self, repo_id: int) -> int:
        number = self._db.execute("SELECT next_number FROM repos WHERE id = ?", (repo_id,)).fetchone()[0]
        self._db.execute("UPDATE repos SET next_number = next_number + 1 WHERE id = ?", (repo_id,))
        return int(number)

    def insert_issue(
        self,
        repo_id: int,
        user_id: int,
        title: str,
        body: str | None,
        at: str,
        assignee_id: int | None = None,
        is_pull: bool = False,
    ) -> int:
        """A new issue (or a pull request's issue) with the repository's next number; returns its id."""
        with self.tx():
            number = self._next_number(repo_id)
            cursor = self._db.execute(
                "INSERT INTO issues(repo_id, number, title, body, user_id, assignee_id, created_at, updated_at,"
                " is_pull) VALUES (?,?,?,?,?,?,?,?,?)",
                (repo_id, number, title, body, user_id, assignee_id, at, at, int(is_pull)),
            )
        return int(cursor.lastrowid or 0)

    def issue(self, repo_id: int, number: int) -> Row | None:
        return self.one("SELECT * FROM issues WHERE repo_id = ? AND number = ?", repo_id, number)

    def issue_by_id(self, issue_id: int) -> Row | None:
        return self.one("SELECT * FROM issues WHERE id = ?", issue_id)

    def _issue_where(self, repo_id: int, wanted: IssueFilter) -> tuple[str, list[Any]]:
        where: list[str] = ["i.repo_id = ?"]
        args: list[Any] = [repo_id]
        if wanted.state != "all":
            where.append("i.state = ?")
            args.append(wanted.state)
        if wanted.since:
            where.append("i.updated_at >= ?")
            args.append(wanted.since)
        for name in wanted.labels:
            where.append(
                "EXISTS (SELECT 1 FROM issue_labels il JOIN labels l ON l.id = il.label_id"
                " WHERE il.issue_id = i.id AND l.name = ? COLLATE NOCASE)"
            )
            args.append(name)
        if wanted.creator:
            where.append("i.user_id = (SELECT id FROM users WHERE login = ? COLLATE NOCASE)")
            args.append(wanted.creator)
        return " AND ".join(where), args

    def issues_of_repo(self, repo_id: int, wanted: IssueFilter, limit: int, offset: int) -> tuple[int, list[Row]]:
        """One page of the repository's issues (pull requests included, as on GitHub) and the total count."""
        clause, args = self._issue_where(repo_id, wanted)
        direction = "ASC" if wanted.ascending else "DESC"
        order = f"{ISSUE_ORDER[wanted.sort]} {direction}, i.number {direction}"
        with self._lock:  # the count and the page from the same state
            total = int(self.scalar(f"SELECT COUNT(*) FROM issues i WHERE {clause}", *args))
            rows = self.all(
                f"SELECT * FROM issues i WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?", *args, limit, offset
            )
        return total, rows

    def open_issue_count(self, repo_id: int) -> int:
        return int(self.scalar("SELECT COUNT(*) FROM issues WHERE repo_id = ? AND state = 'open'", repo_id))

    def set_issue_text(self, issue_id: int, field: str, value: str | None) -> None:
        if field not in ISSUE_TEXT_FIELDS:
            raise ValueError(f"not an issue text field: {field!r}")
        self._write(f"UPDATE issues SET {field} = ? WHERE id = ?", value, issue_id)

    def close_issue(self, issue_id: int, reason: str, actor_id: int, at: str) -> None:
        self._write(
            "UPDATE issues SET state='closed', state_reason=?, closed_at=?, closed_by_id=? WHERE id=?",
            reason,
            at,
            actor_id,
            issue_id,
        )

    def reopen_issue(self, issue_id: int) -> None:
        self._write("UPDATE issues SET state='open', state_reason='reopened', closed_at=NULL WHERE id=?", issue_id)

    def set_assignee(self, issue_id: int, user_id: int | None) -> None:
        self._write("UPDATE issues SET assignee_id = ? WHERE id = ?", user_id, issue_id)

    def set_lock(self, issue_id: int, locked: bool, reason: str | None) -> None:
        self._write(
            "UPDATE issues SET locked = ?, lock_reason = ? WHERE id = ?",
            int(locked),
            reason if locked else None,
            issue_id,
        )

    def touch_issue(self, issue_id: int, at: str | None = None) -> None:
        self._write("UPDATE issues SET updated_at = ? WHERE id = ?", at or now_iso(), issue_id)

    # --- labels ------------------------------------------------------------------------

    def label(self, repo_id: int, name: str) -> Row | None:
        return self.one("SELECT * FROM labels WHERE repo_id = ? AND name = ? COLLATE NOCASE", repo_id, name)

    def label_by_id(self, label_id: int) -> Row | None:
        return self.one("SELECT * FROM labels WHERE id = ?", label_id)

    def labels_of_repo(self, repo_id: int) -> list[Row]:
        return self.all("SELECT * FROM labels WHERE repo_id = ? ORDER BY name", repo_id)

    def labels_of(self, issue_id: int) -> list[Row]:
        return self.all(
            "SELECT l.* FROM labels l JOIN issue_labels il ON il.label_id = l.id WHERE il.issue_id = ? ORDER BY l.name",
            issue_id,
        )

    def insert_label(self, repo_id: int, name: str, color: str, description: str | None) -> None:
        self._write(
            "INSERT INTO labels(repo_id, name, color, description) VALUES (?,?,?,?)", repo_id, name, color, description
        )

    def ensure_label(self, repo_id: int, name: str) -> int:
        """The label's id, creating it with a colour of its own when the repository has none of that name."""
        with self.tx():
            row = self._db.execute(
                "SELECT id FROM labels WHERE repo_id = ? AND name = ? COLLATE NOCASE", (repo_id, name)
            ).fetchone()
            if row:
                return int(row[0])
            color = "%06x" % (abs(hash(name)) % 0xFFFFFF)
            cursor = self._db.execute(
                "INSERT INTO labels(repo_id, name, color) VALUES (?, ?, ?)", (repo_id, name, color)
            )
        return int(cursor.lastrowid or 0)

    def update_label(self, label_id: int, name: str, color: str | None, description: str | None) -> None:
        self._write(
            "UPDATE labels SET name = ?, color = ?, description = ? WHERE id = ?", name, color, description, label_id
        )

    def delete_label(self, label_id: int) -> None:
        with self.tx():
            self._db.execute("DELETE FROM issue_labels WHERE label_id = ?", (label_id,))
            self._db.execute("DELETE FROM labels WHERE id = ?", (label_id,))

    def attach_label(self, issue_id: int, label_id: int) -> bool:
        """Puts the label on the issue; False if it was already there."""
        with self.tx():
            if self._db.execute(
                "SELECT 1 FROM issue_labels WHERE issue_id = ? AND label_id = ?", (issue_id, label_id)
            ).fetchone():
                return False
            self._db.execute("INSERT INTO issue_labels VALUES (?, ?)", (issue_id, label_id))
        return True

    def detach_label(self, issue_id: int, label_id: int) -> bool:
        """Takes the label off the issue; False if it was not there."""
        cursor = self._write("DELETE FROM issue_labels WHERE issue_id = ? AND label_id = ?", issue_id, label_id)
        return bool(cursor.rowcount)

    # --- events --------------------------------------------------------------------------

    def add_event(
        self,
        issue_id: int,
        actor_id: int,
        event: str,
        *,
        label_name: str | None = None,
        label_color: str | None = None,
        commit_id: str | None = None,
        assignee_id: int | None = None,
    ) -> None:
        self._write(
            "INSERT INTO events(issue_id, actor_id, event, label_name, label_color, commit_id, assignee_id,"
            " created_at) VALUES (?,?,?,?,?,?,?,?)",
            issue_id,
            actor_id,
            event,
            label_name,
            label_color,
            commit_id,
            assignee_id,
            now_iso(),
        )

    def events_of_issue(self, issue_id: int) -> list[Row]:
        return self.all("SELECT * FROM events WHERE issue_id = ? ORDER BY id", issue_id)

    def event_in_repo(self, repo_id: int, event_id: int) -> Row | None:
        return self.one(
            "SELECT e.* FROM events e JOIN issues i ON i.id = e.issue_id WHERE e.id = ? AND i.repo_id = ?",
            event_id,
            repo_id,
        )

    # --- comments ------------------------------------------------------------------------

    def insert_comment(self, issue_id: int, user_id: int, body: str, at: str) -> int:
        cursor = self._write(
            "INSERT INTO comments(issue_id, user_id, body, created_at, updated_at) VALUES (?,?,?,?,?)",
            issue_id,
            user_id,
            body,
            at,
            at,
        )
        return int(cursor.lastrowid or 0)

    def update_comment(self, comment_id: int, body: str, at: str) -> None:
        self._write("UPDATE comments SET body = ?, updated_at = ? WHERE id = ?", body, at, comment_id)

    def comment_by_id(self, comment_id: int) -> Row | None:
        return self.one("SELECT * FROM comments WHERE id = ?", comment_id)

    def comment_in_repo(self, repo_id: int, comment_id: int) -> Row | None:
        return self.one(
            "SELECT c.* FROM comments c JOIN issues i ON i.id = c.issue_id WHERE c.id = ? AND i.repo_id = ?",
            comment_id,
            repo_id,
        )

    def comments_of_issue(self, issue_id: int, since: str = "") -> list[Row]:
        """The issue's comments in order, those updated at or after `since` (every one by default)."""
        return self.all("SELECT * FROM comments WHERE issue_id = ? AND updated_at >= ? ORDER BY id", issue_id, since)

    def comment_count(self, issue_id: int) -> int:
        return int(self.scalar("SELECT COUNT(*) FROM comments WHERE issue_id = ?", issue_id))

    # --- reactions -----------------------------------------------------------------------

    def reactions_of(self, subject: str, subject_id: int) -> list[Row]:
        return self.all("SELECT * FROM reactions WHERE subject = ? AND subject_id = ? ORDER BY id", subject, subject_id)

    def find_reaction(self, subject: str, subject_id: int, user_id: int, content: str) -> Row | None:
        return self.one(
            "SELECT * FROM reactions WHERE subject = ? AND subject_id = ? AND user_id = ? AND content = ?",
            subject,
            subject_id,
            user_id,
            content,
        )

    def insert_reaction(self, subject: str, subject_id: int, user_id: int, content: str, at: str) -> int:
        cursor = self._write(
            "INSERT INTO reactions(subject, subject_id, user_id, content, created_at) VALUES (?,?,?,?,?)",
            subject,
            subject_id,
            user_id,
            content,
            at,
        )
        return int(cursor.lastrowid or 0)

    def reaction_by_id(self, reaction_id: int) -> Row | None:
        return self.one("SELECT * FROM reactions WHERE id = ?", reaction_id)

    # --- pull requests -------------------------------------------------------------------

    def insert_pull(
        self, issue_id: int, head_ref: str, head_sha: str, base_ref: str, draft: bool, maintainer_can_modify: bool
    ) -> None:
        self._write(
            "INSERT INTO pulls(issue_id, head_ref, head_sha, base_ref, draft, maintainer_can_modify)"
            " VALUES (?,?,?,?,?,?)",
            issue_id,
            head_ref,
            head_sha,
            base_ref,
            int(draft),
            int(maintainer_can_modify),
        )

    def pull_of_issue(self, issue_id: int) -> Row | None:
        return self.one("SELECT * FROM pulls WHERE issue_id = ?", issue_id)

    def pull_issue_ids(self, repo_id: int, wanted: PullFilter) -> list[int]:
        """The issue ids of the repository's pull requests, filtered and in listing order."""
        where: list[str] = ["i.repo_id = ?"]
        args: list[Any] = [repo_id]
        for column, value in (
            ("i.state", wanted.state),
            ("p.head_ref", wanted.head_ref),
            ("p.base_ref", wanted.base_ref),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        direction = "ASC" if wanted.ascending else "DESC"
        order = f"{PULL_ORDER.get(wanted.sort, 'i.created_at')} {direction}, i.number {direction}"
        rows = self.all(
            "SELECT i.id AS issue_id FROM issues i JOIN pulls p ON p.issue_id = i.id WHERE "
            + " AND ".join(where)
            + f" ORDER BY {order}",
            *args,
        )
        return [int(row["issue_id"]) for row in rows]

    def open_pull_number(self, repo_id: int, head_ref: str, base_ref: str) -> int | None:
        """The number of the open pull request from `head_ref` into `base_ref`, if there is one."""
        number = self.scalar(
            "SELECT i.number FROM pulls p JOIN issues i ON i.id = p.issue_id"
            " WHERE i.repo_id = ? AND i.state = 'open' AND p.head_ref = ? AND p.base_ref = ?",
            repo_id,
            head_ref,
            base_ref,
        )
        return None if number is None else int(number)

    def open_pull_heads(self, repo_id: int) -> list[Row]:
        return self.all(
            "SELECT p.issue_id, p.head_ref, p.head_sha FROM pulls p JOIN issues i ON i.id = p.issue_id"
            " WHERE i.repo_id = ? AND i.state = 'open'",
            repo_id,
        )

    def move_pull_head(self, issue_id: int, head_sha: str, at: str) -> None:
        with self.tx():
            self._db.execute("UPDATE pulls SET head_sha = ? WHERE issue_id = ?", (head_sha, issue_id))
            self._db.execute("UPDATE issues SET updated_at = ? WHERE id = ?", (at, issue_id))

    def pulls_at_sha(self, repo_id: int, sha: str) -> list[Row]:
        return self.all(
            "SELECT i.number, p.head_ref, p.head_sha, p.base_ref FROM pulls p JOIN issues i ON i.id = p.issue_id"
            " WHERE i.repo_id = ? AND p.head_sha = ?",
            repo_id,
            sha,
        )

    def touch_pulls_at(self, repo_id: int, sha: str, at: str) -> None:
        """Marks updated the pull requests whose head is `sha` (CI results show on them)."""
        self._write(
            "UPDATE issues SET updated_at = ? WHERE id IN (SELECT p.issue_id FROM pulls p JOIN issues i"
            " ON i.id = p.issue_id WHERE i.repo_id = ? AND p.head_sha = ?)",
            at,
            repo_id,
            sha,
        )

    def set_pull_base(self, issue_id: int, base_ref: str) -> None:
        self._write("UPDATE pulls SET base_ref = ? WHERE issue_id = ?", base_ref, issue_id)

    def set_pull_draft(self, issue_id: int, draft: bool) -> None:
        self._write("UPDATE pulls SET draft = ? WHERE issue_id = ?", int(draft), issue_id)

    def mark_merged(self, issue_id: int, actor_id: int, merge_sha: str, at: str) -> None:
        """The pull request is merged and its issue closed (a merge leaves `state_reason` as it was)."""
        with self.tx():
            self._db.execute(
                "UPDATE pulls SET merged = 1, merged_at = ?, merged_by_id = ?, merge_commit_sha = ? WHERE issue_id = ?",
                (at, actor_id, merge_sha, issue_id),
            )
            self._db.execute(
                "UPDATE issues SET state = 'closed', closed_at = ?, closed_by_id = ?, updated_at = ? WHERE id = ?",
                (at, actor_id, at, issue_id),
            )

    # --- reviews -------------------------------------------------------------------------

    def insert_review(self, issue_id: int, user_id: int, body: str, state: str, commit_id: str, at: str) -> int:
        cursor = self._write(
            "INSERT INTO reviews(issue_id, user_id, body, state, commit_id, submitted_at) VALUES (?,?,?,?,?,?)",
            issue_id,
            user_id,
            body,
            state,
            commit_id,
            at,
        )
        return int(cursor.lastrowid or 0)

    def insert_review_comment(
        self,
        issue_id: int,
        review_id: int,
        user_id: int,
        body: str,
        path: str,
        line: int,
        side: str,
        commit_id: str,
        at: str,
    ) -> None:
        self._write(
            "INSERT INTO review_comments(issue_id, review_id, user_id, body, path, line, side, commit_id,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            issue_id,
            review_id,
            user_id,
            body,
            path,
            line,
            side,
            commit_id,
            at,
            at,
        )

    def review_by_id(self, review_id: int) -> Row | None:
        return self.one("SELECT * FROM reviews WHERE id = ?", review_id)

    def review_of_issue(self, issue_id: int, review_id: int) -> Row | None:
        return self.one("SELECT * FROM reviews WHERE id = ? AND issue_id = ?", review_id, issue_id)

    def reviews_of_issue(self, issue_id: int) -> list[Row]:
        return self.all("SELECT * FROM reviews WHERE issue_id = ? ORDER BY id", issue_id)

    def review_comments_of_issue(self, issue_id: int) -> list[Row]:
        return self.all("SELECT * FROM review_comments WHERE issue_id = ? ORDER BY id", issue_id)

    def review_comment_count(self, issue_id: int) -> int:
        return int(self.scalar("SELECT COUNT(*) FROM review_comments WHERE issue_id = ?", issue_id))

    # --- CI: statuses and check runs --------------------------------------------------------

    def insert_status(
        self,
        repo_id: int,
        sha: str,
        state: str,
        context: str,
        description: str | None,
        target_url: str | None,
        creator_id: int,
        at: str,
    ) -> int:
        cursor = self._write(
            "INSERT INTO statuses(repo_id, sha, state, context, description, target_url, creator_id, created_at)"
            " VALUES (?,?,?,?,?,?,?,?)",
            repo_id,
            sha,
            state,
            context,
            description,
            target_url,
            creator_id,
            at,
        )
        return int(cursor.lastrowid or 0)

    def status_by_id(self, status_id: int) -> Row | None:
        return self.one("SELECT * FROM statuses WHERE id = ?", status_id)

    def statuses_at(self, repo_id: int, sha: str) -> list[Row]:
        """Every status posted for the commit, newest first."""
        return self.all("SELECT * FROM statuses WHERE repo_id = ? AND sha = ? ORDER BY id DESC", repo_id, sha)

    def latest_statuses(self, repo_id: int, sha: str) -> list[Row]:
        """The newest status per context, as in GitHub's combined status."""
        return self.all(
            "SELECT * FROM statuses WHERE id IN (SELECT MAX(id) FROM statuses WHERE repo_id = ? AND sha = ?"
            " GROUP BY context) ORDER BY id",
            repo_id,
            sha,
        )

    def insert_check_run(
        self,
        repo_id: int,
        head_sha: str,
        name: str,
        *,
        status: str,
        conclusion: str | None,
        started_at: str,
        completed_at: str | None,
        title: str | None,
        summary: str | None,
        text: str | None,
        external_id: str | None,
        details_url: str | None,
    ) -> int:
        cursor = self._write(
            "INSERT INTO check_runs(repo_id, head_sha, name, status, conclusion, started_at, completed_at,"
            " title, summary, text, external_id, details_url) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            repo_id,
            head_sha,
            name,
            status,
            conclusion,
            started_at,
            completed_at,
            title,
            summary,
            text,
            external_id,
            details_url,
        )
        return int(cursor.lastrowid or 0)

    def update_check_run(self, run_id: int, status: str, conclusion: str | None, completed_at: str | None) -> None:
        self._write(
            "UPDATE check_runs SET status = ?, conclusion = ?, completed_at = ? WHERE id = ?",
            status,
            conclusion,
            completed_at,
            run_id,
        )

    def check_run_by_id(self, run_id: int) -> Row | None:
        return self.one("SELECT * FROM check_runs WHERE id = ?", run_id)

    def check_run_in_repo(self, repo_id: int, run_id: int) -> Row | None:
        return self.one("SELECT * FROM check_runs WHERE id = ? AND repo_id = ?", run_id, repo_id)

    def check_runs_at(self, repo_id: int, sha: str) -> list[Row]:
        """Every check run on the commit, newest first."""
        return self.all("SELECT * FROM check_runs WHERE repo_id = ? AND head_sha = ? ORDER BY id DESC", repo_id, sha)
