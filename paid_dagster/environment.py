"""Environment defaults, in one place, set before any library reads them (imported first by the package).

- litellm downloads its price map at import unless told to use the copy it ships;
- mini-swe-agent prints a banner, and tracks costs of its own unless told to leave that to Paid;
- great-expectations sends usage analytics unless told not to;
- Dagster sends telemetry unless told not to.
Each is only a default: a variable the user set wins.
"""

from __future__ import annotations

import os

DEFAULTS = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "MSWEA_SILENT_STARTUP": "1",
    "MSWEA_COST_TRACKING": "ignore_errors",
    "GX_ANALYTICS_ENABLED": "False",
    "DAGSTER_DISABLE_TELEMETRY": "yes",
}


def apply_defaults() -> None:
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
