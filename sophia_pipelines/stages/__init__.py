"""The pipeline's stages as plain functions over a warehouse session: what each asset calls.

They hold the incremental logic (what is new, what changed, what is gone) and are testable without Dagster.
"""
