"""The deployment's images, built on this machine without an image registry and cached by what goes in.

Two layers, each built by running its script in a container and committing it (the machine's pip settings and
CA bundle are bind-mounted for the build only, so nothing of them is in a layer):
- `paid-deploy-base:<hash>`: paid-sandbox:bookworm (debootstrap, scripts/build-sandbox-image.sh) + PostgreSQL
  and pip from Debian + requirements.lock from PyPI; the hash covers the lock, the script and the base image.
- `paid-deploy:<hash>`: Paid and the stand-ins installed from their sources on it; the hash covers the
  base's tag and the sources.
A second `paid deploy up`, or CI, finds both tags and builds nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SANDBOX_BASE = "paid-sandbox:bookworm"
BASE_REPOSITORY = "paid-deploy-base"
APP_REPOSITORY = "paid-deploy"
SOURCES = ("pyproject.toml", "README.md", "paid_dagster", "standins")
# The machine's pip settings and CA bundle, mounted for the build only (beside the image's own /etc/ssl, which
# Debian's ca-certificates package writes) and named to pip by its environment variables.
BUILD_SHARED = {
    "/etc/pip.conf": ("/run/paid-build/pip.conf", "PIP_CONFIG_FILE"),
    "/etc/ssl/certs/ca-certificates.crt": ("/run/paid-build/ca.crt", "PIP_CERT"),
}
RECIPE = "2"  # how _build makes an image: changed when that changes, so that cached images are made again
SKIPPED = {"__pycache__", "build", ".mypy_cache"}
IMAGE_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "DAGSTER_HOME=/opt/dagster/home"]


class ImageBuildFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Images:
    base: str
    app: str


def source_root() -> Path:
    """Paid's checkout, whose sources the image is built from (an installed wheel alone cannot build it)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / "deploy" / "install-app.sh").is_file():
        raise ImageBuildFailed(f"`paid deploy` builds its images from Paid's checkout; none found at {root}")
    return root


def _source_files(root: Path) -> Iterator[Path]:
    for name in SOURCES:
        path = root / name
        if path.is_file():
            yield path
            continue
        for found in sorted(path.rglob("*")):
            parts = set(found.relative_to(root).parts)
            if (
                found.is_file()
                and not parts & {"__pycache__", "build", ".mypy_cache"}
                and ".egg-info" not in str(found)
            ):
                yield found


def digest(items: list[tuple[str, bytes]]) -> str:
    sha = hashlib.sha256()
    for name, content in items:
        sha.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return sha.hexdigest()[:16]


def base_tag(root: Path, base_image_id: str) -> str:
    deploy = root / "deploy"
    items = [(name, (deploy / name).read_bytes()) for name in ("install-base.sh", "postgres-entrypoint.sh")]
    items += [("requirements.lock", (root / "requirements.lock").read_bytes()), ("base", base_image_id.encode())]
    items += [("recipe", RECIPE.encode())]
    return f"{BASE_REPOSITORY}:{digest(items)}"


def app_tag(root: Path, base: str) -> str:
    items = [(str(p.relative_to(root)), p.read_bytes()) for p in _source_files(root)]
    items += [("install-app.sh", (root / "deploy" / "install-app.sh").read_bytes()), ("base", base.encode())]
    return f"{APP_REPOSITORY}:{digest(items)}"


def ensure_images(client: Any, root: Path | None = None, log: Any = print) -> Images:
    """Both images, built only when their tag (the hash of what goes in) is missing."""
    root = root or source_root()
    from docker.errors import ImageNotFound

    try:
        sandbox = client.images.get(SANDBOX_BASE)
    except ImageNotFound as exc:
        raise ImageBuildFailed(f"{SANDBOX_BASE} is missing: build it with scripts/build-sandbox-image.sh") from exc
    base = base_tag(root, sandbox.id)
    if not _exists(client, base):
        log(f"building {base} (Debian's packages and requirements.lock; minutes, once)")
        with tempfile.TemporaryDirectory(prefix="paid-image-") as tmp:
            build = Path(tmp)
            for name in ("install-base.sh", "postgres-entrypoint.sh"):
                shutil.copy(root / "deploy" / name, build / name)
            shutil.copy(root / "requirements.lock", build / "requirements.lock")
            _build(client, SANDBOX_BASE, base, build, "install-base.sh", network=True)
    app = app_tag(root, base)
    if not _exists(client, app):
        log(f"building {app} (Paid's sources)")
        with tempfile.TemporaryDirectory(prefix="paid-image-") as tmp:
            build = Path(tmp)
            _copy_sources(root, build / "src")
            shutil.copy(root / "deploy" / "install-app.sh", build / "install-app.sh")
            _build(client, base, app, build, "install-app.sh", network=False)
    return Images(base, app)


def _exists(client: Any, tag: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    return True


def _copy_sources(root: Path, into: Path) -> None:
    """The files the image is built from (the checkout's build leftovers and caches are not among them)."""
    for path in _source_files(root):
        target = into / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _wait(container: Any) -> int:
    """The build's exit code, polled (a long build outlasts the client's read timeout on `wait`)."""
    while True:
        container.reload()
        if container.status in ("exited", "dead"):
            return int(container.attrs["State"]["ExitCode"])
        time.sleep(2)


def _build(client: Any, from_image: str, tag: str, build: Path, script: str, network: bool) -> None:
    from docker.types import Mount

    # Mounts and variables given this way stay out of the committed image's configuration (a `volumes=` bind
    # or `environment=` would be merged into it).
    mounts = [Mount("/build", str(build), type="bind", read_only=True)]
    settings = []
    for shared, (inside, variable) in BUILD_SHARED.items():
        if Path(shared).exists():
            mounts.append(Mount(inside, shared, type="bind", read_only=True))
            settings.append(f"{variable}={inside}")
    container = client.containers.run(
        from_image,
        ["env", *settings, "bash", f"/build/{script}"],  # nothing else of the host's environment enters a build
        detach=True,
        mounts=mounts,
        network_mode="bridge" if network else "none",
        labels={"paid.image-build": tag},
    )
    try:
        if _wait(container) != 0:
            tail = container.logs(tail=40).decode(errors="replace")
            raise ImageBuildFailed(f"building {tag} failed:\n{tail}")
        repository, version = tag.split(":")
        container.commit(
            repository=repository,
            tag=version,
            conf={"Env": IMAGE_ENV, "Cmd": ["bash"], "WorkingDir": "/opt/dagster/home", "Labels": {"paid.image": tag}},
        )
    finally:
        container.remove(force=True)
