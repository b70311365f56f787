"""Descriptions that say what is built: the build job's, and docs/architecture.md's."""

from __future__ import annotations

import re
from pathlib import Path

from paid_dagster.definitions import defs

ROOT = Path(__file__).resolve().parent.parent
NUMBERS = {3: "three", 4: "four", 5: "five", 6: "six"}


def test_the_build_jobs_description_names_its_steps() -> None:
    job = defs.resolve_job_def("paid_build")
    steps = sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys)
    description = job.description or ""
    assert all(f"({step})" in description for step in steps), description
    counted = re.findall(r"\b(three|four|five|six)\b steps", description.lower())
    assert counted == [NUMBERS[len(steps)]], description
    source = (ROOT / "paid_dagster" / "jobs.py").read_text().lower()
    assert f"{NUMBERS[len(steps)]} steps" in source
    assert not [n for k, n in NUMBERS.items() if k != len(steps) and f"{n} steps" in source]


def test_the_architecture_page_describes_what_is_built() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    for sensor in defs.sensors or []:
        assert f"`{sensor.name}`" in page, sensor.name
    for job in ("paid_build", "paid_score", "paid_costs"):
        assert job in page
    assets = [k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()]
    assert all(a in page for a in assets), [a for a in assets if a not in page]
    for resource in ("SettingsResource", "GitHubResource", "LLMResource", "LedgerResource", "TableIOManager"):
        assert resource in page
    # What the design has and the build does not is said to be missing, never described as present.
    built = page.split("## 9.")[0]
    for absent in ("SandboxResource", "GitHub App", "EnvVar", "tool.call", "gate sensor"):
        assert absent not in built, absent
        assert absent.split()[0] in page.split("## 9.")[1], absent
    steps = len(defs.resolve_job_def("paid_build").asset_layer.selected_asset_keys)
    assert f"{NUMBERS[steps]} issue steps" in page
    assert not [n for k, n in NUMBERS.items() if k != steps and f"its {n} steps" in page]
