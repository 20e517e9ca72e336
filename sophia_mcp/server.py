"""Create, and run, one Sophia MCP server: stdio for Cursor, streamable HTTP (bearer auth, /health) for k8s.

A server package defines `build_server(settings) -> MCPServer` (its tools registered through `add_tools`, so
every tool is guarded and redacted) and calls `main(name, build_server)` from its `__main__`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sophia_mcp.auth import BearerAuth
from sophia_mcp.errors import guarded
from sophia_mcp.redaction import Redactor
from sophia_mcp.settings import AUTH_TOKEN_ENV, HEALTH_PATH, MCP_PATH, McpSettings, load_settings

EXIT_USAGE = 2


def create_server(name: str, instructions: str) -> MCPServer:
    """An MCP server named `name` with a `/health` route (200, no auth) for the Deployment's probes."""
    server = MCPServer(name, instructions=instructions, log_level="WARNING")

    @server.custom_route(HEALTH_PATH, methods=["GET"])
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "server": name})

    return server


def add_tools(server: MCPServer, redactor: Redactor, *tools: Callable[..., Any]) -> None:
    """Register each function as a tool (its name, typed parameters and docstring), guarded and redacted."""
    for fn in tools:
        server.add_tool(guarded(fn, redactor), name=fn.__name__)


def http_app(server: MCPServer, settings: McpSettings) -> Any:
    """The streamable HTTP app at `/mcp` behind bearer auth (`/health` open)."""
    if not settings.auth_token:
        raise ValueError(f"the http transport needs {AUTH_TOKEN_ENV} (the bearer token clients must send)")
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=settings.host)
    return BearerAuth(app, settings.auth_token, open_paths=(HEALTH_PATH,))


def serve(server: MCPServer, settings: McpSettings, app: Any = None) -> None:
    """Run until stopped: stdio, or the HTTP `app` (default: `http_app(server, settings)`) under uvicorn."""
    if settings.transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    app = app or http_app(server, settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def main(name: str, build: Callable[[McpSettings], MCPServer], argv: Sequence[str] | None = None) -> int:
    """`python -m <name>`: parse flags and environment, build the server, serve; a configuration error exits 2."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    settings = load_settings(name, argv)
    try:
        server = build(settings)
        app = http_app(server, settings) if settings.transport == "http" else None
    except ValueError as exc:  # configuration: one line, no traceback
        print(f"{name}: {Redactor.from_env().text(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    with contextlib.suppress(KeyboardInterrupt):
        serve(server, settings, app)
    return 0
