from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")

from github import Auth, Github
from paid_standins.forge import Forge, SampleSeed, seed_sample


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[Forge]:
    with Forge(tmp_path / "forge") as running:
        yield running


@pytest.fixture
def sample(forge: Forge) -> SampleSeed:
    return seed_sample(forge)


@pytest.fixture
def github_as(forge: Forge) -> Callable[..., Github]:
    """A PyGithub client for a forge user, used exactly as against github.com."""

    def make(login: str, **kwargs: object) -> Github:
        kwargs.setdefault("retry", None)
        kwargs.setdefault("seconds_between_writes", 0)
        kwargs.setdefault("seconds_between_requests", 0)
        return Github(base_url=forge.url, auth=Auth.Token(forge.token(login)), **kwargs)  # type: ignore[arg-type]

    return make
