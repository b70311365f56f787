"""An idle label-sensor tick over 20 repositories × 500 labeled issues: wall time and rate-limit points,
beside a naive poller that lists every labeled issue of every repository on every tick."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from paid_standins.forge import Forge

from bench.common import row, timed
from paid_dagster.config import GitHubSettings, RepoSettings
from paid_dagster.github.client import GitHubClient
from paid_dagster.github.scan import RepoCursor, scan_repository
from paid_dagster.ledger import Ledger

REPOS = int(os.environ.get("BENCH_REPOS", "20"))
ISSUES = int(os.environ.get("BENCH_ISSUES", "500"))


def populate(forge: Forge) -> list[str]:
    forge.create_user("bench-writer")
    names = []
    for r in range(REPOS):
        name = f"bench-org/repo-{r}"
        forge.create_repo(name)
        forge.grant(name, "bench-writer", "write")
        actor = forge.as_user("bench-writer")
        for n in range(ISSUES):
            actor.create_issue(name, f"Issue {n}", "body", labels=["paid-build"])
        names.append(name)
    return names


def points_spent(forge: Forge, mark: int) -> tuple[int, int]:
    logged = forge.requests(mark)
    return len(logged), sum(1 for r in logged if r.counted)


def main() -> None:
    print(f"label sensor: idle tick over {REPOS} repositories × {ISSUES} labeled issues")
    with tempfile.TemporaryDirectory() as tmp, Forge(Path(tmp) / "forge") as forge:
        names = populate(forge)
        client = GitHubClient(GitHubSettings(base_url=forge.url, seconds_between_writes=0), forge.token("bench-writer"))
        ledger = Ledger(f"sqlite:///{tmp}/ledger.sqlite3")
        # The steady state after the sensor has seen everything: each cursor holds the listing's ETag.
        cursors = {}
        for name in names:
            poll = client.poll_labeled(name, "paid-build", None, None)
            newest = max(i["updated_at"] for i in poll.issues)
            cursors[name] = RepoCursor(etag=None, since=newest)
            cursors[name] = RepoCursor(etag=client.poll_labeled(name, "paid-build", newest, None).etag, since=newest)

        def idle_tick() -> None:
            for name in names:
                outcome = scan_repository(client, RepoSettings(name=name), cursors[name], ledger, 10)
                assert outcome.not_modified and not outcome.triggers

        def naive_tick() -> None:
            for name in names:
                poll = client.poll_labeled(name, "paid-build", None, None)
                assert len(poll.issues) == ISSUES

        mark = forge.request_mark()
        sensor_time = min(timed(idle_tick) for _ in range(3))
        sensor_requests, sensor_points = points_spent(forge, mark)
        mark = forge.request_mark()
        naive_time = min(timed(naive_tick) for _ in range(3))
        naive_requests, naive_points = points_spent(forge, mark)
        row("naive poller: wall time per tick", naive_time * 1000, "ms")
        row(
            "Paid's sensor (ETag + since): wall time per idle tick",
            sensor_time * 1000,
            "ms",
            naive_time * 1000,
            higher_is_better=False,
        )
        row("naive poller: requests / rate-limit points per tick", naive_requests / 3, f"/ {naive_points / 3:.0f}")
        row(
            "Paid's sensor: requests / rate-limit points per idle tick",
            sensor_requests / 3,
            f"/ {sensor_points / 3:.0f}",
        )
        print(
            f"  points saved per tick: {naive_points / 3 - sensor_points / 3:.0f}"
            f" (a 5000-point hour allows {5000 // max(naive_points // 3, 1)} naive ticks, unlimited idle ones)"
        )


if __name__ == "__main__":
    main()
