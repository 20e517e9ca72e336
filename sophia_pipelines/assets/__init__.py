"""Thin Dagster assets over the stage functions in `sophia_pipelines.stages`."""
