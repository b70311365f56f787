"""The definitions load on their own — no forge, no model, no paid.yaml — and say what they hold.

The snapshot below is what a reviewer reads to see a change to the graph: set PAID_UPDATE_SNAPSHOT=1 to write
it anew, and commit the difference with the change that made it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")
DESCRIBE = """
import json
from paid_dagster.definitions import defs

repo = defs.get_repository_def()
assets = {}
for node in repo.asset_graph.asset_nodes:
    partitions = node.partitions_def
    assets[node.key.to_user_string()] = {
        "group": node.group_name,
        "code_version": node.code_version,
        "partitions": type(partitions).__name__ if partitions else None,
        "deps": sorted(k.to_user_string() for k in node.parent_keys),
        "automation": type(node.automation_condition).__name__ if node.automation_condition else None,
        "checks": sorted(c.name for c in node.check_keys),
    }
print(json.dumps({
    "assets": assets,
    "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
    "sensors": {s.name: str(s.default_status).rsplit(".", 1)[-1] for s in repo.sensor_defs},
    "schedules": sorted(s.name for s in repo.schedule_defs),
    "resources": sorted(repo.get_top_level_resources()),
}, indent=2, sort_keys=True))
"""


def describe() -> dict[str, Any]:
    """In a fresh interpreter with nothing of the stand-ins' in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAID_", "DAGSTER_HOME"))}
    out = subprocess.run(
        [sys.executable, "-c", DESCRIBE], capture_output=True, text=True, env=env, cwd="/", timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def test_the_definitions_load_alone_and_match_their_snapshot() -> None:
    described = describe()
    if os.environ.get("PAID_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(described, indent=2, sort_keys=True) + "\n")
    assert "paid_standins" not in json.dumps(described)
    assert described == json.loads(SNAPSHOT.read_text()), "the graph changed: PAID_UPDATE_SNAPSHOT=1 rewrites it"
    assert {"github_issue", "triage", "agent_run", "pull_request", "review", "quality_score"} <= set(
        described["assets"]
    )
    # The automation that keeps the rollups fresh is named and on by default; the triggers wait for a person.
    assert described["sensors"]["paid_automation_sensor"] == "RUNNING"
    assert "default_automation_condition_sensor" not in described["sensors"]


def test_loading_the_definitions_imports_no_stand_in() -> None:
    code = "import sys, paid_dagster.definitions; print([m for m in sys.modules if m.startswith('paid_standins')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=300, check=True)
    assert out.stdout.strip() == "[]"


def test_loading_the_definitions_imports_no_model_library() -> None:
    """litellm and mini-swe-agent (about 3 s of imports) load at the first model call: the code server, the
    daemon, the CLI and every scoring or rollup run start without them."""
    import subprocess
    import sys

    probe = (
        "import sys, paid_dagster.definitions; print(sorted({'litellm', 'minisweagent', 'openai'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr
