"""The AI intelligence tools: `ask` (answers with numbered citations), `embed`, `model_status`.

`ask` retrieves passages through `sophia_mcp.documents.search_documents` (the one search entry point) and has
the configured OpenAI-compatible chat model (`sophia_mcp.chat`) answer from them only, citing `[n]`. Without a
chat key, or when the endpoint fails, it returns the top passages themselves (extractive) and says so.
"""

from __future__ import annotations

import re
from typing import Any

from mcp.server.mcpserver import MCPServer

from sophia_mcp.chat import ChatError, chat_settings, complete
from sophia_mcp.documents import search_documents, search_resources
from sophia_mcp.errors import Refused
from sophia_mcp.redaction import Redactor
from sophia_mcp.server import add_tools, create_server
from sophia_mcp.settings import McpSettings

NAME = "sophia_ai_intelligence_mcp_server"
PASSAGE_CHARS = 1500  # of each passage's text sent to the model
MAX_EMBED_TEXTS = 64
MAX_EMBED_CHARS = 8000
VECTOR_DECIMALS = 6
INSTRUCTIONS = (
    "Answers from Sophia's ingested documents. ask answers a question with numbered citations (title and URL); "
    "embed turns texts into vectors with the pipeline's embedder; model_status shows the models configured."
)
SYSTEM_PROMPT = (
    "You answer questions using ONLY the numbered passages given. Cite every claim with the passage number in "
    "square brackets, e.g. [1] or [2][3]. If the passages do not contain the answer, say so plainly. Be concise."
)
_CITATION = re.compile(r"\[(\d+)\]")


def by_document(passages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per document, in rank order: its best passage's fields with the texts of all its passages."""
    documents: dict[str, dict[str, Any]] = {}
    for p in passages:
        key = p["document_id"] or p["url"] or p["title"]
        if key in documents:
            documents[key]["text"] += "\n…\n" + p["text"]
        else:
            documents[key] = dict(p)
    return list(documents.values())


def _prompt(question: str, passages: list[dict[str, Any]]) -> str:
    blocks = [
        f"[{n}] {p['title']} ({p['url'] or 'no url'})\n{p['text'][:PASSAGE_CHARS]}" for n, p in enumerate(passages, 1)
    ]
    return "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"


def _citations(passages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ("title", "url", "source", "document_id", "score")
    return [{"n": n, **{k: p[k] for k in keys}} for n, p in enumerate(passages, 1)]


def _extractive(question: str, passages: list[dict[str, Any]], why: str) -> str:
    lines = [f"{why} Here are the top {len(passages)} passages for: {question}", ""]
    lines += [f"[{n}] {p['title']}: {p['snippet']}" for n, p in enumerate(passages, 1)]
    return "\n".join(lines)


def build_server(settings: McpSettings) -> MCPServer:
    """The AI intelligence server with its three tools."""

    def ask(question: str, k: int = 5) -> dict[str, Any]:
        """Answer `question` from the ingested documents, citing them as [n].

        Retrieves the `k` best passages (1-50) and returns the answer, the numbered citations (one per document:
        title, url, source, document_id, score) and `mode`: "generated" (by the configured chat model) or
        "extractive" (no chat key configured, or the chat endpoint failed: the top passages themselves).
        """
        if not question.strip():
            raise Refused("refused: the question is empty")
        passages = by_document(search_documents(question, k))
        citations = _citations(passages)
        chat = chat_settings()
        if not chat.configured:
            why = f"No chat model is configured ({chat.provider.key_env} is not set), so this is extractive."
            return {"mode": "extractive", "answer": _extractive(question, passages, why), "citations": citations}
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": _prompt(question, passages)},
        ]
        try:
            reply = complete(chat, messages)
        except ChatError as exc:
            why = f"The chat endpoint failed ({exc}), so this is extractive."
            return {"mode": "extractive", "answer": _extractive(question, passages, why), "citations": citations}
        cited = sorted({int(n) for n in _CITATION.findall(reply["text"]) if 1 <= int(n) <= len(passages)})
        return {
            "mode": "generated",
            "answer": reply["text"],
            "citations": citations,
            "cited": cited,
            "provider": chat.provider.name,
            "model": reply["model"],
        }

    def embed(texts: list[str]) -> dict[str, Any]:
        """Embed texts (1-64, each up to 8,000 characters) with the pipeline's embedder: L2-normalised vectors."""
        if not texts:
            raise Refused("refused: give at least one text")
        if len(texts) > MAX_EMBED_TEXTS or any(len(t) > MAX_EMBED_CHARS for t in texts):
            raise Refused(f"refused: at most {MAX_EMBED_TEXTS} texts of at most {MAX_EMBED_CHARS} characters each")
        embedder, _ = search_resources()
        vectors = embedder.embed(texts)
        return {
            "model": embedder.model_id,
            "dimension": embedder.dimension,
            "vectors": [[round(float(x), VECTOR_DECIMALS) for x in row] for row in vectors],
        }

    def model_status() -> dict[str, Any]:
        """The models behind the tools: the embedder (model id, dimension), the vector store it fills, and the
        chat endpoint `ask` uses (provider, model, whether a key is configured; never the key)."""
        from resources.profile import current_profile

        embedder, store = search_resources()
        return {
            "env": current_profile().name,
            "embedder": {"model": embedder.model_id, "dimension": embedder.dimension},
            "vector_store": store.describe(),
            "chat": chat_settings().describe(),
        }

    server = create_server(NAME, INSTRUCTIONS)
    add_tools(server, Redactor.from_env(), ask, embed, model_status)
    return server
