"""Prompts as data: templates in versioned files, rendered with the issue fenced as untrusted input."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from jinja2 import StrictUndefined, Template

from ..safe_text import untrusted

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


def load_template(name: str, overrides_dir: Path | None = None) -> tuple[str, str]:
    for directory in (overrides_dir, TEMPLATES_DIR):
        if directory is not None and (directory / f"{name}.md").is_file():
            source = (directory / f"{name}.md").read_text()
            return source, content_hash(source)
    raise FileNotFoundError(f"no prompt template {name!r} in {overrides_dir or ''} or {TEMPLATES_DIR}")


def render(name: str, overrides_dir: Path | None = None, **values: object) -> RenderedPrompt:
    source, template_hash = load_template(name, overrides_dir)
    text = Template(source, undefined=StrictUndefined, keep_trailing_newline=True).render(**values)
    return RenderedPrompt(name, template_hash, text)


def render_task(title: str, body: str, repo: str, number: int, overrides_dir: Path | None = None) -> RenderedPrompt:
    issue = f"Title: {sanitize_untrusted(title, 500)}\n\n{sanitize_untrusted(body)}"
    return render("task", overrides_dir, repo=repo, number=number, issue=fence("GitHub issue", issue))
