"""What Paid learns from its history: prompt versions, experiments, model choice, and every decision it made.

No Dagster import here: the assets in `assets/learning.py` are thin adapters over this package.
"""
