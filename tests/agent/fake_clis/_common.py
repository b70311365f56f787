"""Shared by the stand-in CLIs: record how we were called, then fix the sample's bug like the real CLI would."""

import json
import os
import sys
from pathlib import Path


def record(name: str) -> None:
    """Writes how it was called into the working files (the only place it may write), for the test to read."""
    secrets = {k: ("set" if v else "") for k, v in os.environ.items() if "TOKEN" in k or "KEY" in k}
    parent_writable = os.access("..", os.W_OK)
    paid_git_writable = os.access(os.environ.get("GIT_DIR", "/nonexistent"), os.W_OK)
    Path(f"{name}-call.json").write_text(
        json.dumps(
            {
                "argv": sys.argv,
                "env": secrets,
                "env_names": sorted(os.environ),
                "cwd": os.getcwd(),
                "parent_writable": parent_writable,
                "paid_git_writable": paid_git_writable,
            }
        )
    )


def fix() -> None:
    cart = Path("shopcart/cart.py")
    cart.write_text(
        cart.read_text().replace(
            "    for index in range(1, len(items)):\n        item = items[index]\n", "    for item in items:\n"
        )
    )
