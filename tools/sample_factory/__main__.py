"""`python -m tools.sample_factory`: see `tools.sample_factory.cli`."""

from tools.sample_factory.cli import main

raise SystemExit(main(prog="python -m tools.sample_factory"))
