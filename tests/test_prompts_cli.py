"""`paid prompts`: a round trip through list, new (from a file and from $EDITOR), show, diff, promote and retire,
and the errors a person gets for unknown names and versions and refused changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from paid_dagster.cli import main
from paid_dagster.learning.registry import PromptRegistry
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import Kind


def paid(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    code = main(["prompts", *argv, "--ledger-url", url])
    out, err = capsys.readouterr()
    return code, out, err


def test_prompts_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    code, out, _ = paid(capsys, url, "list")
    assert code == 0 and all(f"{n} " in out for n in ("system", "task", "triage", "review", "follow_up", "remediation"))
    original = PromptRegistry(Ledger(url)).current("task")

    draft = tmp_path / "task.md"
    draft.write_text(original.template.replace("smallest change", "smallest tested change"))
    code, out, _ = paid(capsys, url, "new", "task", "--file", str(draft), "--note", "tests", "--author", "ana")
    assert code == 0 and f"parent {original.version}" in out
    added = PromptRegistry(Ledger(url)).versions("task", "")[-1]
    assert (added.author, added.note, added.status) == ("ana", "tests", "available")

    code, out, _ = paid(capsys, url, "diff", "task", original.version[:6], added.version[:6])
    assert code == 0 and "-Make the smallest change" in out and "+Make the smallest tested change" in out

    code, out, _ = paid(capsys, url, "promote", "task", added.version[:8], "--reason", "better scores", "--by", "ana")
    assert code == 0 and "is now current globally" in out
    code, out, _ = paid(capsys, url, "promote", "task", added.version, "--reason", "again")
    assert code == 0 and "was already current" in out
    code, out, _ = paid(capsys, url, "show", "task")
    assert code == 0 and f"# task {added.version} (current, global)" in out and "smallest tested change" in out
    code, out, _ = paid(capsys, url, "diff", "task")  # the current one against its parent
    assert "+Make the smallest tested change" in out

    # $EDITOR edits a copy of the current template; a project's version overrides the global one for it only.
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nprintf 'House style: small diffs.\\n' >> \"$1\"\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    code, out, _ = paid(capsys, url, "new", "task", "--project", "octo/shop", "--promote", "--note", "house")
    assert code == 0 and "is current" in out
    assert PromptRegistry(Ledger(url)).current("task", "octo/shop").template.endswith("House style: small diffs.\n")
    assert PromptRegistry(Ledger(url)).current("task").version == added.version
    code, out, _ = paid(capsys, url, "list", "task", "--project", "octo/shop")
    assert "octo/shop" in out and "(global)" in out

    code, out, _ = paid(capsys, url, "retire", "task", original.version, "--reason", "superseded", "--by", "bob")
    assert code == 0 and "retired globally" in out
    retired = Ledger(url).last("prompts", Kind.PROMPT_RETIRED)
    assert retired is not None and (retired.data["by"], retired.data["reason"]) == ("bob", "superseded")
    code, out, _ = paid(capsys, url, "show", "task", original.version)
    assert code == 0 and "(retired, global)" in out  # still readable


def test_prompts_errors_say_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    current = PromptRegistry(Ledger(url)).current("system")
    code, _, err = paid(capsys, url, "show", "poem")
    assert code == 2 and "'poem' has no current version" in err and "system" in err
    code, _, err = paid(capsys, url, "show", "system", "ffffffff")
    assert code == 2 and "no version 'ffffffff' of prompt 'system'" in err
    code, _, err = paid(capsys, url, "retire", "system", current.version, "--reason", "tidy")
    assert code == 2 and "is the current version globally: promote another version first" in err
    code, _, err = paid(capsys, url, "new", "poem")
    assert code == 2 and "--file" in err
    same = tmp_path / "same.md"
    same.write_text(current.template)
    code, _, err = paid(capsys, url, "new", "system", "--file", str(same))
    assert code == 1 and "did not change" in err
    with pytest.raises(SystemExit):  # a change without a reason is refused by the parser
        main(["prompts", "promote", "system", current.version, "--ledger-url", url])
    assert Ledger(url).count(Kind.PROMPT_RETIRED) == 0


def test_paid_prompts_runs_as_a_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    env = {**os.environ, "PAID_LEDGER_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "paid_dagster.cli", "prompts", "show", "triage"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("# triage ") and "(current, global)" in done.stdout
