"""What the agent is told after a round of checks, and what the PR says about them."""

from __future__ import annotations

from .findings import CheckResult

PER_CHECK = 10
FEEDBACK_MARKER = "QUALITY FEEDBACK"


def feedback(results: list[CheckResult], round_number: int, max_rounds: int) -> str:
    """The first 10 errors per failing check as `file:line – message (rule) [fixable]`, then `… and N more`."""
    parts = [
        f"{FEEDBACK_MARKER} (round {round_number} of {max_rounds}): the project's checks failed after your changes."
        " Fix these problems, keep what already works, and finish as before."
    ]
    for result in results:
        if result.status != "failed":
            continue
        errors = [f for f in result.findings if f.severity == "error"]
        lines = [f"- {f.as_line()}" for f in errors[:PER_CHECK]]
        if len(errors) > PER_CHECK:
            lines.append(f"- … and {len(errors) - PER_CHECK} more")
        parts.append(f"## {result.check} ({result.tool}): {len(errors)} error(s)\n" + "\n".join(lines))
    return "\n\n".join(parts)


def pr_section(rounds: list[list[CheckResult]]) -> str:
    if not rounds:
        return ""
    final = rounds[-1]
    lines = [f"### Quality checks: {len(rounds)} round{'s' if len(rounds) != 1 else ''}"]
    for r in final:
        state = {"passed": "✅ passed", "failed": f"❌ {r.errors} error(s)", "error": f"⚠️ not run: {r.note}"}[r.status]
        lines.append(f"- {r.check} ({r.tool}): {state}")
    remaining = [f for r in final if r.status == "failed" for f in r.findings if f.severity == "error"]
    if remaining:
        lines.append("\nRemaining findings:\n" + "\n".join(f"- {f.as_line()}" for f in remaining[:20]))
        if len(remaining) > 20:
            lines.append(f"- … and {len(remaining) - 20} more")
    return "\n".join(lines)
