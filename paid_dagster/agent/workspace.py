"""The agent's worktree: a fresh clone on branch `paid/<number>-<slug>`, committed and pushed by Paid.

The token travels only in the environment of Paid's own git commands, never in `.git/config`, so nothing
in the worktree (which the sandbox sees) holds it; hooks are disabled because the agent can write them.
"""

from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..secrets import redact

PAID_IDENTITY = {
    "GIT_AUTHOR_NAME": "Paid",
    "GIT_AUTHOR_EMAIL": "paid-bot@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "Paid",
    "GIT_COMMITTER_EMAIL": "paid-bot@users.noreply.github.com",
}


class WorkspaceError(RuntimeError):
    pass


@dataclass(frozen=True)
class DiffStat:
    files: int
    insertions: int
    deletions: int
    text: str


class Workspace:
    def __init__(self, path: Path, clone_url: str, token: str, branch: str, base: str) -> None:
        self.path = path
        self.clone_url = clone_url
        self.branch = branch
        self.base = base
        self._token = token

    def _env(self) -> dict[str, str]:
        basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(PAID_IDENTITY)
        env.update(
            {
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_COUNT": "3",
                "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
                "GIT_CONFIG_KEY_1": "core.hooksPath",
                "GIT_CONFIG_VALUE_1": "/dev/null",
                # A Docker sandbox's user owns what it wrote; Paid still commits it.
                "GIT_CONFIG_KEY_2": "safe.directory",
                "GIT_CONFIG_VALUE_2": "*",
            }
        )
        return env

    def git(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=cwd or self.path, env=self._env(), capture_output=True, text=True, check=False
        )
        if check and proc.returncode != 0:
            raise WorkspaceError(f"git {args[0]} failed: {redact(proc.stderr.strip(), [self._token])}")
        return proc.stdout

    def prepare(self) -> str:
        """Clones and checks out the branch: the existing remote branch for a new attempt, else a new one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not (self.path / ".git").exists():
            self.git("clone", "--quiet", "--no-tags", self.clone_url, str(self.path), cwd=self.path.parent)
        self.git("fetch", "--quiet", "origin")
        remote_branch = self.git("ls-remote", "--heads", "origin", self.branch).strip()
        start = f"origin/{self.branch}" if remote_branch else f"origin/{self.base}"
        self.git("checkout", "--quiet", "-B", self.branch, start)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def commit_all(self, message: str) -> str | None:
        """Commits whatever the agent left in the worktree; None when there is nothing to commit."""
        self.git("add", "--all")
        if not self.git("status", "--porcelain").strip():
            return None
        self.git("commit", "--quiet", "--no-verify", "-m", message)
        return self.head()

    def push(self) -> None:
        self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}")

    def diff_stat(self) -> DiffStat:
        base = f"origin/{self.base}"
        numstat = self.git("diff", "--numstat", f"{base}...HEAD")
        insertions = deletions = files = 0
        for line in numstat.splitlines():
            added, removed, _ = line.split("\t", 2)
            files += 1
            insertions += int(added) if added.isdigit() else 0
            deletions += int(removed) if removed.isdigit() else 0
        return DiffStat(files, insertions, deletions, self.git("diff", "--stat", f"{base}...HEAD").strip())

    def commits_ahead(self) -> int:
        return int(self.git("rev-list", "--count", f"origin/{self.base}..HEAD").strip() or 0)
