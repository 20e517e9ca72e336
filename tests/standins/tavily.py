"""Tavily API stand-in: `POST /search` with `Authorization: Bearer <key>` (else 401).

Answers the registered response for a query (else a generated one of the documented shape); a query over
400 characters gets 400 `{"detail": {"error": "Query is too long..."}}`, as the real API does.
"""

from __future__ import annotations

import zlib
from typing import Any

from .http import RecordedRequest, Reply, StandinServer, load_sample_batches

MAX_QUERY_CHARS = 400


def search_response(query: str, results: int = 2) -> dict[str, Any]:
    """A search response of the documented shape (inline fallback for missing samples)."""
    return {
        "query": query,
        "answer": None,
        "images": [],
        "results": [
            {
                "title": f"Result {i} for {query}",
                "url": f"https://news.example.org/{i}",
                "content": f"Snippet {i} about {query}.",
                "score": round(0.9 - i * 0.1, 3),
                "raw_content": f"# Result {i}\n\nFull text about {query}." if i % 2 == 0 else None,
                "favicon": "https://news.example.org/favicon.ico",
            }
            for i in range(results)
        ],
        "follow_up_questions": None,
        "response_time": 1.67,
        "request_id": f"req-{zlib.crc32(query.encode()):08x}",
    }


def sample_or_inline_responses() -> list[dict[str, Any]]:
    """The bundled Tavily samples (full responses, one per distinct sendable query), else two inline ones."""
    unique: dict[str, dict[str, Any]] = {}
    for response in load_sample_batches("tavily").values():
        query = response.get("query") if isinstance(response, dict) else None
        if isinstance(query, str) and query.strip() and len(query) <= MAX_QUERY_CHARS:
            unique.setdefault(query, response)
    if unique:
        return list(unique.values())
    second = search_response("Vector database pricing 2026", results=3)
    second["response_time"] = "0.92"  # seen as a string too
    return [search_response("Dagster asset checks best practices"), second]


class TavilyStandin(StandinServer):
    """Search responses held in memory, keyed by query."""

    unauthorized_body: Any = {"detail": {"error": "Unauthorized: missing or invalid API key."}}

    def __init__(self, api_key: str, responses: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.responses = {r["query"]: r for r in responses or []}

    def failure_body(self, status: int) -> Any:
        return {"detail": {"error": f"Injected failure ({status})"}}

    def authorized(self, request: RecordedRequest) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.api_key}"

    def route(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or request.path != "/search":
            return Reply(404, {"detail": "Not Found"})
        body = request.json()
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str) or not query:
            return Reply(400, {"detail": {"error": "Query is missing."}})
        if len(query) > MAX_QUERY_CHARS:
            return Reply(400, {"detail": {"error": "Query is too long. Max query length is 400 characters."}})
        return Reply(200, self.responses.get(query) or search_response(query))
