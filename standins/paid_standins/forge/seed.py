"""Seeding the forge: users with each kind of permission, and a sample repository with a real bug."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .api import Forge

SAMPLE_DIR = Path(__file__).parent / "sample" / "shopcart"
SAMPLE_REPO = "octo-org/shopcart"
SAMPLE_ISSUE_TITLE = "Cart total leaves out the first item"


@dataclass(frozen=True)
class SampleSeed:
    repo: str
    issue_number: int
    admin: str
    writer: str
    outsider: str
    bot: str
    tokens: dict[str, str]


def sample_files() -> dict[str, str]:
    files = {}
    for path in sorted(SAMPLE_DIR.rglob("*")):
        if path.is_file() and path.name != "issue.md" and "__pycache__" not in path.parts:
            files[path.relative_to(SAMPLE_DIR).as_posix()] = path.read_text()
    return files


def sample_issue_body() -> str:
    return (SAMPLE_DIR.parent / "issue.md").read_text()


def seed_sample(forge: Forge) -> SampleSeed:
    """Idempotent: a forge already seeded gives back the same repository and issue."""
    admin, writer, outsider, bot = "octo-admin", "wendy-writer", "olly-outsider", "paid-bot"
    tokens = {login: forge.create_user(login) for login in (admin, writer, outsider, bot)}
    if forge.store.repo(*SAMPLE_REPO.split("/")) is None:
        forge.create_repo(SAMPLE_REPO, sample_files(), description="A tiny shopping cart with a bug")
        forge.store.set_user_type(SAMPLE_REPO.split("/")[0], "Organization")
        forge.grant(SAMPLE_REPO, admin, "admin")
        forge.grant(SAMPLE_REPO, writer, "write")
        forge.grant(SAMPLE_REPO, bot, "write")
        forge.as_user(outsider).create_issue(SAMPLE_REPO, SAMPLE_ISSUE_TITLE, sample_issue_body())
    seed = SampleSeed(SAMPLE_REPO, 1, admin, writer, outsider, bot, tokens)
    (forge.directory / "sample-seed.json").write_text(json.dumps(asdict(seed), indent=2))
    return seed


def add_sample_copies(forge: Forge, seed: SampleSeed, names: list[str]) -> None:
    """More copies of the sample repository (same people with the same permissions, same bug); idempotent."""
    for name in names:
        if forge.store.repo(*name.split("/")) is None:
            forge.create_repo(name, sample_files(), description="A tiny shopping cart with a bug")
            for login, permission in ((seed.admin, "admin"), (seed.writer, "write"), (seed.bot, "write")):
                forge.grant(name, login, permission)
