#!/usr/bin/env bash
# The whole test suite, with everything it needs installed and started. `make test` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/system-deps.sh
# The private PostgreSQL cluster is stopped again afterwards unless it was already running.
if ! scripts/private-postgres.sh url >/dev/null 2>&1; then trap 'scripts/private-postgres.sh stop' EXIT; fi
PAID_TEST_POSTGRES_URL=$(scripts/services.sh)
export PAID_TEST_POSTGRES_URL LITELLM_LOCAL_MODEL_COST_MAP=True MSWEA_SILENT_STARTUP=1 DAGSTER_DISABLE_TELEMETRY=yes
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=25 "$@"
status=$?
set -e
# pytest exits 5 when it collected nothing: that is a broken suite here, never a pass.
if [ "$status" = 5 ]; then echo "no tests were collected" >&2; exit 1; fi
exit "$status"
