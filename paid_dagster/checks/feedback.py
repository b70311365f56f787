"""What the agent is told after a round of checks, and what the PR says about them."""

from __future__ import annotations

from .baseline import Baseline, fixed_since
from .findings import FAILED, NOT_RUN, PASSED, CheckResult, Finding

PER_CHECK = 10
TAIL_LINES = 60
FEEDBACK_MARKER = "QUALITY FEEDBACK"


def _tail(result: CheckResult, lines: int = TAIL_LINES) -> str:
    text = "\n".join(result.output_tail.splitlines()[-lines:]).replace("```", "'''")
    return f"```\n{text}\n```" if text.strip() else "(no output)"


def _listed(findings: list[Finding], limit: int) -> list[str]:
    lines = [f"- {f.as_line()}" for f in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"- … and {len(findings) - limit} more")
    return lines


def _what_got_worse(result: CheckResult) -> str:
    head = f"## {result.check} ({result.tool}, `{result.command}`)"
    if result.status == NOT_RUN:
        return f"{head}: no longer runs: {result.note}. The end of its output:\n{_tail(result)}"
    if result.new:
        noun = "new failing test(s)" if result.kind == "tests" else "new error(s)"
        return f"{head}: {len(result.new)} {noun}\n" + "\n".join(_listed(result.new, PER_CHECK))
    return f"{head}: failed with exit code {result.exit_code}. The end of its output:\n{_tail(result)}"


def feedback(results: list[CheckResult], round_number: int, max_rounds: int, base: str = "main") -> str:
    """What this change made worse, check by check: the first 10 new errors as `file:line – message (rule)
    [fixable]`, or the end of the output of a check with no parser or one that no longer runs."""
    parts = [
        f"{FEEDBACK_MARKER} (round {round_number} of {max_rounds}): the project's checks failed after your changes."
        " Fix these problems, keep what already works, and finish as before."
    ]
    parts += [_what_got_worse(r) for r in results if r.worse]
    if any(r.already or (r.status == FAILED and not r.worse) for r in results):
        parts.append(f"Problems that already failed on `{base}` before your change are not listed: leave them be.")
    return "\n\n".join(parts)


# --- the pull request ----------------------------------------------------------------------------------------


def _counts(result: CheckResult) -> str:
    c = result.counts
    if result.kind == "tests" and "collected" in c:
        return (
            f"{c['collected']} test(s) collected: {c.get('passed', 0)} passed, {c.get('failed', 0)} failed,"
            f" {c.get('errors', 0)} errors, {c.get('skipped', 0)} skipped"
        )
    if result.status != NOT_RUN and result.parser != "exit-code":
        return f"{c.get('error', 0)} error(s), {c.get('warning', 0)} warning(s)"
    return ""


def _state(result: CheckResult, base: str) -> str:
    if result.status == PASSED:
        return "✅ passed"
    if result.status == NOT_RUN:
        return f"⚠️ not run: {result.note}"
    if not result.worse:
        return f"➖ failing as on `{base}`, nothing new"
    if result.new:
        return f"❌ {len(result.new)} new error(s)"
    return f"❌ failed (exit code {result.exit_code})"


def check_line(result: CheckResult, base: str) -> str:
    details = [d for d in (_counts(result), f"`{result.command}`") if d]
    details.append(f"exit code {result.exit_code}" if result.exit_code is not None else "no exit code")
    details.append(f"{result.duration_s:.1f} s")
    whose = "Paid's bundled tool" if result.bundled else f"from {result.source}" if result.source else ""
    if whose:
        details.append(whose)
    return f"- {result.check} ({result.tool}): {_state(result, base)} — {'; '.join(details)}"


def _remaining(final: list[CheckResult]) -> list[str]:
    lines: list[str] = []
    new = [f for r in final if r.worse for f in r.new]
    if new:
        lines.append("\nRemaining findings:\n" + "\n".join(_listed(new, 20)))
    for r in final:
        if r.worse and not r.new:
            lines.append(f"\n{r.check} (`{r.command}`), the end of its output:\n{_tail(r, 15)}")
    return lines


def _already(final: list[CheckResult], base: str) -> list[str]:
    already = [f for r in final for f in r.already]
    failing = [r.check for r in final if r.status == FAILED and not r.worse and not r.already]
    if not already and not failing:
        return []
    lines = [f"\nAlready failing on `{base}` (not counted against this change):"]
    lines += _listed(already, 20)
    lines += [f"- {name}: failed on `{base}` too" for name in failing]
    return lines


def pr_section(rounds: list[list[CheckResult]], base: str = "main", baseline: Baseline | None = None) -> str:
    if not rounds:
        return ""
    final = rounds[-1]
    lines = [f"### Quality checks: {len(rounds)} round{'s' if len(rounds) != 1 else ''}"]
    if baseline is not None and baseline.problem:
        lines.append(f"⚠️ The checks could not run on `{base}` ({baseline.problem}): every problem counts as new.")
    lines += [check_line(r, base) for r in final]
    lines += _remaining(final)
    lines += _already(final, base)
    fixed = fixed_since(final, baseline)
    if fixed:
        lines.append(f"\nFixed: {fixed} problem(s) that failed on `{base}`.")
    return "\n".join(lines)
