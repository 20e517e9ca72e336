"""A local stand-in for an OpenAI-compatible chat endpoint (OpenRouter, Together AI; Portkey's gateway).

`POST /v1/chat/completions` {"model", "messages", ...} with `Authorization: Bearer <token>` (or Portkey's
`x-portkey-api-key`) → `{"id", "object": "chat.completion", "model", "choices": [{"index": 0, "message":
{"role": "assistant", "content"}, "finish_reason": "stop"}], "usage": {...}}`. The answer names the first
passage's title and cites [1] (plus `extra`, e.g. a planted string); a wrong token gets 401
`{"error": {"message", "code"}}`. `fail_next` injects 429/5xx like every stand-in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .http import RecordedRequest, Reply, StandinServer

_FIRST_PASSAGE = re.compile(r"^\[1\] (.+?) \(", re.MULTILINE)


@dataclass
class ChatStandin(StandinServer):
    """Context manager: the chat endpoint on 127.0.0.1:<free port>; `base_url` ends in /v1."""

    token: str = "test-chat-token"
    extra: str = ""
    api_prefix = "/v1"

    def __post_init__(self) -> None:
        super().__init__()

    def failure_body(self, status: int) -> Any:
        return {"error": {"message": f"injected failure {status}", "code": status}}

    def authorized(self, request: RecordedRequest) -> bool:
        given = request.headers.get("authorization") or f"Bearer {request.headers.get('x-portkey-api-key', '')}"
        return given == f"Bearer {self.token}"

    def handle(self, request: RecordedRequest) -> Reply | None:
        reply = super().handle(request)
        if reply is not None and reply.status == 401:
            return Reply(401, {"error": {"message": "invalid api key", "code": 401}})
        return reply

    def route(self, request: RecordedRequest) -> Reply:
        if (request.method, request.path) != ("POST", "/v1/chat/completions"):
            return Reply(404, {"error": {"message": f"no route {request.method} {request.path}", "code": 404}})
        body = request.json()
        prompt = body["messages"][-1]["content"]
        match = _FIRST_PASSAGE.search(prompt)
        title = match.group(1) if match else "nothing"
        content = f"The passages discuss {title} [1].{(' ' + self.extra) if self.extra else ''}"
        return Reply(
            200,
            {
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(content.split())},
            },
        )
