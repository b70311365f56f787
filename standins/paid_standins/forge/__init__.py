"""A local GitHub stand-in: GitHub's REST subset that Paid uses, over real HTTP, backed by real git."""

from .api import Actor, Forge
from .seed import SAMPLE_REPO, SampleSeed, seed_sample

__all__ = ["SAMPLE_REPO", "Actor", "Forge", "SampleSeed", "seed_sample"]
