"""An OpenAI-compatible chat client for `ask`: OpenRouter, Portkey or Together AI, chosen by settings.

`SOPHIA_CHAT_PROVIDER` picks one (default: the first whose key is set, in the order below); `SOPHIA_CHAT_MODEL`
and `SOPHIA_CHAT_BASE_URL` override its model and endpoint (a proxy, or a test stand-in). Requests go through
`resources.http_retry` (429/5xx/timeouts retried with backoff, other 4xx fail at once), with the key redacted
from every message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from resources.http_retry import RetryPolicy, call_with_retry
from sophia_mcp.errors import Refused

PROVIDER_ENV = "SOPHIA_CHAT_PROVIDER"
MODEL_ENV = "SOPHIA_CHAT_MODEL"
BASE_URL_ENV = "SOPHIA_CHAT_BASE_URL"
TIMEOUT_ENV = "SOPHIA_CHAT_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 60.0
CHAT_POLICY = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=20.0, max_elapsed=120.0)


class ChatError(Refused):
    """The chat endpoint failed (after retries for transient faults); names the provider and call, no key."""


@dataclass(frozen=True, slots=True)
class ChatProvider:
    """An OpenAI-compatible endpoint: where it is, which variable holds its key, how the key is sent."""

    name: str
    base_url: str
    key_env: str
    default_model: str
    key_header: str = "authorization"  # sent as "Bearer <key>"; any other header gets the bare key
    header_envs: Mapping[str, str] = field(default_factory=dict)  # extra header -> variable holding its value


PROVIDERS: tuple[ChatProvider, ...] = (
    ChatProvider(
        "openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "meta-llama/llama-3.3-70b-instruct"
    ),
    ChatProvider(
        "portkey",
        "https://api.portkey.ai/v1",
        "PORTKEY_API_KEY",
        "gpt-4o-mini",
        key_header="x-portkey-api-key",
        header_envs={"x-portkey-config": "PORTKEY_CONFIG"},  # the gateway config that routes to a provider
    ),
    ChatProvider(
        "together", "https://api.together.xyz/v1", "TOGETHER_API_KEY", "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    ),
)


@dataclass(frozen=True, slots=True)
class ChatSettings:
    provider: ChatProvider
    api_key: str | None
    model: str
    base_url: str
    timeout_s: float
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.api_key)

    def describe(self) -> dict[str, Any]:
        """What `model_status` shows (never the key)."""
        return {"provider": self.provider.name, "model": self.model, "base_url": self.base_url,
                "configured": self.configured, "key_variable": self.provider.key_env}  # fmt: skip


def chat_settings(environ: Mapping[str, str] | None = None) -> ChatSettings:
    """The provider `SOPHIA_CHAT_PROVIDER` names, else the first with a key, else OpenRouter (unconfigured)."""
    env = os.environ if environ is None else environ
    by_name = {p.name: p for p in PROVIDERS}
    chosen = (env.get(PROVIDER_ENV) or "").strip().lower()
    if chosen and chosen not in by_name:
        raise ValueError(f"{PROVIDER_ENV} must be one of {', '.join(by_name)}; got {chosen!r}")
    provider = by_name[chosen] if chosen else next((p for p in PROVIDERS if env.get(p.key_env)), PROVIDERS[0])
    headers = {name: env[var] for name, var in provider.header_envs.items() if env.get(var)}
    return ChatSettings(
        provider=provider,
        api_key=env.get(provider.key_env) or None,
        model=env.get(MODEL_ENV) or provider.default_model,
        base_url=(env.get(BASE_URL_ENV) or provider.base_url).rstrip("/"),
        timeout_s=float(env.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S),
        headers=headers,
    )


def complete(settings: ChatSettings, messages: list[dict[str, str]], max_tokens: int = 800) -> dict[str, Any]:
    """`POST {base}/chat/completions`; the answer text, the model that answered and the token usage."""
    if not settings.api_key:
        raise ChatError(f"no chat key configured ({settings.provider.key_env})")
    key_header = settings.provider.key_header
    auth = f"Bearer {settings.api_key}" if key_header == "authorization" else settings.api_key
    headers = {**settings.headers, key_header: auth}
    body = {"model": settings.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0.1}
    source, operation = f"chat/{settings.provider.name}", "POST /chat/completions"

    def call() -> dict[str, Any]:
        with httpx.Client(timeout=settings.timeout_s) as client:
            response = client.post(f"{settings.base_url}/chat/completions", json=body, headers=headers)
            response.raise_for_status()
            return response.json()

    reply = call_with_retry(
        call,
        source=source,
        operation=operation,
        policy=CHAT_POLICY,
        secrets=[settings.api_key, *settings.headers.values()],
        error=ChatError,
        permanent_error=ChatError,
    )
    try:
        text = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ChatError(f"{source}: {operation} answered without choices[0].message.content") from None
    return {"text": str(text or "").strip(), "model": reply.get("model", settings.model), "usage": reply.get("usage")}
