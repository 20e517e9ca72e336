"""Drive an MCP server the way Cursor does: `python -m <module>` over stdio, through the official MCP client.

`run_session` starts the server once, lists its tools, makes every call in order and returns what came back,
so a test module can start each server once (a module-scoped fixture) and assert on the answers; `run_sessions`
runs several servers at once. A call may be a
function of the answers so far (e.g. the run id a launch returned). `call_in_process` drives a server object through
the same client over the SDK's in-memory transport (for checks that need no separate process).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, ClientSession, StdioServerParameters
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


Call = tuple[str, dict[str, Any]] | Callable[[list[Answer]], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Spec:
    """One server session to run: its module, environment, calls and extra arguments."""

    module: str
    env: Mapping[str, str]
    calls: Sequence[Call]
    args: Sequence[str] = ()


async def _session(spec: Spec) -> Session:
    session = Session()
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", spec.module, *spec.args],
        env={"PYTHONPATH": str(ROOT), **spec.env},
        cwd=str(ROOT),
    )
    log = Path(tempfile.mkstemp(prefix="mcp-stderr-", suffix=".log")[1])
    try:
        with anyio.fail_after(SESSION_TIMEOUT_S), log.open("w") as err:
            async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as client:
                await client.initialize()
                listed = await client.list_tools()
                session.tools = {t.name: t for t in listed.tools}
                for call in spec.calls:
                    name, arguments = call(session.answers) if callable(call) else call
                    session.answers.append(_answer(await client.call_tool(name, arguments)))
        session.stderr = log.read_text(encoding="utf-8", errors="replace")
    finally:
        log.unlink(missing_ok=True)
    return session


def run_sessions(specs: Mapping[str, Spec]) -> dict[str, Session]:
    """Run every session at once (each its own server process); {key: session}."""
    out: dict[str, Session] = {}

    async def one(key: str, spec: Spec) -> None:
        out[key] = await _session(spec)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for key, spec in specs.items():
                group.start_soon(one, key, spec)

    anyio.run(main)
    return out


def run_session(module: str, env: Mapping[str, str], calls: Sequence[Call], args: Sequence[str] = ()) -> Session:
    """Start `python -m module` with `env` (plus PYTHONPATH to this checkout), list tools, make `calls`."""
    return run_sessions({"one": Spec(module, env, calls, args)})["one"]


def call_in_process(server: Any, calls: Sequence[tuple[str, dict[str, Any]]]) -> list[Answer]:
    """Make `calls` on an `MCPServer` object through the official client, in memory."""
    out: list[Answer] = []

    async def main() -> None:
        async with Client(server) as client:
            for name, arguments in calls:
                out.append(_answer(await client.call_tool(name, arguments)))

    anyio.run(main)
    return out
