"""Drive an MCP server the way Cursor does: `python -m <module>` over stdio, through the official MCP client.

`run_session` starts the server once, lists its tools, makes every call in order and returns what came back,
so a test module can start each server once (a module-scoped fixture) and assert on the answers.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[1]
SESSION_TIMEOUT_S = 120


@dataclass(frozen=True)
class Answer:
    """One tool call's result: whether it is an error, its text, and its structured content."""

    is_error: bool
    text: str
    data: dict[str, Any] | None

    def __str__(self) -> str:
        return self.text


@dataclass
class Session:
    tools: dict[str, Any] = field(default_factory=dict)  # name -> mcp Tool
    answers: list[Answer] = field(default_factory=list)
    stderr: str = ""

    def everything(self) -> str:
        """Every byte the client saw (tool descriptions, answers) plus the server's stderr."""
        tools = json.dumps({n: t.model_dump(mode="json") for n, t in self.tools.items()})
        return "\n".join([tools, *(a.text + json.dumps(a.data) for a in self.answers), self.stderr])


def _answer(result: Any) -> Answer:
    text = "\n".join(getattr(c, "text", "") for c in result.content)
    return Answer(bool(result.is_error), text, result.structured_content)


def run_session(
    module: str,
    env: Mapping[str, str],
    calls: Sequence[tuple[str, dict[str, Any]]],
    args: Sequence[str] = (),
    errlog: Path | None = None,
) -> Session:
    """Start `python -m module` with `env` (plus PYTHONPATH to this checkout), list tools, make `calls`."""
    session = Session()
    log = errlog or Path(tempfile.mkstemp(prefix="mcp-stderr-", suffix=".log")[1])
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", module, *args],
        env={"PYTHONPATH": str(ROOT), **env},
        cwd=str(ROOT),
    )

    async def main() -> None:
        with anyio.fail_after(SESSION_TIMEOUT_S), log.open("w") as err:
            async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as client:
                await client.initialize()
                listed = await client.list_tools()
                session.tools = {t.name: t for t in listed.tools}
                for name, arguments in calls:
                    session.answers.append(_answer(await client.call_tool(name, arguments)))

    anyio.run(main)
    session.stderr = log.read_text(encoding="utf-8", errors="replace")
    return session
