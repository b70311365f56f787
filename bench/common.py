from __future__ import annotations

import os
import time
from collections.abc import Callable

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "yes")


def rate(fn: Callable[[], object], count: int) -> float:
    """Calls per second of `fn`, over `count` calls after a short warm-up."""
    for _ in range(min(20, count)):
        fn()
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - start)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def row(name: str, value: float, unit: str, baseline: float | None = None, higher_is_better: bool = True) -> None:
    ratio = ""
    if baseline:
        factor = value / baseline
        ratio = f"  ×{factor:.2f} of baseline" if higher_is_better else f"  ×{factor:.2f} the baseline's time"
    print(f"  {name:<58} {value:>12.2f} {unit}{ratio}")
