"""The product ships without its stand-ins: no forge, scripted model, offline stack or in-process runner."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STANDIN_NAMES = ("forge", "scripted", "stack.py", "inprocess.py", "paid_standins")


def test_the_product_wheel_holds_no_stand_in(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("paid_dagster-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("paid_dagster/assets/") for n in names), names
    offending = [n for n in names if any(part in n for part in STANDIN_NAMES)]
    assert offending == [], offending


def test_the_product_imports_the_stand_ins_only_where_the_demo_starts_them() -> None:
    """Only `paid demo`, `paid ui`, `paid forge serve` and `paid model serve` reach for them, inside functions."""
    for path in (ROOT / "paid_dagster").rglob("*.py"):
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("paid_standins"):
                assert path.name == "cli.py" and id(node) not in top_level, f"{path}: imports {node.module}"
            if isinstance(node, ast.Import) and any(a.name.startswith("paid_standins") for a in node.names):
                assert path.name == "cli.py" and id(node) not in top_level, f"{path}: imports paid_standins"
