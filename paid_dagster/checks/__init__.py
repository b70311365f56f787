"""The checks loop (RDR-013 layer 2): the project's own checks, fed back to the agent. Detect languages, run
linters, type checkers and tests with machine-readable output, parse them into findings and say what to fix (no
Dagster imports)."""
