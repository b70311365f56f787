"""Prepared environments, cached by what determines them, so that a second run installs nothing.

The key is a hash of the plan's steps, the contents of the files that decide what gets installed (lock files,
manifests, the repository's setup script), the sandbox (kind and image) and the toolchain (Python's version).
An entry is the environment's directories as setup left them; restoring copies them into new working files.
Entries not used for `max_age_days`, and the least recently used ones beyond `max_bytes`, are evicted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .plan import KEY_FILES, SetupPlan

FORMAT = "1"  # bumped when what an entry holds changes


def environment_key(plan: SetupPlan, root: Path, sandbox: str) -> str:
    digest = hashlib.sha256()
    for part in (FORMAT, sandbox, sys.version, plan.source, *plan.steps):
        digest.update(part.encode() + b"\0")
    for name in KEY_FILES:
        path = root / name
        if path.is_file() and not path.is_symlink():
            digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


@dataclass(frozen=True)
class CacheEntry:
    key: str
    path: Path
    bytes: int
    last_used: float


class EnvironmentCache:
    def __init__(self, root: Path, max_bytes: int, max_age_days: float) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_age_seconds = max_age_days * 86400

    def restore(self, key: str, worktree: Path) -> bool:
        """Copies the cached environment into the working files; False when there is none."""
        entry = self.root / key
        meta = entry / "meta.json"
        if not meta.is_file():
            return False
        for name in json.loads(meta.read_text())["dirs"]:
            target = worktree / name
            if target.exists() or target.is_symlink():
                _remove(target)
            _copy(entry / "dirs" / name, target)
        self._touch(entry)
        return True

    def store(self, key: str, worktree: Path, dirs: tuple[str, ...]) -> CacheEntry:
        """Keeps the environment setup built; written aside and renamed, so a crash leaves no half entry."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".{key}.{os.getpid()}.partial"
        _remove(staging)
        present = [d for d in dirs if (worktree / d).is_dir() and not (worktree / d).is_symlink()]
        for name in present:
            _copy(worktree / name, staging / "dirs" / name)
        size = _size(staging)
        (staging / "meta.json").write_text(json.dumps({"dirs": present, "bytes": size, "created": time.time()}))
        final = self.root / key
        if final.exists():
            _remove(staging)  # another run stored the same environment meanwhile
        else:
            os.replace(staging, final)
        self._touch(final)
        return CacheEntry(key, final, size, time.time())

    def entries(self) -> list[CacheEntry]:
        found = []
        for entry in self.root.glob("*/meta.json"):
            meta = json.loads(entry.read_text())
            found.append(CacheEntry(entry.parent.name, entry.parent, int(meta["bytes"]), entry.stat().st_mtime))
        return sorted(found, key=lambda e: e.last_used)

    def evict(self, now: float | None = None) -> list[str]:
        """Removes stale entries, then the least recently used until the cache fits; returns their keys."""
        now = now or time.time()
        evicted = []
        entries = self.entries()
        for entry in list(entries):
            if now - entry.last_used > self.max_age_seconds:
                _remove(entry.path)
                entries.remove(entry)
                evicted.append(entry.key)
        total = sum(e.bytes for e in entries)
        for entry in entries:
            if total <= self.max_bytes:
                break
            _remove(entry.path)
            total -= entry.bytes
            evicted.append(entry.key)
        return evicted

    @staticmethod
    def _touch(entry: Path) -> None:
        os.utime(entry / "meta.json")


def _copy(source: Path, target: Path) -> None:
    """`cp -a`: links, modes and times kept; reflinks where the filesystem has them."""
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(source), str(target)], check=True, capture_output=True)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(path)


def _size(path: Path) -> int:
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total
