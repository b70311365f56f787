"""Text written by strangers, made safe for every exit: PR titles, commit messages, comments, metadata, prompts.

Issue titles and bodies, agent summaries and model answers are data. Before they leave Paid they lose what
could deceive a reader or break a consumer: NUL and other control characters, ANSI escape sequences (which
repaint terminals), bidi overrides and zero-width characters (which make text read differently than it is),
invalid UTF-8; titles are folded to one line; every text is capped; secrets are masked.
"""

from __future__ import annotations

import re
import unicodedata

from .secrets import redact

# CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), and two-character escapes.
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\u180e]")
HTML_COMMENT = re.compile(r"<!--.*?(-->|$)", re.S)
TITLE_CHARS = 200


def _valid_unicode(text: str | bytes) -> str:
    if isinstance(text, bytes):
        return text.decode("utf-8", errors="replace")
    return text.encode("utf-8", errors="replace").decode("utf-8")


def clean(text: str | bytes, limit: int, keep_newlines: bool = True) -> str:
    """Visible, valid text: no escapes, controls, bidi or zero-width characters; capped at `limit` characters."""
    text = _valid_unicode(text).replace("\r\n", "\n").replace("\r", "\n")
    text = ANSI.sub("", text)
    text = INVISIBLE.sub("", text)
    kept = "\n\t" if keep_newlines else ""
    text = "".join(
        ch if (ch in kept or unicodedata.category(ch)[0] != "C") else (" " if ch in "\n\t" else "") for ch in text
    )
    if len(text) > limit:
        text = text[:limit].rstrip() + "…"
    return redact(text)


def one_line(text: str | bytes, limit: int = TITLE_CHARS, fallback: str = "") -> str:
    """A title: one line of visible text (whitespace runs folded), capped; `fallback` when nothing is left."""
    text = re.sub(r"\s+", " ", clean(text, limit * 4, keep_newlines=False)).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or fallback


def untrusted(text: str | bytes, limit: int) -> str:
    """Issue text for a prompt: also without hidden HTML comments, and saying how much was cut."""
    text = HTML_COMMENT.sub("", _valid_unicode(text))
    cut = len(text) - limit
    body = clean(text[:limit] if cut > 0 else text, limit + 1)
    return body + (f"\n[… truncated: {cut} more characters not shown]" if cut > 0 else "")
