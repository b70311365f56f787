"""Findings and check results: one shape for what every tool reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
        return f"{where} – {self.message}{rule}{fix}"


@dataclass
class CheckResult:
    check: str
    tool: str
    status: str  # passed | failed | error (the tool could not run)
    findings: list[Finding] = field(default_factory=list)
    duration_s: float = 0.0
    note: str = ""

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity != "error")

    def as_dict(self, limit: int = 50) -> dict[str, Any]:
        return {
            "check": self.check,
            "tool": self.tool,
            "status": self.status,
            "errors": self.errors,
            "warnings": self.warnings,
            "duration_s": round(self.duration_s, 3),
            "note": self.note,
            "findings": [asdict(f) for f in self.findings[:limit]],
        }


def summarize(results: list[CheckResult]) -> dict[str, Any]:
    ran = [r for r in results if r.status != "error"]
    passed = sum(1 for r in ran if r.status == "passed")
    errors = sum(r.errors for r in results)
    if not ran:
        status = "skipped"
    elif passed < len(ran):
        status = "failed"
    elif len(ran) < len(results):
        status = "incomplete"  # what ran passed, but some checks could not run
    else:
        status = "passed"
    return {
        "errors": errors,
        "warnings": sum(r.warnings for r in results),
        "checks_passed": passed,
        "checks_total": len(ran),
        "status": status,
    }
