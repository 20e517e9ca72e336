"""Tool failures as short messages: refusals say why, unexpected errors name their kind, never a traceback.

`guarded(fn, redactor)` wraps a tool: its result and any error message go through the server's one
`Redactor`, and every exception becomes an MCP `ToolError` (the client sees `is_error` and one line).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from sophia_mcp.redaction import Redactor

log = logging.getLogger("sophia_mcp")
MAX_MESSAGE_CHARS = 500
F = TypeVar("F", bound=Callable[..., Any])


class Refused(Exception):
    """An expected failure (bad input, no permission, out of bounds, a service said no): the message is the answer."""


def short_message(exc: BaseException) -> str:
    """The first line of the exception's message (bounded); unexpected kinds are named."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not isinstance(exc, Refused | ValueError | KeyError | LookupError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    elif isinstance(exc, KeyError):
        text = text.strip("'\"")
    return text[:MAX_MESSAGE_CHARS]


def guarded(fn: F, redactor: Redactor) -> F:
    """`fn` with its output redacted and every failure turned into a short, redacted `ToolError`."""

    @functools.wraps(fn)
    def tool(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            message = redactor.text(short_message(exc))
            log.info("tool %s failed: %s", fn.__name__, message)
            raise ToolError(message) from None
        return redactor(result)

    return tool  # type: ignore[return-value]
