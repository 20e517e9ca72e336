"""Settings of an MCP server: command-line flags over environment variables, read once at start.

Container args (the cluster's contract): `python -m <server> --transport http --host 0.0.0.0 --port 8080`;
Cursor runs the same module with the default stdio transport.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

AUTH_TOKEN_ENV = "MCP_AUTH_TOKEN"  # bearer token the HTTP transport requires
ALLOW_WRITES_ENV = "SOPHIA_MCP_ALLOW_WRITES"  # "1": write tools (ingest, request_scaling) may act
GRAPHQL_URL_ENV = "DAGSTER_GRAPHQL_URL"
UI_URL_ENV = "DAGSTER_UI_URL"  # where run links point (default: the GraphQL URL without /graphql)
DEFAULT_GRAPHQL_URL = "http://localhost:3000/graphql"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MCP_PATH = "/mcp"
HEALTH_PATH = "/health"
TRUE_VALUES = frozenset({"1", "true", "yes", "on"})

Transport = Literal["stdio", "http"]


@dataclass(frozen=True, slots=True)
class McpSettings:
    """How one server runs and what it may do."""

    transport: Transport = "stdio"
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow_writes: bool = False
    auth_token: str | None = None
    graphql_url: str = DEFAULT_GRAPHQL_URL
    ui_url: str | None = None

    @property
    def dagster_ui_url(self) -> str:
        """The Dagster UI's base URL, for run links."""
        if self.ui_url:
            return self.ui_url.rstrip("/")
        url = self.graphql_url.rstrip("/")
        return url[: -len("/graphql")] if url.endswith("/graphql") else url


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m {prog}", description=f"The {prog} MCP server.")
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="stdio (Cursor) or http")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"http: bind address (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"http: port (default {DEFAULT_PORT})")
    p.add_argument(
        "--allow-writes",
        action="store_true",
        help=f"let write tools act (also {ALLOW_WRITES_ENV}=1); without it they refuse",
    )
    return p


def load_settings(
    prog: str, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> McpSettings:
    """Flags from `argv`, the rest from the environment."""
    env = os.environ if environ is None else environ
    args = parser(prog).parse_args(argv)
    return McpSettings(
        transport=args.transport,
        host=args.host,
        port=args.port,
        allow_writes=args.allow_writes or env.get(ALLOW_WRITES_ENV, "").strip().lower() in TRUE_VALUES,
        auth_token=env.get(AUTH_TOKEN_ENV) or None,
        graphql_url=env.get(GRAPHQL_URL_ENV) or DEFAULT_GRAPHQL_URL,
        ui_url=env.get(UI_URL_ENV) or None,
    )
