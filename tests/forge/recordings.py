"""Reads the recorded GitHub exchanges in tests/forge/recordings and folds them into key trees per type."""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def recordings_dir() -> Path:
    """tests/forge/recordings (in the repository: a clone alone runs the test), or $PAID_GITHUB_RECORDINGS."""
    env = os.environ.get("PAID_GITHUB_RECORDINGS")
    return Path(env) if env else Path(__file__).resolve().parent / "recordings"


@dataclass(frozen=True)
class Exchange:
    source: str
    method: str
    path: str
    status: int
    body: Any


def pygithub_exchanges(path: Path) -> Iterator[Exchange]:
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i + 9 < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        _scheme, method, _host, _port, target, _rh, _rb, status, _headers, body = lines[i : i + 10]
        i += 10
        ast.literal_eval(_headers)  # every block must parse: a misaligned read would be caught here
        try:
            parsed = json.loads(body) if body and body != "None" else None
        except json.JSONDecodeError:
            parsed = None
        yield Exchange(path.name, method.upper(), target, int(status), parsed)


def octokit_exchanges(path: Path) -> Iterator[Exchange]:
    for entry in json.loads(path.read_text()):
        response = entry["response"] if isinstance(entry["response"], (dict, list)) else None
        yield Exchange(path.name, entry["method"].upper(), entry["path"], int(entry["status"]), response)


def all_exchanges() -> list[Exchange]:
    root = recordings_dir()
    out = []
    for path in sorted((root / "pygithub").glob("*.txt")):
        out.extend(pygithub_exchanges(path))
    for path in sorted((root / "octokit").glob("*.json")):
        out.extend(octokit_exchanges(path))
    return out


REPO = r"/repos/[^/]+/[^/]+"
TYPE_RULES: list[tuple[str, str, str]] = [
    ("GET", r"^/user$", "authenticated_user"),
    ("GET", r"^/users/[^/]+$", "user"),
    ("GET", rf"^{REPO}$", "repository"),
    ("GET|POST|PATCH", rf"^{REPO}/issues(/\d+)?$", "issue"),
    ("GET", r"^/repositories/\d+/issues$", "issue"),
    ("GET|POST|PATCH|PUT", rf"^{REPO}/(issues/\d+/)?labels(/[^/]+)?$", "label"),
    ("GET|POST|PATCH", rf"^{REPO}/issues/(\d+/)?comments(/\d+)?$", "comment"),
    ("GET", rf"^{REPO}/issues/\d+/events$", "event"),
    ("GET", rf"^{REPO}/issues/\d+/timeline$", "timeline_event"),
    ("GET|POST", rf"^{REPO}/.*reactions$", "reaction"),
    ("GET|POST|PATCH", rf"^{REPO}/pulls(/\d+)?$", "pull"),
    ("GET|POST", rf"^{REPO}/pulls/\d+/reviews(/\d+)?$", "review"),
    ("GET", rf"^{REPO}/pulls/\d+/comments$", "review_comment"),
    ("GET", rf"^{REPO}/pulls/\d+/files$", "pull_file"),
    ("GET", rf"^{REPO}/pulls/\d+/commits$", "commit"),
    ("PUT", rf"^{REPO}/pulls/\d+/merge$", "merge"),
    ("GET|POST|PATCH", rf"^{REPO}/git/refs?(/.*)?$", "ref"),
    ("GET", rf"^{REPO}/branches/[^/]+$", "branch"),
    ("GET", rf"^{REPO}/commits/[^/]+/status$", "combined_status"),
    ("GET", rf"^{REPO}/commits/[^/]+/statuses$", "status"),
    ("POST", rf"^{REPO}/statuses/[0-9a-f]+$", "status"),
    ("GET", rf"^{REPO}/.*check-runs(/\d+)?$", "check_run"),
    ("GET", r"^/rate_limit$", "rate_limit"),
    ("GET", rf"^{REPO}/collaborators/[^/]+/permission$", "permission"),
]
# Kinds of items whose keys depend on a discriminating field: compared per kind.
DISCRIMINATED = {"event": "event", "timeline_event": "event"}


def classify(method: str, path: str, status: int) -> str | None:
    if status >= 400:
        return "error"
    bare = path.split("?")[0].rstrip("/") or "/"
    for methods, regex, kind in TYPE_RULES:
        if method in methods.split("|") and re.match(regex, bare):
            return kind
    return None


def items_of(kind: str, body: Any) -> list[Any]:
    if kind == "check_run" and isinstance(body, dict) and "check_runs" in body:
        return list(body["check_runs"])
    return list(body) if isinstance(body, list) else [body]


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}[type(value)]


Tree = dict[str, Any]


def fold(tree: Tree, value: Any) -> None:
    tree.setdefault("types", set()).add(json_type(value))
    if isinstance(value, dict):
        keys = tree.setdefault("keys", {})
        for key, sub in value.items():
            fold(keys.setdefault(key, {}), sub)
    elif isinstance(value, list):
        for sub in value:
            fold(tree.setdefault("items", {}), sub)


def type_name(kind: str, item: Any) -> str:
    field = DISCRIMINATED.get(kind)
    if field and isinstance(item, dict) and field in item:
        return f"{kind}:{item[field]}"
    return kind


def fold_by_type(trees: dict[str, Tree], kind: str, body: Any) -> None:
    for item in items_of(kind, body):
        if isinstance(item, dict):
            fold(trees.setdefault(type_name(kind, item), {}), item)


def recorded_trees() -> tuple[dict[str, Tree], list[Exchange]]:
    trees: dict[str, Tree] = {}
    unclassified = []
    for exchange in all_exchanges():
        if exchange.body is None:
            continue
        kind = classify(exchange.method, exchange.path, exchange.status)
        if kind is None:
            unclassified.append(exchange)
            continue
        fold_by_type(trees, kind, exchange.body)
    return trees, unclassified


def differences(recorded: Tree, ours: Tree, path: str = "") -> list[str]:
    """Keys the recording has and ours lacks, and keys whose non-null JSON types disagree."""
    problems = []
    for key, rsub in recorded.get("keys", {}).items():
        where = f"{path}.{key}" if path else key
        osub = ours.get("keys", {}).get(key)
        if osub is None:
            problems.append(f"missing {where}")
            continue
        rtypes, otypes = rsub["types"] - {"null"}, osub["types"] - {"null"}
        if rtypes and otypes and not rtypes & otypes:
            problems.append(f"type of {where}: recorded {sorted(rtypes)}, served {sorted(otypes)}")
            continue
        if "object" in osub["types"] or "array" in osub["types"]:
            problems.extend(differences(rsub, osub, where))
    if "items" in recorded and "items" in ours:
        problems.extend(differences(recorded["items"], ours["items"], path + "[]"))
    return problems


def nulls_on_our_side(recorded: Tree, ours: Tree, path: str = "") -> list[str]:
    """Keys recorded with an object that we served only as null: their insides went unchecked."""
    found = []
    for key, rsub in recorded.get("keys", {}).items():
        where = f"{path}.{key}" if path else key
        osub = ours.get("keys", {}).get(key)
        if osub is None:
            continue
        if "object" in rsub["types"] and osub["types"] == {"null"}:
            found.append(where)
        else:
            found.extend(nulls_on_our_side(rsub, osub, where))
    return found
