"""Hybrid retrieval: BM25 lexical index, rank fusion, near-duplicate collapse and snippets (pure, no I/O here)."""
