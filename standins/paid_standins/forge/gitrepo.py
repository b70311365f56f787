"""Real bare git repositories behind the forge: refs, diffs, commits and merges computed by git."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
FORGE_IDENTITY = {
    "GIT_AUTHOR_NAME": "Forge",
    "GIT_AUTHOR_EMAIL": "forge@forge.local",
    "GIT_COMMITTER_NAME": "Forge",
    "GIT_COMMITTER_EMAIL": "forge@forge.local",
}


class GitError(RuntimeError):
    pass


@dataclass(frozen=True)
class FileChange:
    filename: str
    status: str
    additions: int
    deletions: int
    patch: str
    sha: str


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: list[str]
    tree: str
    author_name: str
    author_email: str
    author_date: str
    committer_name: str
    committer_email: str
    committer_date: str
    message: str


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "HOME": os.environ.get("HOME", "/tmp"), "LC_ALL": "C"})
    env.update(extra or {})
    return env


class BareRepo:
    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> str:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            input=input,
            capture_output=True,
            env=_env(env),
            check=False,
        )
        if proc.returncode != 0:
            raise GitError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout.decode("utf-8", errors="replace")

    def init(self, default_branch: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "--bare", "-q", "-b", default_branch, str(self.path)],
            check=True,
            env=_env(),
        )
        self.git("config", "http.receivepack", "true")
        self.git("config", "uploadpack.allowAnySHA1InWant", "true")

    def import_files(self, branch: str, files: dict[str, str], message: str) -> str:
        """Commit a whole file tree onto `branch` without a work tree."""
        entries = []
        for name, content in sorted(files.items()):
            blob = self.git("hash-object", "-w", "--stdin", input=content.encode()).strip()
            mode = "100755" if content.startswith("#!") else "100644"
            entries.append((name, mode, blob))
        tree = self._write_tree(entries)
        parent = self.ref_sha(f"refs/heads/{branch}")
        args = ["commit-tree", tree, "-m", message] + (["-p", parent] if parent else [])
        sha = self.git(*args, env=FORGE_IDENTITY).strip()
        self.git("update-ref", f"refs/heads/{branch}", sha)
        return sha

    def _write_tree(self, entries: list[tuple[str, str, str]]) -> str:
        """Build nested trees from flat paths with `git mktree`."""
        children: dict[str, list[tuple[str, str, str]]] = {}
        lines = []
        for name, mode, sha in entries:
            head, sep, rest = name.partition("/")
            if sep:
                children.setdefault(head, []).append((rest, mode, sha))
            else:
                lines.append(f"{mode} blob {sha}\t{name}")
        for directory, sub in children.items():
            lines.append(f"040000 tree {self._write_tree(sub)}\t{directory}")
        return self.git("mktree", input=("\n".join(lines) + "\n").encode()).strip()

    def ref_sha(self, ref: str) -> str | None:
        try:
            return self.git("rev-parse", "--verify", "-q", ref + "^{commit}").strip() or None
        except GitError:
            return None

    def refs(self, prefix: str = "refs/") -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        return dict(line.split(" ", 1) for line in out.splitlines() if line)  # type: ignore[misc]

    def update_ref(self, ref: str, sha: str) -> None:
        self.git("update-ref", ref, sha)

    def delete_ref(self, ref: str) -> None:
        self.git("update-ref", "-d", ref)

    def commit(self, sha: str) -> CommitInfo:
        fmt = "%H%x00%P%x00%T%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
        out = self.git("show", "-s", f"--format={fmt}", sha)
        parts = out.split("\x00")
        return CommitInfo(
            sha=parts[0],
            parents=parts[1].split(),
            tree=parts[2],
            author_name=parts[3],
            author_email=parts[4],
            author_date=parts[5],
            committer_name=parts[6],
            committer_email=parts[7],
            committer_date=parts[8],
            message=parts[9].rstrip("\n"),
        )

    def merge_base(self, a: str, b: str) -> str | None:
        try:
            return self.git("merge-base", a, b).strip()
        except GitError:
            return None

    def commits_between(self, base: str, head: str) -> list[CommitInfo]:
        shas = self.git("rev-list", "--reverse", f"{base}..{head}").split()
        return [self.commit(s) for s in shas]

    def changed_files(self, base: str, head: str) -> list[FileChange]:
        """Files changed by `head` since it forked from `base` (GitHub's three-dot diff)."""
        start = self.merge_base(base, head) or EMPTY_TREE
        numstat = self.git("diff", "--numstat", "-z", "--no-renames", start, head)
        statuses = self.git("diff", "--name-status", "-z", "--no-renames", start, head).split("\x00")
        status_of = {statuses[i + 1]: statuses[i] for i in range(0, len(statuses) - 1, 2)}
        names = {"A": "added", "D": "removed", "M": "modified"}
        changes = []
        for record in numstat.split("\x00"):
            if not record.strip():
                continue
            added, deleted, filename = record.split("\t", 2)
            patch = self.git("diff", "--no-renames", start, head, "--", filename)
            hunk_start = patch.find("\n@@")
            blob = self.ref_sha_of_path(head, filename)
            changes.append(
                FileChange(
                    filename=filename,
                    status=names.get(status_of.get(filename, "M"), "modified"),
                    additions=int(added) if added.isdigit() else 0,
                    deletions=int(deleted) if deleted.isdigit() else 0,
                    patch=patch[hunk_start + 1 :].rstrip("\n") if hunk_start >= 0 else "",
                    sha=blob or "0" * 40,
                )
            )
        return changes

    def ref_sha_of_path(self, rev: str, path: str) -> str | None:
        try:
            return self.git("rev-parse", f"{rev}:{path}").strip()
        except GitError:
            return None

    def mergeable(self, base: str, head: str) -> bool:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path), "merge-tree", "--write-tree", base, head],
            capture_output=True,
            env=_env(),
            check=False,
        )
        return proc.returncode == 0

    def merge(self, base_ref: str, head: str, message: str, method: str, committer: dict[str, str]) -> str:
        """Merge `head` into branch `base_ref` the way GitHub's merge button does; returns the new sha."""
        base = self.ref_sha(f"refs/heads/{base_ref}")
        if base is None:
            raise GitError(f"base branch {base_ref} is gone")
        if method == "rebase":
            raise GitError("rebase merges are not supported by the forge")
        tree = self.git("merge-tree", "--write-tree", base, head).splitlines()[0].strip()
        parents = ["-p", base] if method == "squash" else ["-p", base, "-p", head]
        sha = self.git("commit-tree", tree, *parents, "-m", message, env=committer).strip()
        self.git("update-ref", f"refs/heads/{base_ref}", sha, base)
        return sha
