"""The test services leave the machine's own PostgreSQL cluster alone: the PostgreSQL tests run on a private
cluster (scripts/private-postgres.sh) that scripts/services.sh starts, on a port and in a directory of its own."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent


def system_clusters() -> dict[str, str]:
    """What can be seen of the machine's own clusters without changing them: each cluster's port and status,
    its configuration files, and (as root, when online) its roles' password hashes and its databases."""
    facts: dict[str, str] = {}
    for path in sorted(Path("/etc/postgresql").glob("*/*/*")):
        if path.is_file():
            facts[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    if not shutil.which("pg_lsclusters"):
        return facts
    listing = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout
    for line in listing.splitlines():
        version, name, port, status, *_ = line.split()
        facts[f"{version}/{name}"] = f"port {port} {status}"
        if status.startswith("online") and os.geteuid() == 0:
            for what, query in (
                ("roles", "SELECT rolname || ':' || coalesce(rolpassword, '') FROM pg_authid ORDER BY 1"),
                ("databases", "SELECT datname FROM pg_database ORDER BY 1"),
            ):
                facts[f"{version}/{name} {what}"] = subprocess.run(
                    ["runuser", "-u", "postgres", "--", "psql", "-p", port, "-XtAc", query],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
    return facts


@pytest.mark.postgres
def test_the_services_run_a_private_cluster_and_leave_the_machines_alone() -> None:
    before = system_clusters()
    directory = Path(tempfile.mkdtemp(prefix="paid-pg-"))  # a parent the `postgres` user can traverse, as root
    env = {**os.environ, "PAID_PG_DIR": str(directory)}
    try:
        started = subprocess.run(
            [str(ROOT / "scripts" / "services.sh")], env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert started.returncode == 0, started.stderr[-3000:]
        url = started.stdout.strip().splitlines()[-1]
        assert urlparse(url).port not in {int(v.split()[1]) for k, v in before.items() if v.startswith("port ")}
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
        with engine.begin() as conn:
            assert conn.execute(sa.text("SHOW data_directory")).scalar_one() == str(directory / "data")
            conn.execute(sa.text("CREATE TABLE private_only (x int)"))  # a real PostgreSQL, and ours to change
        engine.dispose()
        assert (directory / "data" / "PG_VERSION").is_file()
    finally:
        subprocess.run([str(ROOT / "scripts" / "private-postgres.sh"), "stop"], env=env, timeout=120, check=False)
        shutil.rmtree(directory, ignore_errors=True)
    assert system_clusters() == before
