"""Developer tools that are not part of the runtime package (not installed; run from a checkout)."""
