"""What a run reports as it goes — each agent turn, the setup phase, each checks round — for a person watching.

The Dagster asset passes its run log (`context.log.info`), so the run's page in the UI is the live activity
stream; outside Dagster nothing listens. Lines are short, sanitised and masked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..safe_text import one_line

Progress = Callable[[str], None]
CODE_BLOCK = re.compile(r"```.*?```", re.S)


def silent(_line: str) -> None:
    pass


@dataclass(frozen=True)
class TurnReport:
    turn: int
    intent: str  # the agent's stated thought, shortened
    command: str
    exit_code: int | None
    output: str
    tokens: int  # tokens in and out so far in this run
    cost_usd: float

    def line(self) -> str:
        code = "?" if self.exit_code is None else str(self.exit_code)
        return (
            f"turn {self.turn} · {one_line(self.intent, 160) or '(no thought)'} · $ {one_line(self.command, 200)}"
            f" · exit {code} · {one_line(self.output, 240) or '(no output)'}"
            f" · {self.tokens} tokens, ${self.cost_usd:.4f} so far"
        )


def intent_of(message: str) -> str:
    """The agent's THOUGHT, without its command block."""
    text = CODE_BLOCK.sub("", message)
    return text.split("THOUGHT:", 1)[-1].strip()
