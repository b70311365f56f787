"""`paid prompts list | show | diff | new | promote | retire`: the prompt registry from the command line."""

from __future__ import annotations

import argparse
import difflib
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..learning.registry import PromptNotFound, PromptRefused, PromptRegistry, PromptVersion
from ..ledger import Ledger


def register(subparsers: Any) -> None:
    prompts = subparsers.add_parser("prompts", help="the prompt registry: versions, diffs, new ones, promotion")
    sub = prompts.add_subparsers(dest="prompts_command", required=True)

    def command(name: str, help_text: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text)
        parser.add_argument("--ledger-url", default=None, help="default: $PAID_LEDGER_URL or Dagster's database")
        parser.add_argument("--project", default="", help="owner/name (default: the global versions)")
        parser.set_defaults(func=func)
        return parser

    listing = command("list", "every version, with its status", cmd_list)
    listing.add_argument("name", nargs="?", default=None)
    listing.add_argument("--all-projects", action="store_true", help="global and every project's versions")

    show = command("show", "a version's record and template (default: the current one)", cmd_show)
    show.add_argument("name")
    show.add_argument("version", nargs="?", default=None, help="a version or a unique prefix of one")

    diff = command("diff", "what changed between two versions (default: the current one and its parent)", cmd_diff)
    diff.add_argument("name")
    diff.add_argument("old", nargs="?", default=None)
    diff.add_argument("new", nargs="?", default=None)

    new = command("new", "a new version from a file, or from $EDITOR on the current template", cmd_new)
    new.add_argument("name")
    new.add_argument("--file", default=None, help="the template's file (default: edit the current one in $EDITOR)")
    new.add_argument("--note", default="", help="what changed and why")
    new.add_argument("--author", default=None, help="default: $USER")
    new.add_argument("--promote", action="store_true", help="make it current at once")

    for name, func, help_text in (
        ("promote", cmd_promote, "make a version current"),
        ("retire", cmd_retire, "retire a version (kept and readable, never chosen again)"),
    ):
        change = command(name, help_text, func)
        change.add_argument("name")
        change.add_argument("version", help="a version or a unique prefix of one")
        change.add_argument("--reason", required=True, help="why, recorded with the change")
        change.add_argument("--by", default=None, help="default: $USER")


def registry(args: argparse.Namespace) -> PromptRegistry:
    return PromptRegistry(Ledger(args.ledger_url or None))


def who(given: str | None) -> str:
    return given or os.environ.get("USER") or "cli"


def refusing(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """An unknown name or version, or a change the registry refuses, is one line on stderr and exit status 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (PromptNotFound, PromptRefused) as exc:
            print(f"paid prompts {args.prompts_command}: {exc.args[0] if exc.args else exc}", file=sys.stderr)
            return 2

    return run


def resolve(reg: PromptRegistry, name: str, version: str | None, project: str) -> PromptVersion:
    """The version named by a full hash or a unique prefix; none given, the current one."""
    if version is None:
        return reg.current(name, project)
    matches = sorted({v.version for v in reg.visible(name, project) if v.version.startswith(version)})
    if not matches:
        known = ", ".join(reg.names())
        raise PromptNotFound(f"no version {version!r} of prompt {name!r} (prompts: {known or 'none'})")
    if len(matches) > 1:
        raise PromptNotFound(f"{version!r} names several versions of {name!r}: {', '.join(matches)}")
    return reg.get(name, matches[0], project or None)


def row(v: PromptVersion) -> str:
    scope = v.project or "(global)"
    created = v.created_at.strftime("%Y-%m-%d %H:%M")
    parent = v.parent or "-"
    return f"{v.name:<12} {scope:<24} {v.version}  {v.status:<9} {parent:<16}  {v.author:<10} {created}  {v.note}"


@refusing
def cmd_list(args: argparse.Namespace) -> int:
    reg = registry(args)
    versions = (
        reg.versions(args.name)
        if args.all_projects
        else reg.versions(args.name, args.project) + (reg.versions(args.name, "") if args.project else [])
    )
    if args.name and not versions:
        raise PromptNotFound(f"no prompt named {args.name!r} (prompts: {', '.join(reg.names()) or 'none'})")
    print(f"{'name':<12} {'project':<24} {'version':<16}  {'status':<9} {'parent':<16}  {'author':<10} created")
    for v in versions:
        print(row(v))
    return 0


@refusing
def cmd_show(args: argparse.Namespace) -> int:
    v = resolve(registry(args), args.name, args.version, args.project)
    print(f"# {v.name} {v.version} ({v.status}, {v.project or 'global'})")
    print(f"# parent {v.parent or '-'}, by {v.author} at {v.created_at.isoformat(timespec='seconds')}: {v.note}")
    print(v.template, end="" if v.template.endswith("\n") else "\n")
    return 0


@refusing
def cmd_diff(args: argparse.Namespace) -> int:
    reg = registry(args)
    if args.new is None and args.old is not None:
        old, new = resolve(reg, args.name, args.old, args.project), reg.current(args.name, args.project)
    else:
        new = resolve(reg, args.name, args.new, args.project)
        if args.old is None and new.parent is None:
            raise PromptNotFound(f"{args.name} {new.version} has no parent: name the version to compare it with")
        old = resolve(reg, args.name, args.old or new.parent, args.project)
    lines = difflib.unified_diff(
        old.template.splitlines(keepends=True),
        new.template.splitlines(keepends=True),
        f"{old.name}@{old.version}",
        f"{new.name}@{new.version}",
    )
    sys.stdout.writelines(lines)
    return 0


def edited(template: str, name: str) -> str:
    """The template after $EDITOR (else $VISUAL, else vi) on a copy of it."""
    editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    with tempfile.TemporaryDirectory(prefix="paid-prompt-") as tmp:
        path = Path(tmp) / f"{name}.md"
        path.write_text(template)
        subprocess.run([*shlex.split(editor), str(path)], check=True)
        return path.read_text()


@refusing
def cmd_new(args: argparse.Namespace) -> int:
    reg = registry(args)
    known = args.name in reg.names()
    parent = reg.current(args.name, args.project) if known else None
    if args.file:
        template = Path(args.file).read_text()
    elif parent is not None:
        template = edited(parent.template, args.name)
    else:
        raise PromptNotFound(f"no prompt named {args.name!r} to edit: give the new prompt's template with --file")
    if parent is not None and template == parent.template:
        print(f"{args.name}: the template did not change; no new version", file=sys.stderr)
        return 1
    parent_version = parent.version if parent else None
    version = reg.add(args.name, template, who(args.author), args.note, args.project, parent_version)
    print(f"{version.name} {version.version} added ({version.project or 'global'}, parent {version.parent or '-'})")
    if args.promote:
        reg.promote(args.name, version.version, who(args.author), args.note or "new version", args.project)
        print(f"{version.name} {version.version} is current")
    return 0


@refusing
def cmd_promote(args: argparse.Namespace) -> int:
    reg = registry(args)
    v = resolve(reg, args.name, args.version, args.project)
    changed = reg.promote(args.name, v.version, who(args.by), args.reason, args.project)
    where = f"for {args.project}" if args.project else "globally"
    print(f"{v.name} {v.version} {'is now' if changed else 'was already'} current {where}")
    return 0


@refusing
def cmd_retire(args: argparse.Namespace) -> int:
    reg = registry(args)
    v = resolve(reg, args.name, args.version, args.project)
    reg.retire(args.name, v.version, who(args.by), args.reason, args.project)
    print(f"{v.name} {v.version} retired {f'for {args.project}' if args.project else 'globally'}")
    return 0
