"""Runs the benchmarks named on the command line, or all of them."""

from __future__ import annotations

import importlib
import sys

ALL = [
    "forge_bench",
    "sensor_bench",
    "loop_bench",
    "sandbox_bench",
    "outcomes_bench",
    "decisions_bench",
    "experiments_bench",
    "reliability_bench",
    "realprojects_bench",
    "prompts_bench",
    "daemon_bench",
    "deploy_bench",
]


def main() -> None:
    names = sys.argv[1:] or ALL
    for name in names:
        module = importlib.import_module(f"bench.{name.removesuffix('_bench')}_bench")
        module.main()
        print()


if __name__ == "__main__":
    main()
