#!/bin/bash
# The deployment's image: Paid and the stand-ins (for the offline mode) built from a copy of the sources and
# installed on the base image, no dependency resolved again (the base holds them, pinned by requirements.lock).
set -euo pipefail
cp -r /build/src /tmp/src
python3 -m pip install -q --no-cache-dir --no-deps --no-index --no-build-isolation --break-system-packages \
  --root-user-action=ignore /tmp/src /tmp/src/standins
rm -rf /tmp/src
python3 -c "import paid_dagster.definitions"  # fails the build, not the first run, when an import is missing
