"""Which process runs an attempt, and whether it still does: pid, host and the process's start time (so that a
pid reused by another process is not taken for the worker). The default run launcher cannot tell Dagster that a
worker died; the retry sensor asks this instead."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Worker:
    pid: int
    host: str
    started: str  # the process's start time in clock ticks since boot ("" where /proc is not there)

    def tags(self) -> dict[str, str]:
        return {"paid/worker_pid": str(self.pid), "paid/worker_host": self.host, "paid/worker_started": self.started}

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Worker | None:
        if not tags.get("paid/worker_pid"):
            return None
        return cls(int(tags["paid/worker_pid"]), tags.get("paid/worker_host", ""), tags.get("paid/worker_started", ""))


def start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat; None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def this_worker() -> Worker:
    pid = os.getpid()
    return Worker(pid, socket.gethostname(), start_time(pid) or "")


def gone(worker: Worker) -> bool | None:
    """True when the worker is dead (or its pid now belongs to another process); None when this host cannot
    tell (another host)."""
    if worker.host != socket.gethostname():
        return None
    started = start_time(worker.pid)
    if started is None:
        return True
    return bool(worker.started) and started != worker.started
