#!/usr/bin/env bash
# Builds Paid's default Docker sandbox image from Debian's packages, without any image registry:
# debootstrap a minimal bookworm, then `docker import`. Skipped when the image already exists.
# Users who pull images set `sandbox_image` in paid.yaml instead.
set -euo pipefail
IMAGE=${1:-paid-sandbox:bookworm}
if docker image inspect "$IMAGE" >/dev/null 2>&1 && [ "${FORCE:-0}" != 1 ]; then
  echo "$IMAGE exists"; exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
MIRROR=$(grep -rhoE '^(deb|URIs:) +https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | awk '{print $2}' | grep -i debian | head -1 || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
# python3 and git for the agent; the libraries a host Python (pyenv, venv) mounted read-only needs.
debootstrap --variant=minbase \
  --include=python3,git,ca-certificates,procps,libssl3,libffi8,libsqlite3-0,zlib1g,libbz2-1.0,liblzma5,libreadline8,libncursesw6,libgdbm6,libuuid1 \
  bookworm "$DIR" "$MIRROR" >/dev/null
echo "sandbox:x:1000:1000:sandbox:/tmp:/bin/bash" >> "$DIR/etc/passwd"
echo "sandbox:x:1000:" >> "$DIR/etc/group"
# Host toolchains (a venv, a pyenv Python) are mounted read-only at their own paths, which may lie under /root.
chmod 755 "$DIR/root"
rm -rf "$DIR/var/cache/apt/archives"/*.deb "$DIR/var/lib/apt/lists"/*
tar -C "$DIR" -c . | docker import -c 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "built $IMAGE"
