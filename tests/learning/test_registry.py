"""The prompt registry on real SQLite and PostgreSQL: immutable versions, global → project inheritance, promotion
and retirement recorded once with who and why, seeding from template files safe when processes race."""

from __future__ import annotations

import dataclasses
import multiprocessing
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paid_dagster.agent.prompts import TEMPLATES_DIR, content_hash
from paid_dagster.learning.registry import (
    PromptNotFound,
    PromptRefused,
    PromptRegistry,
    registry_for,
    versions_table,
)
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import Kind

BUILTIN = sorted(p.stem for p in TEMPLATES_DIR.glob("*.md"))


def rows(ledger: Ledger) -> list[Any]:
    with ledger.engine.connect() as conn:
        return list(conn.execute(sa.select(versions_table).order_by(versions_table.c.id)))


def test_the_built_in_templates_are_the_first_global_versions(ledger_url: str) -> None:
    registry = PromptRegistry(Ledger(ledger_url))
    system = registry.current("system")
    assert system.template == (TEMPLATES_DIR / "system.md").read_text()
    assert system.version == content_hash(system.template) and len(system.version) == 16
    assert (system.project, system.author, system.status, system.parent) == ("", "paid", "current", None)
    assert registry.names() == BUILTIN
    assert {"follow_up", "remediation", "review", "system", "task", "triage"} <= set(BUILTIN)
    # A second registry (another process, a later run) seeds nothing again.
    PromptRegistry(Ledger(ledger_url)).current("task")
    assert len(rows(Ledger(ledger_url))) == len(BUILTIN)
    assert Ledger(ledger_url).count(Kind.PROMPT_PROMOTED) == len(BUILTIN)


def test_versions_are_immutable_and_the_same_text_is_the_same_version(ledger_url: str) -> None:
    ledger = Ledger(ledger_url)
    registry = PromptRegistry(ledger)
    first = registry.add("task", "Fix {{ issue }} in {{ repo }} #{{ number }}.\n", "ana", "shorter")
    again = registry.add("task", "Fix {{ issue }} in {{ repo }} #{{ number }}.\n", "bob", "a different note")
    assert again == first and again.author == "ana" and again.note == "shorter"  # the record stands as written
    assert sum(1 for r in rows(ledger) if r.version == first.version) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.template = "changed"  # type: ignore[misc]
    assert not [m for m in dir(registry) if m.startswith(("update", "edit", "delete", "set_"))]
    # Retired, it is still there to read, unchanged.
    registry.retire("task", first.version, "ana", "worse scores")
    retired = registry.get("task", first.version)
    assert retired.status == "retired" and retired.template == first.template and retired.created_at == first.created_at
    assert ledger.count(Kind.PROMPT_ADDED) == len(BUILTIN) + 1


def test_a_projects_version_overrides_the_global_one_for_that_project_only(ledger_url: str) -> None:
    registry = PromptRegistry(Ledger(ledger_url))
    global_task = registry.current("task")
    house = registry.add(
        "task", "House rules.\n{{ issue }}\n", "owner", project="octo/shop", parent=global_task.version
    )
    assert registry.current("task", "octo/shop") == global_task  # added, not yet current
    assert registry.promote("task", house.version, "owner", "house rules", project="octo/shop")
    assert registry.current("task", "octo/shop").version == house.version
    assert registry.current("task", "octo/other") == global_task
    assert registry.current("task") == global_task
    assert registry.current("system", "octo/shop").project == ""  # names without a project version: the global one
    # A project may go back to the global version by promoting it for itself.
    assert registry.promote("task", global_task.version, "owner", "back to Paid's", project="octo/shop")
    assert registry.current("task", "octo/shop").version == global_task.version


def test_promote_and_retire_are_recorded_once_with_who_and_why(ledger_url: str) -> None:
    ledger = Ledger(ledger_url)
    registry = PromptRegistry(ledger)
    old = registry.current("review")
    new = registry.add("review", "Review {{ diff }} of {{ repo }} #{{ number }} harder.\n", "ana", parent=old.version)
    promoted_before = ledger.count(Kind.PROMPT_PROMOTED)
    assert registry.promote("review", new.version, "ana", "stricter review") is True
    assert registry.promote("review", new.version, "ana", "stricter review") is False  # already current
    event = ledger.last("prompts", Kind.PROMPT_PROMOTED)
    assert event is not None and ledger.count(Kind.PROMPT_PROMOTED) == promoted_before + 1
    assert event.data | {} == {
        "name": "review",
        "version": new.version,
        "project": "",
        "previous": old.version,
        "by": "ana",
        "reason": "stricter review",
    }
    with pytest.raises(PromptRefused, match="current version globally: promote another version first"):
        registry.retire("review", new.version, "ana", "oops")
    registry.retire("review", old.version, "bob", "superseded")
    registry.retire("review", old.version, "bob", "superseded")  # already retired: nothing more recorded
    retired = ledger.read(stream="prompts", kinds=[Kind.PROMPT_RETIRED])
    assert [(e.data["version"], e.data["by"], e.data["reason"]) for e in retired] == [
        (old.version, "bob", "superseded")
    ]
    choice = registry.choose("review", "", {})
    assert choice.version.version == new.version and old.version not in choice.candidates
    # Promoting a retired version brings it back (A → B → A is a real history, recorded each time).
    assert registry.promote("review", old.version, "bob", "the new one was worse")
    assert registry.get("review", old.version).status == "current"
    assert registry.promote("review", new.version, "ana", "try again") is True


def test_unknown_names_and_versions_are_errors_that_say_so(ledger_url: str) -> None:
    registry = PromptRegistry(Ledger(ledger_url))
    with pytest.raises(PromptNotFound, match="'poem' has no current version"):
        registry.current("poem")
    with pytest.raises(PromptNotFound, match="no version 'deadbeefdeadbeef' of prompt 'task'"):
        registry.get("task", "deadbeefdeadbeef")
    with pytest.raises(PromptNotFound):
        registry.promote("task", "deadbeefdeadbeef", "ana", "why not")
    with pytest.raises(PromptNotFound, match="parent version"):
        registry.add("task", "x {{ issue }}", "ana", parent="0000000000000000")
    with pytest.raises(PromptRefused, match="letters, digits and underscores"):
        registry.add("../system", "x", "ana")
    with pytest.raises(PromptNotFound):
        registry.choose("task", "", {"task": "0000000000000000"})


def test_an_edited_template_file_becomes_a_new_current_version_child_of_the_previous(
    ledger_url: str, tmp_path: Path
) -> None:
    """A new Paid release with an edited built-in template (here a copy of the templates' directory)."""
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    ledger = Ledger(ledger_url)
    before = PromptRegistry(ledger, templates).current("system")
    (templates / "system.md").write_text(before.template + "\nNever push to the default branch.\n")
    after = PromptRegistry(ledger, templates).current("system")
    assert after.version != before.version and after.parent == before.version and after.author == "paid"
    assert PromptRegistry(ledger, templates).get("system", before.version).status == "available"
    # The file reverted: that version is known, so a person's choice (here, the new one) stands.
    (templates / "system.md").write_text(before.template)
    assert PromptRegistry(ledger, templates).current("system").version == after.version


def test_a_projects_prompts_dir_becomes_project_versions(ledger_url: str, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "system.md").write_text("Be terse. One command at a time.\n")
    (prompts / "notes.md").write_text("not a prompt Paid sends\n")
    ledger = Ledger(ledger_url)
    first = registry_for(ledger, "octo/shop", str(prompts)).current("system", "octo/shop")
    global_system = PromptRegistry(ledger).current("system")
    assert first.project == "octo/shop" and first.parent == global_system.version
    assert "notes" not in PromptRegistry(ledger).names()
    (prompts / "system.md").write_text("Be terse. One command at a time. Run the tests.\n")
    second = registry_for(ledger, "octo/shop", str(prompts)).current("system", "octo/shop")
    assert second.parent == first.version and second.version != first.version
    assert PromptRegistry(ledger).current("system") == global_system


def _seed(url: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    results.put({name: PromptRegistry(Ledger(url)).current(name).version for name in BUILTIN})


def test_processes_seeding_at_once_add_and_promote_each_template_once(ledger_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_seed, args=(ledger_url, barrier, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    seen = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert all(s == seen[0] for s in seen)
    ledger = Ledger(ledger_url)
    assert sorted(r.name for r in rows(ledger)) == BUILTIN
    assert ledger.count(Kind.PROMPT_ADDED) == ledger.count(Kind.PROMPT_PROMOTED) == len(BUILTIN)
