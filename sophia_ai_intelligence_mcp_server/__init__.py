"""AI intelligence MCP server: answers from the ingested documents with citations, embeddings, model status."""
