"""Parsers for the machine-readable output of linters, type checkers and test runners."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from .findings import Finding


def _rel(path: str, root: str = "") -> str:
    if root and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1 :]
    return path.removeprefix("./")


def _json_payload(text: str, opener: str) -> str:
    """The JSON document in a tool's output, skipping warnings that a sandbox merged in from stderr."""
    for index, line in enumerate(text.splitlines(keepends=True)):
        if line.lstrip().startswith(opener):
            return "".join(text.splitlines(keepends=True)[index:])
    return opener + ("]" if opener == "[" else "}")


def ruff_json(text: str, root: str = "") -> list[Finding]:
    text = _json_payload(text, "[")
    return [
        Finding(
            "ruff",
            _rel(item["filename"], root),
            item["location"]["row"],
            item["location"]["column"],
            item.get("code") or "syntax",
            "error",
            item["message"],
            item.get("fix") is not None,
        )
        for item in json.loads(text)
    ]


def mypy_json(text: str, root: str = "") -> list[Finding]:
    """`mypy --output json`: one JSON object per line."""
    findings = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        if item.get("severity") == "note":
            continue
        findings.append(
            Finding(
                "mypy",
                _rel(item["file"], root),
                item.get("line") or 0,
                item.get("column") or 0,
                item.get("code") or "",
                item.get("severity", "error"),
                item["message"],
            )
        )
    return findings


def junit_xml(text: str, tool: str = "pytest", root: str = "") -> list[Finding]:
    """JUnit XML (pytest with junit_family=xunit1 gives file and line): one finding per failed or errored test."""
    findings = []
    tree = ET.fromstring(text)
    for case in tree.iter("testcase"):
        for kind in ("failure", "error"):
            problem = case.find(kind)
            if problem is None:
                continue
            name = f"{case.get('classname', '')}.{case.get('name', '')}".strip(".")
            message = (problem.get("message") or problem.text or kind).strip().splitlines()[0][:300]
            file = case.get("file") or (case.get("classname", "").replace(".", "/") + ".py")
            findings.append(
                Finding(
                    tool,
                    _rel(file, root),
                    int(case.get("line") or 0) + 1 if case.get("line") else 0,
                    0,
                    name,
                    "error",
                    message,
                )
            )
    return findings


def eslint_json(text: str, root: str = "") -> list[Finding]:
    findings = []
    for result in json.loads(_json_payload(text, "[")):
        for m in result.get("messages", []):
            findings.append(
                Finding(
                    "eslint",
                    _rel(result["filePath"], root),
                    m.get("line") or 0,
                    m.get("column") or 0,
                    m.get("ruleId") or "parse",
                    "error" if m.get("severity") == 2 else "warning",
                    m["message"],
                    "fix" in m,
                )
            )
    return findings


TSC_LINE = re.compile(
    r"^(?P<file>[^\s(][^(]*)\((?P<line>\d+),(?P<col>\d+)\): (?P<sev>error|warning) (?P<code>TS\d+): (?P<msg>.*)$"
)


def tsc(text: str, root: str = "") -> list[Finding]:
    """`tsc --noEmit --pretty false`."""
    out = []
    for line in text.splitlines():
        m = TSC_LINE.match(line.strip())
        if m:
            out.append(
                Finding("tsc", _rel(m["file"], root), int(m["line"]), int(m["col"]), m["code"], m["sev"], m["msg"])
            )
    return out


def go_test_json(text: str, root: str = "") -> list[Finding]:
    """`go test -json`: a finding per failed test, with the first output line that names a file."""
    outputs: dict[tuple[str, str], list[str]] = {}
    failed: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        key = (event.get("Package", ""), event.get("Test", ""))
        if event.get("Action") == "output" and event.get("Test"):
            outputs.setdefault(key, []).append(event.get("Output", ""))
        elif event.get("Action") == "fail" and event.get("Test"):
            failed.append(key)
    findings = []
    for package, test in failed:
        where = next(
            (
                re.search(r"(\S+\.go):(\d+): (.*)", o)
                for o in outputs.get((package, test), [])
                if re.search(r"\S+\.go:\d+:", o)
            ),
            None,
        )
        findings.append(
            Finding(
                "go test",
                where.group(1) if where else package,
                int(where.group(2)) if where else 0,
                0,
                test,
                "error",
                where.group(3).strip() if where else f"{test} failed",
            )
        )
    return findings


GO_VET_LINE = re.compile(r"^(?:vet: )?(?P<file>[^:\s]+\.go):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")


def go_vet(text: str, root: str = "") -> list[Finding]:
    out = []
    for line in text.splitlines():
        m = GO_VET_LINE.match(line.strip())
        if m:
            out.append(
                Finding("go vet", _rel(m["file"], root), int(m["line"]), int(m["col"]), "vet", "error", m["msg"])
            )
    return out


def cargo_json(text: str, tool: str = "clippy", root: str = "") -> list[Finding]:
    """`cargo clippy --message-format=json`: compiler messages with spans."""
    findings = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        item: dict[str, Any] = json.loads(line)
        message = item.get("message") if item.get("reason") == "compiler-message" else None
        if not message or message.get("level") not in ("error", "warning"):
            continue
        spans = [s for s in message.get("spans", []) if s.get("is_primary")] or [{}]
        span = spans[0]
        code = (message.get("code") or {}).get("code") or ""
        fixable = any(
            s.get("suggested_replacement") is not None for c in message.get("children", []) for s in c.get("spans", [])
        )
        findings.append(
            Finding(
                tool,
                span.get("file_name", ""),
                span.get("line_start", 0),
                span.get("column_start", 0),
                code,
                message["level"],
                message["message"],
                fixable,
            )
        )
    return findings


CARGO_FAIL = re.compile(r"^---- (?P<test>\S+) stdout ----$")
CARGO_PANIC = re.compile(r"panicked at (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+):\s*$")


def cargo_test(text: str, root: str = "") -> list[Finding]:
    """libtest's plain output (its JSON needs nightly): a finding per failed test, with the panic location."""
    findings, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        m = CARGO_FAIL.match(line)
        if not m:
            continue
        file, lineno, message = "", 0, f"{m['test']} failed"
        for follow in lines[i + 1 : i + 8]:
            p = CARGO_PANIC.search(follow)
            if p:
                file, lineno = p["file"], int(p["line"])
                idx = lines.index(follow)
                message = lines[idx + 1].strip() if idx + 1 < len(lines) else message
                break
        findings.append(Finding("cargo test", file, lineno, 0, m["test"], "error", message))
    return findings


def rubocop_json(text: str, root: str = "") -> list[Finding]:
    data = json.loads(_json_payload(text, "{"))
    findings = []
    for f in data.get("files", []):
        for o in f.get("offenses", []):
            severity = "error" if o.get("severity") in ("error", "fatal") else "warning"
            findings.append(
                Finding(
                    "rubocop",
                    f["path"],
                    o["location"]["start_line"],
                    o["location"]["start_column"],
                    o["cop_name"],
                    severity,
                    o["message"],
                    bool(o.get("correctable")),
                )
            )
    return findings


def rspec_json(text: str, root: str = "") -> list[Finding]:
    start = text.find("{")
    data = json.loads(text[start:] if start >= 0 else "{}")
    return [
        Finding(
            "rspec",
            _rel(e.get("file_path", ""), root),
            e.get("line_number") or 0,
            0,
            e.get("full_description", ""),
            "error",
            ((e.get("exception") or {}).get("message") or "failed").strip().splitlines()[0],
        )
        for e in data.get("examples", [])
        if e.get("status") == "failed"
    ]


MYPY_LINE = re.compile(
    r"^(?P<file>[^:\s][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<sev>error|warning): (?P<msg>.*?)"
    r"(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)


def mypy_any(text: str, root: str = "") -> list[Finding]:
    """mypy's JSON lines when it gave them, else its plain `file:line: error: message  [code]` lines (any
    version of mypy writes these, a project's pinned one too)."""
    if any(line.startswith("{") for line in text.splitlines()):
        return mypy_json(text, root)
    out = []
    for line in text.splitlines():
        m = MYPY_LINE.match(line.rstrip())
        if m:
            out.append(
                Finding(
                    "mypy",
                    _rel(m["file"], root),
                    int(m["line"]),
                    int(m["col"] or 0),
                    m["code"] or "",
                    m["sev"],
                    m["msg"],
                )
            )
    return out


def junit_counts(text: str) -> dict[str, int]:
    """The test runner's own totals, from the JUnit report's suites: collected, passed, failed, errors, skipped."""
    tree = ET.fromstring(text)
    suites = [tree] if tree.tag == "testsuite" else list(tree.iter("testsuite"))
    totals = {key: sum(int(s.get(key) or 0) for s in suites) for key in ("tests", "failures", "errors", "skipped")}
    return {
        "collected": totals["tests"],
        "passed": totals["tests"] - totals["failures"] - totals["errors"] - totals["skipped"],
        "failed": totals["failures"],
        "errors": totals["errors"],
        "skipped": totals["skipped"],
    }


PYTEST_SUMMARY = re.compile(r"^=+ (?P<body>.*?\d+ (?:passed|failed|skipped|errors?|deselected|xfailed|xpassed).*?) =+$")
PYTEST_PART = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")


def pytest_counts(text: str) -> dict[str, int]:
    """pytest's closing line (`== 2 failed, 3 passed in 0.1s ==`) when the output holds one; {} otherwise."""
    lines = [m for m in (PYTEST_SUMMARY.match(line.strip()) for line in text.splitlines()) if m]
    if not lines:
        return {"collected": 0} if re.search(r"^=+ no tests ran", text, re.M) else {}
    parts = {
        ("errors" if kind.startswith("error") else kind): int(n) for n, kind in PYTEST_PART.findall(lines[-1]["body"])
    }
    counts = {key: parts.get(key, 0) for key in ("passed", "failed", "errors", "skipped")}
    counts["passed"] += parts.get("xpassed", 0)
    counts["skipped"] += parts.get("xfailed", 0)
    counts["collected"] = sum(counts.values())
    return counts


TAP_RESULT = re.compile(
    r"^(?P<ok>not ok|ok)\b\s*(?P<number>\d+)?\s*(?:-\s*)?(?P<name>[^#]*?)\s*(?:#\s*(?P<directive>\w+).*)?$"
)
TAP_AT = re.compile(r"^\s+(?:at|location):\s.*?[(\s'](?:file://)?(?P<file>[^\s():']+):(?P<line>\d+)(?::\d+)?[)']?\s*$")
TAP_TOTAL = re.compile(
    r"^#\s+(?P<key>tests|pass|fail|skip|skipped|todo|suites|cancelled|duration_ms)\s+(?P<n>\d+(?:\.\d+)?)\s*$"
)


def tap(text: str, root: str = "") -> list[Finding]:
    """TAP (tape, node-tap, `node --test`): one finding per `not ok` test point, named after the `# test` it
    belongs to and its own description (`parse args › no`), with the file and line of its YAML `at:` when given.
    Output that holds no TAP gives no findings: the exit code decides, as with no parser."""
    findings: list[Finding] = []
    group = ""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("# ") and not TAP_TOTAL.match(stripped):
            group = stripped[2:].strip().removeprefix("Subtest: ")  # node --test: `# Subtest: name`
            continue
        match = TAP_RESULT.match(stripped)
        if not match or match["ok"] != "not ok" or (match["directive"] or "").lower() in ("skip", "todo"):
            continue
        name = match["name"].strip() or f"test {match['number']}"
        file, number, detail = "", 0, ""
        for follow in lines[index + 1 : index + 40]:
            if TAP_RESULT.match(follow.strip()) or follow.strip().startswith("# "):
                break
            at = TAP_AT.match(follow)
            if at and not file:
                file, number = _rel(at["file"], root or "/workspace"), int(at["line"])
            elif not detail and follow.strip().startswith(("operator:", "message:")):
                detail = follow.strip()
        rule = f"{group} › {name}" if group and group != name else name
        findings.append(Finding("tap", file, number, 0, rule, "error", f"not ok {match['number'] or ''} {name}"
                                + (f" ({detail})" if detail else "")))  # fmt: skip
    return findings


def tap_counts(text: str) -> dict[str, int]:
    """The TAP producer's closing totals (`# tests 12`, `# pass 11`, `# fail 1`); {} when there are none."""
    totals: dict[str, int] = {}
    for line in text.splitlines():
        match = TAP_TOTAL.match(line.strip())
        if match:
            key = {"skipped": "skip"}.get(match["key"], match["key"])
            totals[key] = int(float(match["n"]))
    if "tests" not in totals:
        return {}
    failed, skipped = totals.get("fail", 0), totals.get("skip", 0) + totals.get("todo", 0)
    passed = totals.get("pass", totals["tests"] - failed - skipped)
    return {"collected": totals["tests"], "passed": passed, "failed": failed, "errors": 0, "skipped": skipped}


def exit_code(text: str, root: str = "") -> list[Finding]:
    """A command with no parser: no findings; its exit code decides and the end of its output is the feedback."""
    return []


PARSERS: dict[str, Callable[[str], list[Finding]]] = {
    "exit-code": exit_code,
    "ruff": ruff_json,
    "mypy": mypy_any,
    "junit": junit_xml,
    "eslint": eslint_json,
    "tsc": tsc,
    "go-test": go_test_json,
    "go-vet": go_vet,
    "clippy": cargo_json,
    "cargo-test": cargo_test,
    "rubocop": rubocop_json,
    "rspec": rspec_json,
    "tap": tap,
}
