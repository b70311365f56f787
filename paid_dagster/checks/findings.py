"""Findings and check results: one shape for what every tool reports, and what a result honestly says."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"
TEST_KINDS = ("tests",)


@dataclass(frozen=True)
class Finding:
    tool: str
    file: str
    line: int
    column: int
    rule: str
    severity: str  # error | warning
    message: str
    fixable: bool = False

    def as_line(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        fix = " [fixable]" if self.fixable else ""
        rule = f" ({self.rule})" if self.rule else ""
        return f"{where} – {self.message}{rule}{fix}" if where else f"{self.message}{rule}{fix}"

    def key(self, test: bool = False) -> tuple[str, ...]:
        """What makes two findings the same across commits: never the line, which shifts; a test by its id."""
        return (self.tool, self.rule) if test else (self.tool, self.file, self.rule, self.message)


@dataclass
class CheckResult:
    """One check's run. `status` is passed, failed or not run (`note` says why); a check that did not really run
    is never passed. After a comparison with the base commit, `new` holds what this change made worse."""

    check: str
    tool: str
    status: str
    findings: list[Finding] = field(default_factory=list)
    duration_s: float = 0.0
    note: str = ""
    kind: str = "other"  # tests | lint | types | check | other
    command: str = ""
    exit_code: int | None = None
    counts: dict[str, int] = field(default_factory=dict)  # from the tool's own summary
    source: str = ""  # where the check came from: a workflow file, package.json, paid.yaml, bundled …
    runner: str = ""  # whose tool ran: project (its environment), bundled (Paid's), system
    parser: str = ""  # the parser of its output; exit-code: none, the exit code decides
    output_tail: str = ""
    compared: bool = False  # whether a baseline of this check was compared
    new: list[Finding] = field(default_factory=list)
    already: list[Finding] = field(default_factory=list)
    worse: bool = False  # what counts against the run: new errors, or a check that no longer runs

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity != "error")

    @property
    def error_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def bundled(self) -> bool:
        return self.runner == "bundled"

    def key(self, finding: Finding) -> tuple[str, ...]:
        return finding.key(test=self.kind in TEST_KINDS)

    def as_dict(self, limit: int = 50) -> dict[str, Any]:
        return {
            "check": self.check,
            "tool": self.tool,
            "kind": self.kind,
            "status": self.status,
            "command": self.command,
            "exit_code": self.exit_code,
            "counts": dict(self.counts),
            "source": self.source,
            "runner": self.runner,
            "parser": self.parser,
            "bundled": self.bundled,
            "errors": self.errors,
            "warnings": self.warnings,
            "new_errors": len(self.new),
            "already_failing": len(self.already),
            "worse": self.worse,
            "duration_s": round(self.duration_s, 3),
            "note": self.note,
            "output_tail": self.output_tail,
            "findings": [asdict(f) for f in self.findings[:limit]],
            "new": [asdict(f) for f in self.new[:limit]],
            "already": [asdict(f) for f in self.already[:limit]],
        }

    def as_record(self) -> dict[str, Any]:
        """Everything, for the baseline's cache."""
        record = self.as_dict(limit=10**9)
        record["findings"] = [asdict(f) for f in self.findings]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CheckResult:
        return cls(
            check=record["check"],
            tool=record["tool"],
            status=record["status"],
            findings=[Finding(**f) for f in record.get("findings", [])],
            duration_s=float(record.get("duration_s", 0.0)),
            note=record.get("note", ""),
            kind=record.get("kind", "other"),
            command=record.get("command", ""),
            exit_code=record.get("exit_code"),
            counts=dict(record.get("counts", {})),
            source=record.get("source", ""),
            runner=record.get("runner", ""),
            parser=record.get("parser", ""),
            output_tail=record.get("output_tail", ""),
        )


def severity_counts(findings: list[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return counts


def overall_status(results: list[CheckResult]) -> str:
    """failed: the change made something worse; incomplete: some checks could not run; already_failing:
    nothing got worse but some checks still fail as they did on the base commit; skipped: none ran."""
    ran = [r for r in results if r.status != NOT_RUN]
    if not ran and not any(r.worse for r in results):
        return "skipped"
    if any(r.worse for r in results):
        return "failed"
    if len(ran) < len(results):
        return "incomplete"
    if any(r.status == FAILED for r in ran):
        return "already_failing"
    return "passed"


def summarize(results: list[CheckResult]) -> dict[str, Any]:
    ran = [r for r in results if r.status != NOT_RUN]
    return {
        "errors": sum(r.errors for r in results),
        "new_errors": sum(len(r.new) for r in results),
        "already_failing": sum(len(r.already) for r in results),
        "warnings": sum(r.warnings for r in results),
        "checks_passed": sum(1 for r in ran if r.status == PASSED),
        "checks_total": len(ran),
        "checks_not_run": len(results) - len(ran),
        "checks_worse": sum(1 for r in results if r.worse),
        "bundled": [r.check for r in results if r.bundled],
        "status": overall_status(results),
    }
