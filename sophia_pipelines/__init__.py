"""Sophia Pipelines: the data plane (sources -> warehouse -> chunks -> vectors) as Dagster assets."""
