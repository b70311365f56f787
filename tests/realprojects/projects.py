"""Real open-source projects, pinned releases fetched at test time from their registries (PyPI sdists, npm
tarballs) into a cache, verified against the sha256 recorded in projects.json: no third-party code is committed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

LIST = Path(__file__).with_name("projects.json")


@dataclass(frozen=True)
class Project:
    name: str
    version: str
    registry: str  # pypi | npm
    sha256: str

    @property
    def slug(self) -> str:
        return f"{self.name}-{self.version}"


def projects() -> dict[str, Project]:
    return {p["name"]: Project(**p) for p in json.loads(LIST.read_text())}


def cache_dir() -> Path:
    return Path(os.environ.get("PAID_TEST_PROJECTS_CACHE") or Path.home() / ".cache" / "paid-test-projects")


def _download(project: Project, into: Path) -> Path:
    if project.registry == "pypi":
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        command += ["-d", str(into), f"{project.name}=={project.version}"]
    else:
        command = ["npm", "pack", "-q", "--pack-destination", str(into), f"{project.name}@{project.version}"]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return next(p for p in into.iterdir() if p.name.endswith((".tar.gz", ".tgz")))


def archive(project: Project) -> Path:
    """The release's archive, downloaded once and checked against its recorded sha256 every time."""
    path = cache_dir() / project.slug / "archive.tar.gz"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            os.replace(_download(project, Path(tmp)), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != project.sha256:
        path.unlink()
        raise AssertionError(f"{project.slug}: sha256 {digest} is not the recorded {project.sha256}")
    return path


def unpack(project: Project, target: Path) -> Path:
    """The release's files at `target` (its archive's single top directory stripped)."""
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive(project)) as tar:
        tar.extractall(tmp, filter="data")
        (top,) = Path(tmp).iterdir()
        shutil.copytree(top, target, symlinks=True)
    return target


def text_files(root: Path) -> dict[str, str]:
    """The files as the forge's `create_repo` takes them (these releases are all text)."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.relative_to(root).as_posix()] = path.read_text()
    return files
