"""The code location `sophia_pipelines`: everything under `defs/`, for the environment SOPHIA_ENV selects."""

import dagster as dg

from sophia_platform.loader import load_platform


@dg.definitions
def defs() -> dg.Definitions:
    return load_platform()
