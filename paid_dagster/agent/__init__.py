"""The coding agent: engines, sandboxes, workspace, prompts (no Dagster imports)."""
