"""What Paid asks of GitHub, on PyGithub (no Dagster imports)."""
