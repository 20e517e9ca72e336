"""The streamable HTTP transport as the cluster runs it: `python -m <server> --transport http --host .. --port ..`.

`/health` answers 200 without auth (the Deployment's probes); `/mcp` refuses a missing or wrong bearer token
(401, nothing echoed) and serves the official client that sends `MCP_AUTH_TOKEN`; without a token configured
the server refuses to start (exit 2).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from sophia_business_intelligence_mcp_server.server import build_server
from sophia_mcp.server import main
from sophia_mcp.settings import AUTH_TOKEN_ENV, HEALTH_PATH, MCP_PATH

ROOT = Path(__file__).resolve().parents[1]
SERVER = "sophia_business_intelligence_mcp_server"
TOKEN = "http-test-token-5b1e0c9d77"
START_TIMEOUT_S = 60
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(tmp: Path, token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != AUTH_TOKEN_ENV}
    env |= {"PYTHONPATH": str(ROOT), "SOPHIA_ENV": "local", "SOPHIA_DATA_DIR": str(tmp)}
    return env | ({AUTH_TOKEN_ENV: token} if token else {})


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    args = [sys.executable, "-m", SERVER, "--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
    tmp = tmp_path_factory.mktemp("http")
    proc = subprocess.Popen(args, env=server_env(tmp, TOKEN), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "server exited"
            try:
                if httpx.get(url + HEALTH_PATH, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not answer /health"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_health_answers_without_auth(base_url: str) -> None:
    reply = httpx.get(base_url + HEALTH_PATH)
    assert reply.status_code == 200 and reply.json() == {"status": "ok", "server": SERVER}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", TOKEN])
def test_mcp_refuses_a_missing_or_wrong_token(base_url: str, authorization: str | None) -> None:
    headers = HEADERS | ({"authorization": authorization} if authorization else {})
    reply = httpx.post(base_url + MCP_PATH, json=INITIALIZE, headers=headers)
    assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in reply.text and "unauthorized" in reply.json()["error"]


def test_the_official_client_with_the_token_lists_and_calls_tools(base_url: str) -> None:
    async def main() -> tuple[set[str], bool]:
        async with (
            create_mcp_http_client(headers={"authorization": f"Bearer {TOKEN}"}) as http,
            streamable_http_client(base_url + MCP_PATH, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = await session.list_tools()
            refused = await session.call_tool("query_warehouse", {"sql": "DROP TABLE documents"})
            return {t.name for t in tools.tools}, bool(refused.is_error)

    names, refused = anyio.run(main)
    assert names == {"query_warehouse", "describe_tables", "vector_index_stats"} and refused


def test_http_without_a_token_configured_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(AUTH_TOKEN_ENV, raising=False)
    assert main(SERVER, build_server, ["--transport", "http", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert AUTH_TOKEN_ENV in err and "Traceback" not in err
