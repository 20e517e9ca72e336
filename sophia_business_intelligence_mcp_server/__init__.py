"""Business intelligence MCP server: read-only SQL over the warehouse, its tables, the vector index's size."""
