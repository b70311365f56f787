"""Selects, from the full set of recorded GitHub exchanges, the ones the fidelity test needs, into
tests/forge/recordings/ (run it when the full set changes):

    python -m tests.forge.select_recordings /path/to/github-recordings

An exchange is kept when it adds a key, a JSON type or an endpoint that the exchanges kept before it lack,
and of a list in a kept response only the items that add a key or a type; so what is kept folds into
exactly the same key trees and endpoints as the full set (checked after writing). Everything kept is
verbatim: PyGithub's blocks line for line (a pruned list's body line re-serialized compactly, as it was),
octokit's entries as JSON.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from . import recordings

HERE = Path(__file__).resolve().parent / "recordings"


def facts_of(exchange: recordings.Exchange) -> set[str]:
    trees: dict[str, recordings.Tree] = {}
    kind = recordings.classify(exchange.method, exchange.path, exchange.status) if exchange.body is not None else None
    if kind is not None:
        recordings.fold_by_type(trees, kind, exchange.body)
    return {kind + fact for kind, tree in trees.items() for fact in flatten(tree)}


def flatten(tree: recordings.Tree, prefix: str = "") -> set[str]:
    out = {f"{prefix}:{t}" for t in tree.get("types", set())}
    for key, sub in tree.get("keys", {}).items():
        out |= flatten(sub, f"{prefix}.{key}")
    if "items" in tree:
        out |= flatten(tree["items"], prefix + "[]")
    return out


def endpoint_of(exchange: recordings.Exchange) -> tuple[str, str]:
    return exchange.method, re.sub(r"^/(repos/[^/]+/[^/]+|repositories/\d+)", "/repos/o/r", exchange.path.split("?")[0])


def pruned(exchange: recordings.Exchange) -> Any:
    """The response body with only the items of its list (or of `check_runs`) that add a key or a type."""
    kind = recordings.classify(exchange.method, exchange.path, exchange.status) if exchange.body is not None else None
    body = exchange.body
    items = body if isinstance(body, list) else body.get("check_runs") if kind == "check_run" else None
    if kind is None or not isinstance(items, list):
        return body
    kept, seen = [], set()
    for item in items:
        trees: dict[str, recordings.Tree] = {}
        recordings.fold_by_type(trees, kind, [item])
        new = {k + fact for k, tree in trees.items() for fact in flatten(tree)} - seen
        if new or not kept:
            kept.append(item)
            seen |= new
    return kept if isinstance(body, list) else {**body, "check_runs": kept}


def blocks(path: Path) -> list[str]:
    """PyGithub's file as its blocks of ten lines, verbatim, in the order `recordings.pygithub_exchanges` reads."""
    lines = path.read_text(encoding="utf-8").split("\n")
    out, i = [], 0
    while i + 9 < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        out.append("\n".join(lines[i : i + 10]))
        i += 10
    return out


def main(source: Path) -> None:
    files = sorted((source / "pygithub").glob("*.txt")) + sorted((source / "octokit").glob("*.json"))
    candidates: list[tuple[Path, int, set[str], tuple[str, str], int]] = []
    for path in files:
        exchanges = list(
            recordings.pygithub_exchanges(path) if path.suffix == ".txt" else recordings.octokit_exchanges(path)
        )
        for index, exchange in enumerate(exchanges):
            size = len(json.dumps(pruned(exchange))) if exchange.body is not None else 0
            candidates.append((path, index, facts_of(exchange), endpoint_of(exchange), size))
    all_facts = set().union(*(c[2] for c in candidates))
    all_endpoints = {c[3] for c in candidates}
    facts: set[str] = set()
    endpoints: set[tuple[str, str]] = set()
    kept: dict[Path, list[int]] = {}
    remaining = list(candidates)
    while facts != all_facts or endpoints != all_endpoints:
        gains = [(len(c[2] - facts) + (50 if c[3] not in endpoints else 0)) / (c[4] + 500) ** 0.7 for c in remaining]
        best = remaining[gains.index(max(gains))]
        remaining.remove(best)
        kept.setdefault(best[0], []).append(best[1])
        facts |= best[2]
        endpoints.add(best[3])
    if HERE.exists():
        for sub in ("pygithub", "octokit"):
            shutil.rmtree(HERE / sub, ignore_errors=True)
    for path, indexes in sorted(kept.items()):
        target = HERE / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".txt":
            exchanges = list(recordings.pygithub_exchanges(path))
            chosen = []
            for i, block in enumerate(blocks(path)):
                if i in indexes:
                    body = pruned(exchanges[i])
                    if body is not exchanges[i].body:
                        lines = block.split("\n")
                        block = "\n".join([*lines[:9], json.dumps(body, separators=(",", ":"), ensure_ascii=False)])
                    chosen.append(block)
            target.write_text("\n".join(chosen) + "\n", encoding="utf-8")
        else:
            entries: list[Any] = json.loads(path.read_text())
            exchanges = list(recordings.octokit_exchanges(path))
            chosen = []
            for i, entry in enumerate(entries):
                if i in indexes:
                    body = pruned(exchanges[i])
                    chosen.append(entry if body is exchanges[i].body else {**entry, "response": body})
            target.write_text(json.dumps(chosen, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    # The kept exchanges fold into exactly what the full set folds into.
    kept_exchanges = [
        *(e for p in sorted((HERE / "pygithub").glob("*.txt")) for e in recordings.pygithub_exchanges(p)),
        *(e for p in sorted((HERE / "octokit").glob("*.json")) for e in recordings.octokit_exchanges(p)),
    ]
    assert set().union(*(facts_of(e) for e in kept_exchanges)) == all_facts
    assert {endpoint_of(e) for e in kept_exchanges} == all_endpoints
    size = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"kept {len(kept_exchanges)} of {len(candidates)} exchanges from {len(kept)} files: {size:,} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
