"""Text embedders: one interface, a local offline model and a production TEI client.

`Embedder.embed` always returns float32 rows of length `dimension`, L2-normalised, one per input text, so the
vector stores can rely on dot product == cosine similarity. `model_id` ("<family>/<model>@<dimension>")
names what produced a vector; change it and every chunk must be re-embedded.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import httpx
import numpy as np
from pydantic import Field, field_validator

from resources.http_retry import Failure, PermanentError, RetryPolicy, call_with_retry, classify_httpx
from resources.profile import TEI_MODEL

if TYPE_CHECKING:
    from wordllama.inference import WordLlamaInference

logger = logging.getLogger(__name__)

WORDLLAMA_DIMENSIONS = (64, 128, 256)  # the wheel ships the 256-dim weights; 64/128 are Matryoshka prefixes
TEI_MAX_CLIENT_BATCH = 32  # TEI's default --max-client-batch-size
TEI_MAX_BATCH_CHARS = 500_000  # keeps a request well under TEI's default 2 MB payload limit
TEI_TRANSIENT_STATUSES = frozenset({424})  # TEI's "Backend" error (inference failed on the server): worth a retry
_TEI_BATCH_LIMIT = re.compile(r"maximum allowed batch size (\d+)")


class EmbeddingError(RuntimeError):
    """Embedding failed (after retries, if any); the message names the endpoint, never a credential."""


class PermanentEmbeddingError(PermanentError, EmbeddingError):
    """Embedding failed in a way a retry cannot fix (bad token, bad request, wrong dimension, unparsable reply)."""


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); all-zero rows stay zero instead of becoming NaN."""
    out = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


class Embedder(dg.ConfigurableResource):
    """Base class: turns texts into L2-normalised float32 vectors of `dimension` components."""

    dimension: int

    @property
    def model_id(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def _embed(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` (not a bare string) → array of shape (len(texts), dimension)."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        items = list(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if not all(isinstance(t, str) for t in items):
            raise TypeError("embed() takes strings only")
        vectors = np.asarray(self._embed(items), dtype=np.float32)
        if vectors.shape != (len(items), self.dimension):
            raise PermanentEmbeddingError(
                f"{self.model_id}: expected shape {(len(items), self.dimension)}, got {vectors.shape}"
            )
        return l2_normalize(vectors)


# --- local: wordllama -------------------------------------------------------------------------------------

_WORDLLAMA_MODELS: dict[tuple[str, int], WordLlamaInference] = {}
_WORDLLAMA_LOCK = threading.Lock()


def _import_wordllama() -> Any:
    """Import wordllama without its import-time `logging.basicConfig(level=INFO)` touching the root logger."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import wordllama
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return wordllama


def load_wordllama(config: str = "l2_supercat", dimension: int = 256) -> WordLlamaInference:
    """The bundled wordllama model, loaded once per process per (config, dimension); never downloads."""
    key = (config, dimension)
    with _WORDLLAMA_LOCK:
        model = _WORDLLAMA_MODELS.get(key)
        if model is None:
            wordllama = _import_wordllama()
            bundled = Path(wordllama.__file__).parent
            trunc_dim = None if dimension == 256 else dimension
            try:
                model = wordllama.WordLlama.load(
                    config=config, cache_dir=bundled, disable_download=True, dim=256, trunc_dim=trunc_dim
                )
            except (FileNotFoundError, ValueError) as exc:
                raise EmbeddingError(f"cannot load wordllama {config}@{dimension} offline: {exc}") from exc
            _WORDLLAMA_MODELS[key] = model
    return model


WORDLLAMA_MAX_GATHER_TOKENS = 16_384  # token vectors gathered at once when pooling (16k x 256 x 4 B = 16 MB)
_UNPADDED_TOKENIZERS: dict[int, Any] = {}


def _unpadded_tokenizer(model: WordLlamaInference) -> Any:
    """A copy of the model's tokenizer without padding (wordllama pads every batch to its longest text) and
    without the BPE word cache.

    The Llama tokenizer has no pre-tokenizer, so each whole text is one BPE "word", and the model caches up to
    10,000 of those under 256 bytes with their symbols: ~100-150 MB of native heap that a 500k-document run's
    embed stage filled with short chunks (chunk texts are unique, so it never hits). Same tokens without it.
    """
    with _WORDLLAMA_LOCK:
        tokenizer = _UNPADDED_TOKENIZERS.get(id(model))
        if tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_str(model.tokenizer.to_str())
            tokenizer.no_padding()
            tokenizer.no_truncation()
            tokenizer.model._resize_cache(0)  # tokenizers' own API for the cache's capacity (BPE, WordPiece)
            _UNPADDED_TOKENIZERS[id(model)] = tokenizer
    return tokenizer


def mean_pool_unpadded(model: WordLlamaInference, texts: list[str], max_tokens: int) -> np.ndarray:
    """wordllama's average pooling of token embeddings, without padding: the token ids of all texts are
    concatenated and summed per text (`np.add.reduceat`), gathering at most about `max_tokens` vectors at a time.
    Same result as `model.embed(texts, norm=False)` (texts without tokens pool to zero rows)."""
    table = model.embedding
    out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
    encodings = _unpadded_tokenizer(model).encode_batch(texts, add_special_tokens=False)
    lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
    start = 0
    while start < len(texts):
        # texts [start, stop) hold at most max_tokens tokens (or one text alone holds more)
        stop = start + max(1, int(np.searchsorted(np.cumsum(lengths[start:]), max_tokens, side="right")))
        rows = np.arange(start, stop)[lengths[start:stop] > 0]
        if rows.size:
            ids = np.fromiter(
                (i for r in rows for i in encodings[r].ids), dtype=np.int64, count=int(lengths[rows].sum())
            )
            np.clip(ids, 0, table.shape[0] - 1, out=ids)
            offsets = np.concatenate(([0], np.cumsum(lengths[rows])[:-1]))
            out[rows] = np.add.reduceat(table[ids], offsets, axis=0) / lengths[rows, None].astype(np.float32)
        start = stop
    return out


class WordLlamaEmbedder(Embedder):
    """Local default: wordllama's `l2_supercat` token embeddings (from Llama 2), average-pooled.

    Why wordllama: its 256-dim weights (~16 MB) ship inside the PyPI wheel, so it runs offline with no model
    download, no torch and no GPU; it embeds ~1,000 short sentences in ~20 ms on a CPU. Quality is below a
    transformer encoder but plenty for local development and tests. `dimension` 64 or 128 takes a prefix of
    the 256-dim Matryoshka-trained vectors; larger sizes are not bundled and would need a download.
    """

    dimension: int = 256
    config: str = Field(default="l2_supercat", description="wordllama model config bundled with the wheel")
    batch_size: int = Field(default=256, description="max texts per internal batch")

    @field_validator("dimension")
    @classmethod
    def _bundled_dimension(cls, value: int) -> int:
        if value not in WORDLLAMA_DIMENSIONS:
            raise ValueError(f"wordllama dimension must be one of {WORDLLAMA_DIMENSIONS}, got {value}")
        return value

    @property
    def model_id(self) -> str:
        return f"wordllama/{self.config}@{self.dimension}"

    def _embed(self, texts: list[str]) -> np.ndarray:
        model = load_wordllama(self.config, self.dimension)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            out[start : start + self.batch_size] = mean_pool_unpadded(
                model, texts[start : start + self.batch_size], WORDLLAMA_MAX_GATHER_TOKENS
            )
        return out


# --- production: Hugging Face text-embeddings-inference ------------------------------------------------------


def request_batches(texts: list[str], max_texts: int, max_chars: int = TEI_MAX_BATCH_CHARS) -> list[list[str]]:
    """Consecutive batches of at most `max_texts` texts and (unless a text alone is longer) `max_chars` chars."""
    batches: list[list[str]] = []
    batch: list[str] = []
    size = 0
    for text in texts:
        if batch and (len(batch) >= max_texts or size + len(text) > max_chars):
            batches.append(batch)
            batch, size = [], 0
        batch.append(text)
        size += len(text)
    if batch:
        batches.append(batch)
    return batches


def redact_url(url: str) -> str:
    """The URL without user:password and without a query string (where tokens tend to hide)."""
    try:
        parsed = httpx.URL(url)
        return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))
    except Exception:  # malformed: say so without echoing it
        return "<invalid url>"


def classify_tei(exc: BaseException) -> Failure | None:
    """The shared classification (plus TEI's 424 Backend error as transient), described in TEI's words."""
    failure = classify_httpx(exc, also=TEI_TRANSIENT_STATUSES)
    if isinstance(exc, httpx.HTTPStatusError) and failure is not None:
        return replace(failure, description=f"HTTP {exc.response.status_code} {_error_text(exc.response)}")
    if isinstance(exc, httpx.TransportError) and failure is not None:
        return replace(failure, description=f"{type(exc).__name__}: {exc}")
    return failure


class TeiEmbedder(Embedder):
    """Production: a text-embeddings-inference server (`POST {base_url}/embed`), batched and retried.

    Sends at most `batch_size` (TEI's default max client batch, 32) texts and ~500k characters per request,
    with `normalize` and `truncate` on. Transient faults (resources/http_retry.py: 408/425/429/5xx, TEI's 424,
    timeouts, dropped connections) are retried with backoff and jitter, honouring Retry-After, at most
    `max_retries` times and `max_retry_seconds` in total per request; anything else fails at once with a
    `PermanentEmbeddingError`. If the server reports a smaller maximum batch size (HTTP 422), the batch is
    split to that size and sent again.
    """

    base_url: str = Field(description="TEI server, e.g. http://tei.embeddings.svc:8080")
    model: str = Field(default=TEI_MODEL, description="model the server serves (for model_id)")
    dimension: int = 384
    api_token: str = Field(default="", repr=False, description="optional bearer token (from an EnvVar)")
    batch_size: int = Field(default=TEI_MAX_CLIENT_BATCH, ge=1)
    timeout_seconds: float = 30.0
    max_retries: int = Field(default=5, ge=0)
    backoff_seconds: float = Field(default=0.5, ge=0, description="first retry delay; doubles each retry")
    max_backoff_seconds: float = 10.0
    max_retry_seconds: float = Field(default=120.0, ge=0, description="give up retrying a request after this long")

    @property
    def model_id(self) -> str:
        return f"tei/{self.model}@{self.dimension}"

    @property
    def endpoint(self) -> str:
        return redact_url(self.base_url.rstrip("/") + "/embed")

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_token:
            headers["Authorization"] = f"Bearer {self.api_token}"
        return headers

    def _policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_retries + 1,
            base_delay=self.backoff_seconds,
            max_delay=self.max_backoff_seconds,
            max_elapsed=self.max_retry_seconds,
        )

    def _embed(self, texts: list[str]) -> np.ndarray:
        rows: list[np.ndarray] = []
        policy = self._policy()
        with httpx.Client(timeout=self.timeout_seconds, headers=self._headers()) as client:
            pending = deque(request_batches(texts, self.batch_size))
            while pending:
                batch = pending.popleft()
                result = call_with_retry(
                    lambda batch=batch: self._post(client, batch),
                    source="tei",
                    operation=f"POST {self.endpoint}",
                    policy=policy,
                    classify=classify_tei,
                    secrets=[self.api_token],
                    logger=logger,
                    error=EmbeddingError,
                    permanent_error=PermanentEmbeddingError,
                )
                if isinstance(result, int):  # server allows fewer texts per request: split and resend
                    pending.extendleft(reversed(request_batches(batch, result)))
                    continue
                rows.append(result)
        return np.concatenate(rows) if rows else np.zeros((0, self.dimension), dtype=np.float32)

    def _post(self, client: httpx.Client, batch: list[str]) -> np.ndarray | int:
        """One batch → its vectors, or the server's smaller max batch size (an int) to split by."""
        url = self.base_url.rstrip("/") + "/embed"
        response = client.post(url, json={"inputs": batch, "normalize": True, "truncate": True})
        if response.status_code == 422 and len(batch) > 1:
            match = _TEI_BATCH_LIMIT.search(response.text)
            if match and 0 < int(match.group(1)) < len(batch):
                logger.info("TEI %s allows %s texts per request; splitting", self.endpoint, match.group(1))
                return int(match.group(1))
        response.raise_for_status()
        return self._parse(response, len(batch))

    def _parse(self, response: httpx.Response, expected_rows: int) -> np.ndarray:
        try:
            vectors = np.asarray(response.json(), dtype=np.float32)
        except (ValueError, TypeError):
            raise PermanentEmbeddingError(f"TEI embed at {self.endpoint} returned a non-numeric body") from None
        if vectors.ndim != 2 or vectors.shape[0] != expected_rows:
            raise PermanentEmbeddingError(
                f"TEI embed at {self.endpoint} returned shape {vectors.shape}, expected {expected_rows} rows"
            )
        if vectors.shape[1] != self.dimension:
            raise PermanentEmbeddingError(
                f"TEI embed at {self.endpoint} returned {vectors.shape[1]}-dim vectors, "
                f"configured dimension is {self.dimension} (model {self.model})"
            )
        return vectors


def _error_text(response: httpx.Response) -> str:
    """TEI's {"error", "error_type"} as one short line (falls back to the raw body, truncated)."""
    try:
        payload = response.json()
        if isinstance(payload, dict) and "error" in payload:
            return f"{payload.get('error_type', 'error')}: {payload['error']}"[:300]
    except ValueError:
        pass
    return response.text[:300]
