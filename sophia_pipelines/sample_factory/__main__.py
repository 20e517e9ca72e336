"""`python -m sophia_pipelines.sample_factory`: see `sophia_pipelines.sample_factory.cli`."""

from sophia_pipelines.sample_factory.cli import main

raise SystemExit(main(prog="python -m sophia_pipelines.sample_factory"))
