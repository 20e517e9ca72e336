"""Infrastructure MCP server: the infra plane's state, scaling plans, and audited scaling requests."""
