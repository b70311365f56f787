"""The quality feedback loop (RDR-013 layer 2): detect languages, run linters, type checkers and tests with
machine-readable output, parse them into findings and say what to fix (no Dagster imports)."""
