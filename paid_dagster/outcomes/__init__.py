"""Outcomes: the quality score of each issue, model costs, and the budgets and gates built on them, plus what
each prompt version and model achieved (no Dagster imports)."""
