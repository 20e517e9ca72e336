"""Data intelligence MCP server: document search, the sources and their freshness, launching ingestion runs."""
