"""Prompts as data: registry versions (`learning/registry.py`, seeded from `templates/`) rendered with the issue
fenced as untrusted input."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from ..safe_text import untrusted

if TYPE_CHECKING:  # the registry imports this module (for the templates' directory and the hash)
    from ..learning.registry import PromptVersion

TEMPLATES_DIR = Path(__file__).parent / "templates"
MAX_UNTRUSTED_CHARS = 20_000


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sanitize_untrusted(text: str | bytes, limit: int = MAX_UNTRUSTED_CHARS) -> str:
    """Issue text as data: valid UTF-8, no hidden HTML comments or invisible characters, capped in length."""
    return untrusted(text, limit)


def fence(label: str, text: str) -> str:
    """Wraps untrusted text in a fence the text itself cannot close."""
    marker = "UNTRUSTED-" + hashlib.sha256(text.encode()).hexdigest()[:8].upper()
    return f"<<<{marker} {label}>>>\n{text}\n<<<END {marker}>>>"


@dataclass(frozen=True)
class RenderedPrompt:
    name: str
    template_hash: str
    text: str

    @property
    def rendered_hash(self) -> str:
        return content_hash(self.text)


# Templates come from the registry's database and from files: rendered in Jinja's sandbox, so that a template
# can fill in values but not reach Python objects (`{{ x.__class__ }}`), whoever wrote it.
TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)


def render(prompt: PromptVersion, **values: object) -> RenderedPrompt:
    """A registry version rendered; undefined values are errors, not empty text."""
    text = TEMPLATES.from_string(prompt.template).render(**values)
    return RenderedPrompt(prompt.name, prompt.version, text)


def render_task(title: str, body: str, repo: str, number: int, prompt: PromptVersion) -> RenderedPrompt:
    issue = f"Title: {sanitize_untrusted(title, 500)}\n\n{sanitize_untrusted(body)}"
    return render(prompt, repo=repo, number=number, issue=fence("GitHub issue", issue))


def render_follow_up(feedback: str, prompt: PromptVersion) -> RenderedPrompt:
    """What went wrong on the open pull request (CI, reviewers, Paid's review), fenced as data."""
    return render(prompt, feedback=fence("pull request feedback", sanitize_untrusted(feedback)))
