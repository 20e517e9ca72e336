"""Talk to a server as Cursor does, from a shell: `python -m sophia_mcp.probe <server module> [tool] [JSON arguments]`.

Starts `python -m <server module>` over stdio with the official MCP client, lists its tools (no tool given) or
calls one and prints the answer; exit 1 when the tool answered an error. For checking a set-up (docs/mcp.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def probe(module: str, tool: str | None, arguments: dict, server_args: Sequence[str] = ()) -> int:
    params = StdioServerParameters(command=sys.executable, args=["-m", module, *server_args], env=dict(os.environ))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        if tool is None:
            for t in (await session.list_tools()).tools:
                params = ", ".join(t.input_schema.get("properties", {}))
                print(f"{t.name}({params}): {(t.description or '').splitlines()[0]}")
            return 0
        result = await session.call_tool(tool, arguments)
        if result.structured_content is not None:
            print(json.dumps(result.structured_content, indent=2, ensure_ascii=False))
        else:
            print("\n".join(getattr(c, "text", "") for c in result.content))
        return 1 if result.is_error else 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sophia_mcp.probe", description=(__doc__ or "").splitlines()[0])
    p.add_argument("module", help="e.g. sophia_data_intelligence_mcp_server")
    p.add_argument("tool", nargs="?", help="the tool to call (default: list the tools)")
    p.add_argument("arguments", nargs="?", default="{}", help='JSON object, e.g. \'{"query": "GPU pricing"}\'')
    p.add_argument("--allow-writes", action="store_true", help="start the server with --allow-writes")
    args = p.parse_args(argv)
    server_args = ["--allow-writes"] if args.allow_writes else []
    return anyio.run(probe, args.module, args.tool, json.loads(args.arguments), server_args)


if __name__ == "__main__":
    sys.exit(main())
