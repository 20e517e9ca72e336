"""Command line: `python -m tools.sample_factory --out DIR [--documents N] [--seed S] [--clean]`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tools.sample_factory.files import write_samples
from tools.sample_factory.generate import DEFAULT_DOCUMENTS

DESCRIPTION = "Deterministic sample payloads shaped exactly like the Apify, PhantomBuster and Tavily APIs."


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Write the samples under --out and print the item count per source (`prog`: the name in usage lines)."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    parser.add_argument("--out", type=Path, required=True, help="samples root to (re)write")
    parser.add_argument("--documents", type=int, default=DEFAULT_DOCUMENTS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clean", action="store_true", help="only valid records (no mess)")
    args = parser.parse_args(argv)
    counts = write_samples(args.out, args.documents, args.seed, messy=not args.clean)
    for source, count in counts.items():
        print(f"{source}: {count}")
    return 0
