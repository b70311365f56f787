"""Shared by the stand-in CLIs: record how we were called, then fix the sample's bug like the real CLI would."""

import json
import os
import sys
from pathlib import Path


def record(name: str) -> None:
    secrets = {k: ("set" if v else "") for k, v in os.environ.items() if "TOKEN" in k or "KEY" in k}
    Path("..", f"{name}-call.json").write_text(json.dumps({"argv": sys.argv, "env": secrets, "cwd": os.getcwd()}))


def fix() -> None:
    cart = Path("shopcart/cart.py")
    cart.write_text(
        cart.read_text().replace(
            "    for index in range(1, len(items)):\n        item = items[index]\n", "    for item in items:\n"
        )
    )
