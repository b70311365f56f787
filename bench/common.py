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


def most_at_once(spans: list[tuple[str, float, float]]) -> dict[str, int]:
    """Per group, the most (group, start, end) spans open at one moment: how many runs of one repository the
    queue let go at once. An end at the same instant as a start counts first (the slot was handed over)."""
    events: dict[str, list[tuple[float, int]]] = {}
    for group, start, end in spans:
        events.setdefault(group, []).extend([(start, 1), (end, -1)])
    most = {}
    for group, points in events.items():
        current = peak = 0
        for _, step in sorted(points):
            current += step
            peak = max(peak, current)
        most[group] = peak
    return most
