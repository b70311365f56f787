"""Paid: an autonomous software factory for GitHub, as an event-sourced Dagster asset graph."""

from .environment import apply_defaults

apply_defaults()
