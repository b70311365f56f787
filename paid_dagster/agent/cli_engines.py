"""Adapters for coding-agent CLIs behind the engine protocol: Claude Code, the Codex CLI and Aider.

Each adapter knows the CLI's command line, the one environment variable its provider key lives in, and how
to read turns, tokens and cost from what the CLI prints. The CLIs call their providers themselves, so they
need the network and their key: they run in a sandbox of the repository's kind (bubblewrap or Docker) that
has the network, the working files, the CLI's own installation read-only, their key and nothing else of the
host — not Paid's environment, not its git, not its files. The call is recorded as one `llm.call` event with
the figures the CLI reported.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Limits
from ..ledger import Ledger
from ..ledger.kinds import Kind
from ..sandbox import DEFAULT_IMAGE, Sandbox, open_sandbox, toolchain_dirs
from ..secrets import redact
from .guardrails import Budget
from .outcome import EngineResult, RunOutcome


@dataclass(frozen=True)
class CliReport:
    outcome: RunOutcome
    turns: int
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    cost_usd: float
    summary: str


class CliEngine:
    name = "cli"
    executable = ""
    key_env = ""

    def __init__(
        self,
        worktree: Path,
        model: str | None,
        ledger: Ledger,
        stream: str,
        run_id: str,
        sandbox_kind: str = "auto",
        image: str = DEFAULT_IMAGE,
    ) -> None:
        self.worktree = worktree
        self.model = model
        self.ledger = ledger
        self.stream = stream
        self.run_id = run_id
        self.sandbox_kind = sandbox_kind
        self.image = image

    def argv(self, task: str, limits: Limits) -> list[str]:
        raise NotImplementedError

    def parse(self, output: str, limits: Limits) -> CliReport:
        raise NotImplementedError

    def provider_keys(self) -> dict[str, str]:
        """The only thing of the host's environment the CLI gets."""
        return {self.key_env: os.environ[self.key_env]} if self.key_env and os.environ.get(self.key_env) else {}

    def run(self, task: str, sandbox: Sandbox, limits: Limits, budget: Budget | None = None) -> EngineResult:
        executable = shutil.which(self.executable)
        if executable is None:
            return EngineResult(RunOutcome.FAILED, 0, 0.0, f"the {self.name} CLI ({self.executable}) is not installed")
        if self.key_env and not os.environ.get(self.key_env):
            return EngineResult(RunOutcome.FAILED, 0, 0.0, f"{self.key_env} is not set: the {self.name} CLI needs it")
        started = time.monotonic()
        command = shlex.join([executable, *self.argv(task, limits)[1:]])
        with_network = open_sandbox(
            self.sandbox_kind, self.worktree, self.image, network=True, read_only=installation_of(executable)
        )
        try:
            result = with_network.run(command, int(limits.wall_time_seconds), env=self.provider_keys())
        finally:
            with_network.close()
        report = (
            self.parse(result.output, limits)
            if not result.timed_out
            else CliReport(
                RunOutcome.TIMEOUT, 0, 0, 0, 0, 0.0, f"the {self.name} CLI ran past {limits.wall_time_seconds} s"
            )
        )
        if result.returncode not in (0, None) and report.outcome == RunOutcome.COMPLETED:
            report = CliReport(
                RunOutcome.FAILED,
                report.turns,
                report.tokens_in,
                report.tokens_out,
                report.tokens_cached,
                report.cost_usd,
                redact(result.output[-500:]),
            )
        self.ledger.append(
            self.stream,
            Kind.LLM_CALL,
            {
                "model": self.model or self.name,
                "purpose": "agent",
                "run_id": self.run_id,
                "via": self.name,
                "tokens_in": report.tokens_in,
                "tokens_out": report.tokens_out,
                "tokens_cached": report.tokens_cached,
                "cost_usd": report.cost_usd,
                "latency_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        if budget is not None:
            budget.turns += report.turns
            budget.cost += report.cost_usd
        return EngineResult(report.outcome, report.turns, report.cost_usd, redact(report.summary)[:2000])


class ClaudeCodeEngine(CliEngine):
    """`claude -p TASK --output-format json`: one JSON result object with num_turns and total_cost_usd."""

    name = "claude-code"
    executable = "claude"
    key_env = "ANTHROPIC_API_KEY"

    def argv(self, task: str, limits: Limits) -> list[str]:
        argv = [
            "claude",
            "-p",
            task,
            "--output-format",
            "json",
            "--max-turns",
            str(limits.max_turns),
            "--permission-mode",
            "acceptEdits",
        ]
        return argv + (["--model", self.model] if self.model else [])

    def parse(self, output: str, limits: Limits) -> CliReport:
        data = _last_json_object(output)
        if data is None:
            return CliReport(RunOutcome.FAILED, 0, 0, 0, 0, 0.0, "no JSON result from claude: " + output[-300:])
        usage = data.get("usage") or {}
        subtype = data.get("subtype", "")
        outcome = (
            RunOutcome.COMPLETED
            if subtype == "success" and not data.get("is_error")
            else (RunOutcome.LIMITS_EXCEEDED if subtype == "error_max_turns" else RunOutcome.FAILED)
        )
        return CliReport(
            outcome,
            int(data.get("num_turns") or 0),
            int(usage.get("input_tokens") or 0),
            int(usage.get("output_tokens") or 0),
            int(usage.get("cache_read_input_tokens") or 0),
            float(data.get("total_cost_usd") or 0.0),
            str(data.get("result") or subtype),
        )


class CodexEngine(CliEngine):
    """`codex exec --json TASK`: JSON lines; `turn.completed` events carry usage, cost comes from litellm's prices."""

    name = "codex"
    executable = "codex"
    key_env = "OPENAI_API_KEY"

    def argv(self, task: str, limits: Limits) -> list[str]:
        return ["codex", "exec", "--json", "--full-auto", *(["-m", self.model] if self.model else []), task]

    def parse(self, output: str, limits: Limits) -> CliReport:
        turns = tokens_in = tokens_out = cached = 0
        summary, failed = "", False
        for line in output.splitlines():
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            kind = event.get("type")
            if kind == "turn.completed":
                turns += 1
                usage = event.get("usage") or {}
                tokens_in += int(usage.get("input_tokens") or 0)
                tokens_out += int(usage.get("output_tokens") or 0)
                cached += int(usage.get("cached_input_tokens") or 0)
            elif kind == "turn.failed" or kind == "error":
                failed = True
                summary = str((event.get("error") or {}).get("message") or event.get("message") or "codex failed")
            elif kind == "item.completed" and (event.get("item") or {}).get("type") == "agent_message":
                summary = str(event["item"].get("text") or "")
        return CliReport(
            RunOutcome.FAILED if failed else RunOutcome.COMPLETED,
            turns,
            tokens_in,
            tokens_out,
            cached,
            _price(self.model or "gpt-5-codex", tokens_in, tokens_out),
            summary,
        )


class AiderEngine(CliEngine):
    """`aider --message TASK --yes-always`: prints `Tokens: … Cost: $x message, $y session.` per exchange."""

    name = "aider"
    executable = "aider"
    key_env = ""

    def provider_keys(self) -> dict[str, str]:
        keys = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY", "OPENROUTER_API_KEY")
        return {key: os.environ[key] for key in keys if os.environ.get(key)}

    def argv(self, task: str, limits: Limits) -> list[str]:
        return [
            "aider",
            "--message",
            task,
            "--yes-always",
            "--no-auto-commits",
            "--no-stream",
            "--no-pretty",
            "--no-check-update",
            "--no-analytics",
            *(["--model", self.model] if self.model else []),
        ]

    def parse(self, output: str, limits: Limits) -> CliReport:
        tokens = re.findall(r"Tokens: ([\d.]+)(k?) sent(?:, ([\d.]+)(k?) cache \w+)?, ([\d.]+)(k?) received", output)
        costs = re.findall(r"Cost: \$([\d.]+) message, \$([\d.]+) session", output)

        def count(value: str, k: str) -> int:
            return int(float(value) * (1000 if k else 1))

        tokens_in = sum(count(t[0], t[1]) for t in tokens)
        tokens_out = sum(count(t[4], t[5]) for t in tokens)
        cost = float(costs[-1][1]) if costs else 0.0
        return CliReport(
            RunOutcome.COMPLETED if tokens else RunOutcome.FAILED,
            len(tokens),
            tokens_in,
            tokens_out,
            0,
            cost,
            output.strip().splitlines()[-1] if output.strip() else "",
        )


def installation_of(executable: str) -> tuple[str, ...]:
    """The CLI's installation prefix (`…/bin/claude` → `…`), for its link and its real file, shown read-only
    in the sandbox; system directories and Paid's own Python are there anyway."""
    prefixes = {Path(executable).parent.parent, Path(os.path.realpath(executable)).parent.parent}
    present = ("/usr", "/etc", *toolchain_dirs())
    return tuple(sorted(str(p) for p in prefixes if str(p) != "/" and not any(str(p).startswith(d) for d in present)))


def _last_json_object(output: str) -> dict[str, Any] | None:
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                return data
    try:
        data = json.loads(output)
        return data if isinstance(data, dict) else None
    except json.JSONDecodeError:
        return None


def _price(model: str, tokens_in: int, tokens_out: int) -> float:
    import litellm

    try:
        cost_in, cost_out = litellm.cost_per_token(model=model, prompt_tokens=tokens_in, completion_tokens=tokens_out)
        return float(cost_in + cost_out)
    except Exception:
        return 0.0


CLI_ENGINES: dict[str, type[CliEngine]] = {
    "claude-code": ClaudeCodeEngine,
    "codex": CodexEngine,
    "aider": AiderEngine,
}
