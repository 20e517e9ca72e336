"""What the four Sophia MCP servers share: settings, transports and bearer auth, redaction, errors, Dagster runs.

Each server package (`sophia_<domain>_mcp_server`) is a thin `build_server(settings)` that registers its tools
with `sophia_mcp.server.create_server` and runs through `sophia_mcp.server.main` (stdio or streamable HTTP).
"""
