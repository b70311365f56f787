"""Learning from outcomes: scores, costs and the budgets and gates built on them (no Dagster imports)."""
