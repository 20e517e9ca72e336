"""The audit trail of write tools: one JSON line per request (granted or refused) on stderr, logger `sophia_mcp.audit`.

In Kubernetes stderr is the pod log; under Cursor it is the MCP server's output panel. Lines carry the tool, its
arguments, the outcome and the run launched; they go through the server's redaction like every output.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from sophia_mcp.redaction import Redactor

AUDIT_LOGGER = "sophia_mcp.audit"


def audit_logger() -> logging.Logger:
    """The audit logger: INFO and up, to stderr, whatever the root logger's level."""
    log = logging.getLogger(AUDIT_LOGGER)
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def audit(redactor: Redactor, tool: str, outcome: str, **fields: Any) -> dict[str, Any]:
    """Write one audit line (`{"audit": tool, "outcome": ..., "at": ..., **fields}`) and return it."""
    record = redactor({"audit": tool, "outcome": outcome, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       **fields})  # fmt: skip
    audit_logger().info(json.dumps(record, sort_keys=True, default=str))
    return record
