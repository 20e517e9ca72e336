"""The one container image of the platform: the Dagster code and the four MCP servers (built by the root Dockerfile).

The tag is pinned here; `SOPHIA_IMAGE_TAG` overrides it (CI sets it to the release it built). The infra plane reads
that variable through its one table (`infra_assets/environment.py` -> `InfraSettings.image_tag`) and passes the tag
to `image_ref(tag)`, which is what every manifest uses.
"""

from __future__ import annotations

IMAGE_REPOSITORY = "ghcr.io/sophia-ai/sophia-platform"
IMAGE_TAG = "0.1.0"  # the project version (pyproject.toml); CI overrides it with the release it built
IMAGE_TAG_ENV_VAR = "SOPHIA_IMAGE_TAG"

MCP_SERVER_MODULES = {  # workload name -> the top-level package the container runs with `python -m`
    "ai-intelligence-mcp": "sophia_ai_intelligence_mcp_server",
    "data-intelligence-mcp": "sophia_data_intelligence_mcp_server",
    "infrastructure-mcp": "sophia_infrastructure_mcp_server",
    "business-intelligence-mcp": "sophia_business_intelligence_mcp_server",
}
MCP_PORT = 8080
MCP_HEALTH_PATH = "/health"


def image_ref(tag: str | None = None) -> str:
    """`ghcr.io/sophia-ai/sophia-platform:<tag>` (`IMAGE_TAG` when `tag` is empty)."""
    return f"{IMAGE_REPOSITORY}:{tag or IMAGE_TAG}"


def mcp_server_args(workload: str, *, port: int = MCP_PORT) -> tuple[str, ...]:
    """Container command of an MCP server: `python -m <module> --transport http --host 0.0.0.0 --port 8080`."""
    module = MCP_SERVER_MODULES[workload]
    return ("python", "-m", module, "--transport", "http", "--host", "0.0.0.0", "--port", str(port))
