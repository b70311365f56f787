"""The forge's state: one SQLite file under the forge directory, serialised by one lock.

Rows hold only what GitHub itself stores; the JSON shapes are made in `shapes.py`.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Row = dict[str, Any]


class Store:
    """Thread-safe access to the forge database; every method is one transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self.version = 0  # bumped by every write: a response rendered at the same version is the same

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self.version += 1

    def bump(self) -> None:
        """A change outside SQLite (git refs) that responses reflect."""
        with self._lock:
            self.version += 1

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
        with self.tx() as db:
            existing = db.execute("SELECT id FROM users WHERE login = ?", (login,)).fetchone()
            if existing:
                user_id = existing[0]
            else:
                user_id = db.execute(
                    "INSERT INTO users(login, name, email, site_admin, created_at) VALUES (?,?,?,?,?)",
                    (login, name or login.title(), f"{login}@forge.local", int(site_admin), now_iso()),
                ).lastrowid
            db.execute("INSERT INTO tokens(token, user_id) VALUES (?, ?)", (token, user_id))
        user = self.one("SELECT * FROM users WHERE id = ?", user_id)
        assert user is not None
        return user, token

    def set_user_type(self, login: str, kind: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE users SET type = ? WHERE login = ?", (kind, login))

    def user_for_token(self, token: str) -> Row | None:
        return self.one("SELECT u.* FROM users u JOIN tokens t ON t.user_id = u.id WHERE t.token = ?", token)

    def user(self, login: str) -> Row | None:
        return self.one("SELECT * FROM users WHERE login = ? COLLATE NOCASE", login)

    def user_by_id(self, user_id: int | None) -> Row | None:
        if user_id is None:
            return None
        return self.one("SELECT * FROM users WHERE id = ?", user_id)

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
        with self.tx() as db:
            repo_id = db.execute(
                "INSERT INTO repos(owner_id, name, description, private, default_branch, created_at,"
                " updated_at, pushed_at) VALUES (?,?,?,?,?,?,?,?)",
                (owner_id, name, description, int(private), branch, now, now, now),
            ).lastrowid
            db.execute("INSERT INTO permissions VALUES (?, ?, 'admin')", (repo_id, owner_id))
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

    def touch_repo(self, repo_id: int, pushed: bool = False) -> None:
        now = now_iso()
        column = "pushed_at" if pushed else "updated_at"
        with self.tx() as db:
            db.execute(f"UPDATE repos SET {column} = ? WHERE id = ?", (now, repo_id))

    def set_permission(self, repo_id: int, user_id: int, permission: str) -> None:
        if permission not in PERMISSION_RANK:
            raise ValueError(f"unknown permission {permission!r}")
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO permissions VALUES (?, ?, ?)", (repo_id, user_id, permission))

    def permission(self, repo: Row, user: Row | None) -> str:
        if user is None:
            return "none" if repo["private"] else "read"
        found = self.scalar(
            "SELECT permission FROM permissions WHERE repo_id = ? AND user_id = ?", repo["id"], user["id"]
        )
        if found:
            return str(found)
        return "none" if repo["private"] else "read"

    # --- issues ------------------------------------------------------------------------

    def next_number(self, db: sqlite3.Connection, repo_id: int) -> int:
        number = db.execute("SELECT next_number FROM repos WHERE id = ?", (repo_id,)).fetchone()[0]
        db.execute("UPDATE repos SET next_number = next_number + 1 WHERE id = ?", (repo_id,))
        return int(number)

    def issue(self, repo_id: int, number: int) -> Row | None:
        return self.one("SELECT * FROM issues WHERE repo_id = ? AND number = ?", repo_id, number)

    def issue_by_id(self, issue_id: int) -> Row | None:
        return self.one("SELECT * FROM issues WHERE id = ?", issue_id)

    def labels_of(self, issue_id: int) -> list[Row]:
        return self.all(
            "SELECT l.* FROM labels l JOIN issue_labels il ON il.label_id = l.id WHERE il.issue_id = ? ORDER BY l.name",
            issue_id,
        )

    def touch_issue(self, db: sqlite3.Connection, issue_id: int) -> None:
        db.execute("UPDATE issues SET updated_at = ? WHERE id = ?", (now_iso(), issue_id))

    def label(self, repo_id: int, name: str) -> Row | None:
        return self.one("SELECT * FROM labels WHERE repo_id = ? AND name = ? COLLATE NOCASE", repo_id, name)

    def ensure_label(self, db: sqlite3.Connection, repo_id: int, name: str) -> int:
        row = db.execute(
            "SELECT id FROM labels WHERE repo_id = ? AND name = ? COLLATE NOCASE", (repo_id, name)
        ).fetchone()
        if row:
            return int(row[0])
        color = "%06x" % (abs(hash(name)) % 0xFFFFFF)
        return int(
            db.execute("INSERT INTO labels(repo_id, name, color) VALUES (?, ?, ?)", (repo_id, name, color)).lastrowid
            or 0
        )

    def add_event(self, db: sqlite3.Connection, issue_id: int, actor_id: int, event: str, **extra: Any) -> None:
        db.execute(
            "INSERT INTO events(issue_id, actor_id, event, label_name, label_color, commit_id, assignee_id,"
            " created_at) VALUES (?,?,?,?,?,?,?,?)",
            (
                issue_id,
                actor_id,
                event,
                extra.get("label_name"),
                extra.get("label_color"),
                extra.get("commit_id"),
                extra.get("assignee_id"),
                now_iso(),
            ),
        )

    def reactions_of(self, subject: str, subject_id: int) -> list[Row]:
        return self.all("SELECT * FROM reactions WHERE subject = ? AND subject_id = ? ORDER BY id", subject, subject_id)
