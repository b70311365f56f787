#!/usr/bin/env bash
# Installs the system packages the sandbox, the browser test and the PostgreSQL tests need, when missing.
set -euo pipefail
# `system-deps.sh demo` installs only what the demo needs (git, bubblewrap); without it, what the tests need.
need=()
command -v git >/dev/null || need+=(git)
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v prlimit >/dev/null || need+=(util-linux)
if [ "${1:-all}" != demo ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v rubocop >/dev/null || need+=(rubocop)
  command -v go >/dev/null || need+=(golang-go)
  command -v npm >/dev/null || need+=(nodejs npm)
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v debootstrap >/dev/null || need+=(debootstrap)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
