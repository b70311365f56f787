"""Dagster metadata is text a person reads in the UI: untrusted parts lose escapes and hidden characters, and
no secret is ever in it."""

from __future__ import annotations

from typing import Any

from dagster import MetadataValue
from dagster._core.definitions.metadata import MarkdownMetadataValue, TextMetadataValue

from ..safe_text import clean
from ..secrets import redact_obj

METADATA_CHARS = 50_000


def safe_metadata(values: dict[str, Any]) -> dict[str, Any]:
    safe: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, str):
            safe[key] = clean(value, METADATA_CHARS)
        elif isinstance(value, MarkdownMetadataValue):
            safe[key] = MetadataValue.md(clean(value.md_str or "", METADATA_CHARS))
        elif isinstance(value, TextMetadataValue):
            safe[key] = MetadataValue.text(clean(value.text or "", METADATA_CHARS))
        elif isinstance(value, (dict, list)):
            safe[key] = redact_obj(value)
        else:
            safe[key] = value
    return safe


def safe_log(text: str) -> str:
    return clean(text, 5_000)
