"""The same loop under `dagster dev` (daemon + webserver), and the Dagster UI in a real browser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from paid_dagster.keys import issue_key
from paid_dagster.ledger import Ledger

from .conftest import ROOT, DagsterDev, wait_until

pytestmark = pytest.mark.daemon


def open_pull(dev: DagsterDev) -> dict | None:
    return dev.stack.forge.store.one(
        "SELECT i.number, i.body, p.head_ref FROM pulls p JOIN issues i ON i.id = p.issue_id WHERE i.state = 'open'"
    )


@pytest.fixture(scope="module")
def labeled(dagster_dev: DagsterDev) -> dict | None:
    seed = dagster_dev.stack.seed
    dagster_dev.stack.forge.as_user(seed.writer).label(seed.repo, seed.issue_number, "paid-build")
    pull = wait_until(lambda: open_pull(dagster_dev), 240, what="the pull request opened by the daemon's run")
    # The materialization of pull_request lands just after the PR: wait for the run to finish.
    ledger = Ledger(dagster_dev.env["PAID_LEDGER_URL"])
    wait_until(lambda: ledger.read(kinds=["issue.commented"]), 120, what="the run to finish")
    return pull


def test_daemon_runs_the_loop(dagster_dev: DagsterDev, labeled: dict) -> None:
    seed = dagster_dev.stack.seed
    assert f"Closes #{seed.issue_number}" in labeled["body"] and labeled["head_ref"].startswith("paid/1-")
    kinds = [e.kind for e in Ledger(dagster_dev.env["PAID_LEDGER_URL"]).read(stream=issue_key(seed.repo, 1))]
    assert "run.finished" in kinds and "pr.opened" in kinds


def launch_browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    if not Path("/usr/bin/chromium").exists():
        pytest.fail("Debian's chromium is missing: scripts/system-deps.sh installs it (make test runs it)")
    manager = sync_playwright().start()
    browser = manager.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    )
    return manager, browser


def dismiss_overlays(page) -> None:  # type: ignore[no-untyped-def]
    """Closes whatever dialog Dagster opened (onboarding, news): Skip, Close or Escape."""
    for _ in range(5):
        overlay = page.locator(".bp5-overlay-backdrop")
        if not (overlay.count() and overlay.first.is_visible()):
            return
        for name in ("Skip", "Close", "Dismiss", "Got it"):
            button = page.get_by_role("button", name=name)
            if button.count() and button.first.is_visible():
                button.first.click()
                break
        else:
            page.keyboard.press("Escape")
        page.wait_for_timeout(500)


def click(page, locator, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Clicks, closing any dialog Dagster opens over the page meanwhile (it opens them when it likes, sometimes
    after the page looked idle)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        dismiss_overlays(page)
        try:
            locator.click(timeout=5_000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise


def test_ui_shows_lineage_partitions_and_metadata(dagster_dev: DagsterDev, labeled: dict, tmp_path: Path) -> None:
    key = issue_key(dagster_dev.stack.seed.repo, 1)
    manager, browser = launch_browser()
    try:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        # Lineage: the asset graph of the group shows the three assets and the edges between them.
        page.goto(f"{dagster_dev.url}/asset-groups/paid", wait_until="networkidle")
        dismiss_overlays(page)
        # The global lineage shows one node per group ("paid" → "costs"); expand "paid" in the sidebar tree.
        # The edges between the assets are checked below on pull_request's lineage tab and in GraphQL.
        click(page, page.get_by_text("paid", exact=True).first)
        page.keyboard.press("ArrowRight")  # expands the group in the sidebar tree
        page.screenshot(path=str(tmp_path / "graph.png"))
        for name in ("github_issue", "triage", "agent_run", "pull_request", "review", "quality_score"):
            page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
        page.goto(
            f"{dagster_dev.url}/assets/pull_request?view=lineage&lineageScope=upstream",
            wait_until="networkidle",
        )
        page.get_by_text("agent_run", exact=True).first.wait_for(timeout=60_000)
        page.get_by_text("github_issue", exact=True).first.wait_for(timeout=60_000)
        # Partitions: the issue's partition opens from the partitions view, and its key survives the URL.
        page.goto(f"{dagster_dev.url}/assets/pull_request?view=partitions", wait_until="networkidle")
        click(page, page.get_by_text(key, exact=True).first)
        page.wait_for_url(f"**partition={key}**", timeout=60_000)
        assert key in page.url
        # Metadata: the PR link and the cost are on the partition's materialization.
        page.get_by_text("pr_url", exact=True).first.wait_for(timeout=60_000)
        page.get_by_text("cost_usd", exact=True).first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert f"/pull/{labeled['number']}" in body
        page.screenshot(path=str(tmp_path / "partition.png"))
    finally:
        browser.close()
        manager.stop()
    # The same lineage, as the webserver serves it to the graph.
    query = "{ assetNodes { assetKey { path } dependencyKeys { path } } }"
    nodes = requests.post(f"{dagster_dev.url}/graphql", json={"query": query}, timeout=30).json()["data"]["assetNodes"]
    upstream = {n["assetKey"]["path"][0]: sorted(d["path"][0] for d in n["dependencyKeys"]) for n in nodes}
    assert upstream["pull_request"] == ["agent_run", "github_issue"] and upstream["agent_run"] == [
        "github_issue",
        "prompt_registry",
        "triage",
    ]
    assert upstream["triage"] == ["github_issue", "prompt_registry"]
    assert "prompt_registry" in upstream["review"] and upstream["quality_score"] == ["pull_request"]


def materialize_in(dev: DagsterDev, *argv: str) -> None:
    """`dagster asset materialize` on the webserver's instance (the same DAGSTER_HOME and ledger)."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", "paid_dagster.definitions", *argv],
        cwd=ROOT,
        env=dev.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_ui_shows_prompt_versions_upstream_of_runs_pull_requests_and_scores(
    dagster_dev: DagsterDev, labeled: dict, tmp_path: Path
) -> None:
    """Lineage prompt version → agent run → pull request → quality score, and the registry's page lists the
    version the run sent with its uses."""
    key = issue_key(dagster_dev.stack.seed.repo, 1)
    started = Ledger(dagster_dev.env["PAID_LEDGER_URL"]).last(key, "run.started")
    assert started is not None
    system_version = started.data["prompt_bundle"]["system"]
    materialize_in(dagster_dev, "--select", "quality_score", "--partition", key)
    materialize_in(dagster_dev, "--select", "prompt_registry")
    manager, browser = launch_browser()
    try:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{dagster_dev.url}/assets/quality_score?view=lineage&lineageScope=upstream&lineageDepth=5")
        page.wait_for_load_state("networkidle")
        dismiss_overlays(page)
        for name in ("prompt_registry", "agent_run", "pull_request", "quality_score"):
            page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
        page.screenshot(path=str(tmp_path / "prompt-lineage.png"))
        # The registry's latest materialization: every version with its uses, and the current ones one per line.
        page.goto(f"{dagster_dev.url}/assets/prompt_registry?view=events", wait_until="networkidle")
        dismiss_overlays(page)
        page.get_by_text("current system", exact=True).first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert f"{system_version}: 1 uses" in body, body[-3000:]
        page.screenshot(path=str(tmp_path / "prompt-registry.png"))
    finally:
        browser.close()
        manager.stop()
