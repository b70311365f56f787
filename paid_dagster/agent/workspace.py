"""The agent's working files and Paid's git, kept apart: nothing the agent writes is run or obeyed on the host.

Each run has two directories. `<run>/repo` holds the working files: the sandbox mounts it and the agent writes
it. `<run>/repo.git` is Paid's git directory: no sandbox can write it (at most it is mounted read-only), and
the working files hold no `.git` that Paid would ever look at. Every git command Paid runs names that git
directory explicitly, with a configuration Paid fixed (no system or global file, the repository's own file
written by `git init` only, hooks, fsmonitor and attribute files switched off) and with an environment that
holds nothing of Paid's own but, for fetch and push, the authorization header.

Paid reads the agent's result as *files*: it lists them, refuses what is not a regular file or a symlink
that stays inside the working tree, hashes each file's bytes with no filter (`hash-object --no-filters`),
builds a fresh index from those blobs, and writes the commit itself. So `.gitattributes` filters,
`core.fsmonitor`, hooks, includes, `url.*.insteadOf` or a `.git` planted anywhere in the working files are
inert data, and so are git options nobody has thought of yet: none of them is in the configuration Paid uses.
The push goes to the URL Paid was given, never to one read from a repository.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..checks.runner import REPORTS
from ..preparation.plan import ENV_DIRS
from ..safe_text import clean
from ..secrets import SECRETS, redact

PAID_IDENTITY = {
    "GIT_AUTHOR_NAME": "Paid",
    "GIT_AUTHOR_EMAIL": "paid-bot@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "Paid",
    "GIT_COMMITTER_EMAIL": "paid-bot@users.noreply.github.com",
}
# The whole configuration of Paid's git besides what `git init` writes: nothing the agent can reach adds to it.
FIXED_CONFIG = (
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("core.attributesFile", "/dev/null"),
    ("core.excludesFile", "/dev/null"),
    ("core.untrackedCache", "false"),
    ("core.symlinks", "true"),
    ("core.autocrlf", "false"),
    ("core.sshCommand", "false"),
    ("credential.helper", ""),
    ("submodule.recurse", "false"),
    ("protocol.allow", "never"),
    ("protocol.http.allow", "always"),
    ("protocol.https.allow", "always"),
    # A Docker sandbox's user owns the working files; Paid still reads them.
    ("safe.directory", "*"),
)
# Paid's own scratch and the prepared environment in the working files: never committed.
EXCLUDED = (f"{REPORTS}/", *(f"/{name}/" for name in ENV_DIRS))
MAX_FILE_BYTES = 100 * 1024 * 1024  # GitHub refuses larger files
GITLINK = "160000"


class WorkspaceError(RuntimeError):
    pass


class SecretInChanges(WorkspaceError):
    """The changes contain a secret Paid holds: they are not pushed. Says where it came from, never the value."""

    def __init__(self, origins: list[str]) -> None:
        self.origins = origins
        super().__init__(
            "the changes contain a secret (" + ", ".join(origins) + "): nothing was pushed. Remove it from the"
            " branch and rotate the secret if it may have been exposed"
        )


@dataclass(frozen=True)
class DiffStat:
    files: int
    insertions: int
    deletions: int
    text: str


@dataclass
class Snapshot:
    """What Paid took from the working files, and what it refused to take."""

    commit: str | None
    files: int
    refused: list[str] = field(default_factory=list)


def git_dir_for(worktree: Path) -> Path:
    return worktree.parent / f"{worktree.name}.git"


def remove_run_files(worktree: Path) -> None:
    """The run's working files and Paid's git, once its branch is published (or there is nothing to publish)."""
    for path in (worktree, git_dir_for(worktree)):
        shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(OSError):
        worktree.parent.rmdir()  # the run's directory, when nothing else is left in it


def sweep_runs(work_dir: Path, max_age_days: float, now: float | None = None) -> list[str]:
    """Removes what runs left behind (a run that crashed or gave up) once untouched for `max_age_days`."""
    now = now or time.time()
    removed = []
    for run_dir in work_dir.iterdir() if work_dir.is_dir() else []:
        if run_dir.is_dir() and not run_dir.is_symlink() and now - run_dir.stat().st_mtime > max_age_days * 86400:
            shutil.rmtree(run_dir, ignore_errors=True)
            removed.append(run_dir.name)
    return removed


class Workspace:
    def __init__(self, path: Path, clone_url: str, token: str, branch: str, base: str) -> None:
        self.path = path
        self.git_dir = git_dir_for(path)
        self.clone_url = clone_url
        self.branch = branch
        self.base = base
        self._token = token
        SECRETS.register(token, "the GitHub token")

    # -- git, on Paid's terms ---------------------------------------------------------------------------------

    def _env(self, network: bool = False, index: Path | None = None) -> dict[str, str]:
        config = list(FIXED_CONFIG)
        if network:
            basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
            config.append(("http.extraHeader", f"Authorization: Basic {basic}"))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.git_dir / "home"),
            "XDG_CONFIG_HOME": str(self.git_dir / "home"),
            "LANG": "C.UTF-8",
            "GIT_DIR": str(self.git_dir),
            "GIT_WORK_TREE": str(self.path),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_CONFIG_COUNT": str(len(config)),
            **PAID_IDENTITY,
        }
        for number, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{number}"] = key
            env[f"GIT_CONFIG_VALUE_{number}"] = value
        if index is not None:
            env["GIT_INDEX_FILE"] = str(index)
        return env

    def git(
        self, *args: str, check: bool = True, network: bool = False, stdin: str | None = None, index: Path | None = None
    ) -> str:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.git_dir,
            env=self._env(network, index),
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",  # a file name that is not UTF-8 is still a name, not a crash
            check=False,
        )
        if check and proc.returncode != 0:
            raise WorkspaceError(f"git {args[0]} failed: {redact(proc.stderr.strip(), [self._token])}")
        return proc.stdout

    # -- the run's life ---------------------------------------------------------------------------------------

    def prepare(self) -> str:
        """Fetches the base (and the branch of an earlier attempt, if any) and checks the branch out as files."""
        self.path.mkdir(parents=True, exist_ok=True)
        (self.git_dir / "home").mkdir(parents=True, exist_ok=True)
        if not (self.git_dir / "HEAD").exists():
            self.git("init", "--quiet")
        (self.git_dir / "info").mkdir(exist_ok=True)
        (self.git_dir / "info" / "exclude").write_text("\n".join(EXCLUDED) + "\n")
        remote_branch = self.git("ls-remote", "--heads", self.clone_url, self.branch, network=True).strip()
        refspecs = [f"+refs/heads/{self.base}:refs/remotes/origin/{self.base}"]
        if remote_branch:
            refspecs.append(f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}")
        self.git("fetch", "--quiet", "--no-tags", "--no-recurse-submodules", self.clone_url, *refspecs, network=True)
        start = f"origin/{self.branch}" if remote_branch else f"origin/{self.base}"
        self.git("checkout", "--quiet", "--force", "-B", self.branch, start)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def commit_all(self, message: str) -> str | None:
        """Commits whatever the agent left in the working files; None when there is nothing to commit."""
        return self.snapshot(message).commit

    def snapshot(self, message: str) -> Snapshot:
        """Reads the working files as data and commits them with an index and objects only Paid wrote."""
        tracked = self._tracked()
        untracked = self._lines("ls-files", "-z", "--others", "--exclude-standard")
        entries: list[tuple[str, str, str]] = []  # mode, object id, path
        refused: list[str] = []
        regular: list[tuple[str, str]] = []  # mode, path, hashed below in one batch
        for path in sorted(set(tracked) | set(self._expand(untracked))):
            if path in tracked and tracked[path][0] == GITLINK:
                entries.append((GITLINK, tracked[path][1], path))  # a submodule pointer is not the agent's to move
                continue
            verdict = self._inspect(path)
            if verdict is None:
                continue  # deleted
            kind, detail = verdict
            if kind == "refused":
                refused.append(f"{path} ({detail})")
            elif kind == "symlink":
                oid = self.git("hash-object", "-w", "--no-filters", "--stdin", stdin=detail).strip()
                entries.append(("120000", oid, path))
            else:
                regular.append((kind, path))
        batch = [(mode, path) for mode, path in regular if "\n" not in path]  # --stdin-paths reads lines
        if batch:
            listing = "".join(f"{self.path / p}\n" for _, p in batch)
            oids = self.git("hash-object", "-w", "--no-filters", "--stdin-paths", stdin=listing).split()
            entries += [(mode, oid, path) for (mode, path), oid in zip(batch, oids, strict=True)]
        for mode, path in regular:
            if "\n" in path:
                oid = self.git("hash-object", "-w", "--no-filters", "--", str(self.path / path)).strip()
                entries.append((mode, oid, path))
        index = self.git_dir / "paid-index.next"
        index.unlink(missing_ok=True)
        self.git(
            "update-index",
            "-z",
            "--index-info",
            stdin="".join(f"{mode} {oid}\t{path}\0" for mode, oid, path in entries),
            index=index,
        )
        tree = self.git("write-tree", index=index).strip()
        os.replace(index, self.git_dir / "index")
        if tree == self.git("rev-parse", "HEAD^{tree}").strip():
            return Snapshot(None, len(entries), refused)
        message = clean(message, 4000) + ("\n\nNot committed: " + ", ".join(refused) if refused else "")
        commit = self.git("commit-tree", tree, "-p", "HEAD", "-F", "-", stdin=message).strip()
        self.git("update-ref", f"refs/heads/{self.branch}", commit)
        return Snapshot(commit, len(entries), refused)

    def secrets_in_changes(self) -> list[str]:
        """Where the secrets found in the branch's changes (diff, file names, messages) came from."""
        base = f"origin/{self.base}"
        diff = self.git("diff", "--no-ext-diff", "--no-textconv", "--text", f"{base}...HEAD")
        messages = self.git("log", "--format=%B", f"{base}..HEAD")
        return SECRETS.found_in(diff + "\n" + messages)

    def push(self) -> None:
        """Pushes the branch to the URL Paid was given, unless its changes contain a secret."""
        origins = self.secrets_in_changes()
        if origins:
            raise SecretInChanges(origins)
        self.git("push", "--quiet", "--no-verify", self.clone_url, f"HEAD:refs/heads/{self.branch}", network=True)

    def diff_stat(self) -> DiffStat:
        base = f"origin/{self.base}"
        numstat = self.git("diff", "--no-ext-diff", "--no-textconv", "--numstat", f"{base}...HEAD")
        insertions = deletions = files = 0
        for line in numstat.splitlines():
            added, removed, _ = line.split("\t", 2)
            files += 1
            insertions += int(added) if added.isdigit() else 0
            deletions += int(removed) if removed.isdigit() else 0
        text = self.git("diff", "--no-ext-diff", "--no-textconv", "--stat", f"{base}...HEAD").strip()
        return DiffStat(files, insertions, deletions, clean(text, 20_000))

    def commits_ahead(self) -> int:
        return int(self.git("rev-list", "--count", f"origin/{self.base}..HEAD").strip() or 0)

    # -- reading the working files as data --------------------------------------------------------------------

    def _lines(self, *args: str) -> list[str]:
        return [p for p in self.git(*args).split("\0") if p]

    def _tracked(self) -> dict[str, tuple[str, str]]:
        tracked = {}
        for line in self._lines("ls-files", "-z", "--stage"):
            meta, path = line.split("\t", 1)
            mode, oid, _stage = meta.split()
            tracked[path] = (mode, oid)
        return tracked

    def _expand(self, paths: list[str]) -> list[str]:
        """git lists a directory that holds a `.git` as one entry (`dir/`): Paid takes its files, not its git."""
        out = []
        for path in paths:
            if not path.endswith("/"):
                out.append(path)
                continue
            for directory, dirnames, filenames in os.walk(self.path / path, followlinks=False):
                dirnames[:] = [d for d in dirnames if d.lower() != ".git" and not os.path.islink(Path(directory, d))]
                links = [d for d in os.listdir(directory) if os.path.islink(Path(directory, d))]
                for name in {*filenames, *links}:
                    out.append(str(Path(directory, name).relative_to(self.path)))
        return out

    def _inspect(self, path: str) -> tuple[str, str] | None:
        """("100644"|"100755", "") for a regular file, ("symlink", target), ("refused", why), or None if gone."""
        parts = path.split("/")
        if any(part.lower() in (".git", "", ".", "..") for part in parts):
            return ("refused", "a path Paid never takes")
        current = self.path
        for part in parts[:-1]:  # no directory on the way may be a symlink: it could lead out of the worktree
            current = current / part
            try:
                if not stat.S_ISDIR(os.lstat(current).st_mode):
                    return None
            except FileNotFoundError:
                return None
        try:
            info = os.lstat(self.path / path)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(info.st_mode):
            target = os.readlink(self.path / path)
            inside = os.path.normpath(os.path.join(os.path.dirname(path), target))
            if os.path.isabs(target) or inside == ".." or inside.startswith("../"):
                return ("refused", "a symlink that points outside the repository")
            return ("symlink", target)
        if not stat.S_ISREG(info.st_mode):
            return ("refused", "not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            return ("refused", f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        return ("100755" if info.st_mode & stat.S_IXUSR else "100644", "")
