#!/bin/bash
# The deployment's base image, built in a container from paid-sandbox:bookworm (Debian's packages, no image
# registry): PostgreSQL and pip from Debian, then every pinned dependency of Paid from PyPI. The machine's
# /etc/pip.conf and CA bundle are mounted read-only for this build only; nothing of them stays in the image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3-pip postgresql-15 >/dev/null
pg_dropcluster 15 main 2>/dev/null || true  # the package's own cluster: the deployment makes its own
rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
python3 -m pip install -q --no-cache-dir --break-system-packages --root-user-action=ignore -r /build/requirements.lock
install -m 755 /build/postgres-entrypoint.sh /usr/local/bin/paid-postgres
install -d -o postgres -g postgres -m 700 /var/lib/paid-postgres
install -d -m 755 /opt/dagster/home /etc/paid
