"""A cgroup per sandboxed command: a hard cap on processes and memory that root's rlimits do not give.

(RLIMIT_NPROC is not enforced for root's processes, and bwrap maps the sandbox's user to the caller's, so
a fork bomb is stopped by the pids controller, not by prlimit.) cgroup v2 when available, else v1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


class Cgroup:
    def __init__(self, pids_max: int, memory_bytes: int, cpus: float = 1.0) -> None:
        _remove_empty_leftovers()
        name = f"paid-sandbox-{uuid.uuid4().hex[:12]}"
        self.dirs: list[Path] = []
        if (ROOT / "cgroup.controllers").exists() and _writable(ROOT):
            group = ROOT / name
            group.mkdir()
            (group / "pids.max").write_text(str(pids_max))
            (group / "memory.max").write_text(str(memory_bytes))
            with contextlib.suppress(OSError):
                (group / "cpu.max").write_text(f"{int(cpus * 100_000)} 100000")
            self.dirs.append(group)
        else:
            for controller, setting, value in (
                ("pids", "pids.max", pids_max),
                ("memory", "memory.limit_in_bytes", memory_bytes),
                ("cpu", "cpu.cfs_quota_us", int(cpus * 100_000)),  # with the default 100 ms period
            ):
                if _writable(ROOT / controller):
                    group = ROOT / controller / name
                    group.mkdir()
                    (group / setting).write_text(str(value))
                    self.dirs.append(group)

    @property
    def enforced(self) -> bool:
        return any(d.name.startswith("paid-sandbox") and (d / "pids.max").exists() for d in self.dirs)

    def wrap(self, argv: list[str]) -> list[str]:
        """The command, entering this cgroup before it execs (so every descendant is inside)."""
        if not self.dirs:
            return argv
        joins = " && ".join(f"echo $$ > {d / 'cgroup.procs'}" for d in self.dirs)
        return ["sh", "-c", f'{joins} && exec "$@"', "sh", *argv]

    def peak_pids(self) -> int | None:
        for d in self.dirs:
            peak = d / "pids.peak"
            if peak.exists():
                return int(peak.read_text().strip() or 0)
        return None

    def close(self) -> None:
        for d in self.dirs:
            procs = d / "cgroup.procs"
            for _ in range(50):
                pids = [int(p) for p in procs.read_text().split()] if procs.exists() else []
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.05)
            with contextlib.suppress(OSError):
                d.rmdir()


def _remove_empty_leftovers() -> None:
    """Cgroups left by a process that was killed before it could clean up (rmdir fails while one is in use)."""
    for parent in (ROOT, ROOT / "pids", ROOT / "memory", ROOT / "cpu"):
        if not _writable(parent):
            continue
        for stale in parent.glob("paid-sandbox-*"):
            procs = stale / "cgroup.procs"
            # Only old ones: a fresh cgroup of a concurrent sandbox is empty until its command joins it.
            if time.time() - stale.stat().st_mtime < 120:
                continue
            if procs.exists() and not procs.read_text().strip():
                with contextlib.suppress(OSError):
                    stale.rmdir()
