"""Embedders: wordllama offline, TEI client against the local TEI stand-in."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import socket

import numpy as np
import pytest

from resources.embeddings import (
    EmbeddingError,
    PermanentEmbeddingError,
    TeiEmbedder,
    WordLlamaEmbedder,
    l2_normalize,
    load_wordllama,
    mean_pool_unpadded,
    redact_url,
    request_batches,
)
from tests.standins.http import Injected
from tests.standins.tei import TeiStandin

QUERY = "GPU cloud pricing"
GPU = "We rent A100 GPUs by the hour from a cloud provider; prices vary by region."
BREAD = "Knead the dough, let it rise overnight, then bake the bread at 220 degrees."


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- wordllama ---------------------------------------------------------------------------------------------


def test_wordllama_semantic_sanity_and_normalised_rows() -> None:
    embedder = WordLlamaEmbedder()
    vectors = embedder.embed([QUERY, GPU, BREAD])
    assert vectors.shape == (3, 256)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.05
    assert embedder.model_id == "wordllama/l2_supercat@256"


@pytest.mark.parametrize("dimension", [64, 128, 256])
def test_wordllama_dimension_config(dimension: int) -> None:
    embedder = WordLlamaEmbedder(dimension=dimension)
    vectors = embedder.embed([QUERY, GPU, BREAD])
    assert vectors.shape == (3, dimension)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert embedder.model_id.endswith(f"@{dimension}")


def test_wordllama_rejects_dimensions_not_bundled() -> None:
    with pytest.raises(ValueError, match="64, 128, 256"):
        WordLlamaEmbedder(dimension=512)


def test_wordllama_empty_input_and_type_checks() -> None:
    embedder = WordLlamaEmbedder()
    assert embedder.embed([]).shape == (0, 256)
    with pytest.raises(TypeError):
        embedder.embed("a bare string")
    blank = embedder.embed(["", "text"])
    assert not np.isnan(blank).any()


def test_wordllama_batches_keep_input_order() -> None:
    texts = [f"{'word ' * (i % 37)}item {i} about GPUs" for i in range(300)]
    embedder = WordLlamaEmbedder(batch_size=16)
    together = embedder.embed(texts)
    one_by_one = np.vstack([embedder.embed([t]) for t in texts[:20]])
    np.testing.assert_allclose(together[:20], one_by_one, atol=1e-5)


@pytest.mark.parametrize("dimension", [256, 64])
def test_unpadded_pooling_equals_wordllamas_padded_pooling(dimension: int) -> None:
    """Pooling without padding is an optimisation only: wordllama's own (padded) pooling gives the same vectors,
    including texts without tokens, texts longer than the gather bound, and groups split at that bound."""
    model = load_wordllama("l2_supercat", dimension)
    texts = ["", GPU, "   ", BREAD * 40, *(f"{'word ' * (i % 23)}item {i}" for i in range(50)), QUERY]
    padded = model.embed(texts, norm=False, batch_size=len(texts))
    for max_tokens in (1, 37, 10_000):
        np.testing.assert_allclose(mean_pool_unpadded(model, texts, max_tokens), padded, atol=1e-6)


def test_embedding_distinct_short_texts_does_not_grow_the_native_heap() -> None:
    """The tokenizer's BPE cache (a whole text is one "word" for the Llama tokenizer; up to 10k of them under 256
    bytes) is off: chunk texts are unique, so it only held memory (~100-150 MB in a 500k-document embed stage)."""
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is None or not hasattr(libc, "mallinfo2"):
        pytest.skip("needs glibc's mallinfo2")

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (n, ctypes.c_size_t)
            for n in [
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            ]
        ]

    libc.mallinfo2.restype = MallInfo2
    model = load_wordllama("l2_supercat", 256)
    texts = [f"chunk {i}: " + " ".join(f"gpu{(i * 7 + j) % 9973} cloud{j}" for j in range(8)) for i in range(2_000)]
    mean_pool_unpadded(model, texts[:10], 16_384)
    before = libc.mallinfo2().uordblks
    for start in range(0, len(texts), 256):
        mean_pool_unpadded(model, texts[start : start + 256], 16_384)
    grown_mb = (libc.mallinfo2().uordblks - before) / 2**20
    assert grown_mb < 4, f"the native heap grew {grown_mb:.1f} MB over 2,000 distinct texts (a cache ~12 MB)"


def test_wordllama_model_loaded_once_and_root_logger_untouched() -> None:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    assert load_wordllama("l2_supercat", 256) is load_wordllama("l2_supercat", 256)
    assert (root.level, root.handlers) == (level, handlers)


def test_l2_normalize_keeps_zero_rows() -> None:
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


# --- TEI ---------------------------------------------------------------------------------------------------


def _tei(standin: TeiStandin, **overrides: object) -> TeiEmbedder:
    config: dict[str, object] = {
        "base_url": standin.url,
        "dimension": standin.dimension,
        "model": "standin/hashed-bow",
        "backoff_seconds": 0.0,
        "max_retries": 3,
    }
    config.update(overrides)
    return TeiEmbedder(**config)  # type: ignore[arg-type]


def test_tei_embeds_in_batches_of_at_most_32() -> None:
    texts = [f"document {i} about gpu pricing" for i in range(70)]
    with TeiStandin(dimension=16) as tei:
        vectors = _tei(tei).embed(texts)
        assert tei.batch_sizes == [32, 32, 6]
        assert all(r.body == {"inputs": r.inputs, "normalize": True, "truncate": True} for r in tei.requests)
    assert vectors.shape == (70, 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert _cosine(vectors[0], vectors[1]) > 0.5  # shared words → similar hashed vectors


def test_tei_sends_bearer_token() -> None:
    with TeiStandin(token="s3cret-token") as tei:
        _tei(tei, api_token="s3cret-token").embed(["hello"])
        assert tei.requests[-1].authorization == "Bearer s3cret-token"
        with pytest.raises(EmbeddingError) as info:
            _tei(tei, api_token="wrong-token").embed(["hello"])
    assert "401" in str(info.value)
    assert "wrong-token" not in str(info.value)


def test_tei_retries_transient_errors() -> None:
    with TeiStandin() as tei:
        tei.fail_next(2, status=503)
        tei.fail_next(1, status=429, retry_after="0")
        vectors = _tei(tei).embed(["a", "b"])
        statuses = [r.status for r in tei.requests]
    assert vectors.shape == (2, 16)
    assert statuses == [503, 503, 429, 200]


def test_tei_gives_up_with_clear_error_without_leaking_token() -> None:
    with TeiStandin() as tei:
        tei.fail_next(10, status=424)
        with pytest.raises(EmbeddingError) as info:
            _tei(tei, api_token="tok-xyz-123", max_retries=2).embed(["a"])
        assert len(tei.requests) == 3
        message = str(info.value)
        assert f"{tei.url}/embed" in message
        assert "after 3 attempts" in message
        assert "424" in message
        assert "tok-xyz-123" not in message + repr(info.value.__cause__)


def test_tei_connection_errors_are_retried_then_reported() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    embedder = TeiEmbedder(base_url=f"http://127.0.0.1:{port}", dimension=8, backoff_seconds=0.0, max_retries=2)
    with pytest.raises(EmbeddingError, match=rf"http://127.0.0.1:{port}/embed failed after 3 attempts: Connect"):
        embedder.embed(["a"])


def test_tei_splits_batches_when_server_allows_fewer() -> None:
    with TeiStandin(max_batch=8) as tei:
        vectors = _tei(tei).embed([f"t{i}" for i in range(20)])
        assert tei.requests[0].status == 422
        assert tei.batch_sizes == [8, 8, 4]
    assert vectors.shape == (20, 16)
    np.testing.assert_allclose(vectors, _tei_reference([f"t{i}" for i in range(20)]), atol=1e-6)


def _tei_reference(texts: list[str]) -> np.ndarray:
    with TeiStandin() as tei:
        return _tei(tei, batch_size=1).embed(texts)


def test_request_batches_bound_count_and_size() -> None:
    assert request_batches(["a"] * 70, 32) == [["a"] * 32, ["a"] * 32, ["a"] * 6]
    big = ["x" * 300_000, "y" * 300_000, "z"]
    assert request_batches(big, 32) == [[big[0]], [big[1], big[2]]]
    assert request_batches(["x" * 900_000], 32) == [["x" * 900_000]]  # a single text is never split


def test_tei_other_client_errors_are_not_retried() -> None:
    with TeiStandin() as tei:
        tei.fail_next(1, status=400)
        with pytest.raises(EmbeddingError, match=r"failed: HTTP 400"):
            _tei(tei).embed(["a"])
        assert len(tei.requests) == 1


def test_tei_validates_dimension() -> None:
    with (
        TeiStandin(dimension=16) as tei,
        pytest.raises(EmbeddingError, match="16-dim vectors, configured dimension is 384"),
    ):
        _tei(tei, dimension=384).embed(["a"])


def test_tei_long_inputs_are_truncated_by_the_server() -> None:
    with TeiStandin(max_input_tokens=10) as tei:
        vectors = _tei(tei).embed(["word " * 50])
    assert vectors.shape == (1, 16)


def test_tei_repr_and_endpoint_hide_secrets() -> None:
    embedder = TeiEmbedder(base_url="https://user:pw@tei.example:8080/?key=abc", api_token="tok-1")
    assert "tok-1" not in repr(embedder)
    assert "pw" not in embedder.endpoint and "abc" not in embedder.endpoint
    assert redact_url("https://user:pw@h/x?y=1") == "https://h/x"
    assert embedder.model_id == "tei/BAAI/bge-small-en-v1.5@384"


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 424])
def test_tei_transient_statuses_are_retried(status: int) -> None:
    with TeiStandin() as tei:
        tei.fail_next(2, status=status)
        vectors = _tei(tei).embed(["a", "b"])
        assert [r.status for r in tei.requests] == [status, status, 200]
    assert vectors.shape == (2, 16)


def test_tei_dropped_connections_are_retried() -> None:
    with TeiStandin() as tei:
        tei.fail_next(2, drop=True)
        vectors = _tei(tei).embed(["a", "b"])
        assert [r.status for r in tei.requests] == [0, 0, 200]
    assert vectors.shape == (2, 16)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_tei_permanent_errors_fail_at_once_and_skip_step_retries(status: int) -> None:
    with TeiStandin() as tei:
        tei.fail_next(5, status=status)
        with pytest.raises(PermanentEmbeddingError) as info:
            _tei(tei).embed(["a", "b"])
        assert len(tei.requests) == 1
    assert str(info.value).startswith(f"tei: POST {tei.url}/embed failed: HTTP {status} ")
    assert info.value.allow_retries is False


def test_tei_422_that_is_not_a_batch_limit_is_permanent() -> None:
    with TeiStandin() as tei:
        tei.inject(Injected(1, 422, body={"error": "Input validation error: bad input", "error_type": "Validation"}))
        with pytest.raises(PermanentEmbeddingError, match=r"failed: HTTP 422 Validation: Input validation error"):
            _tei(tei).embed(["a", "b"])
        assert len(tei.requests) == 1


def test_tei_unparsable_reply_is_permanent() -> None:
    with TeiStandin() as tei:
        tei.inject(Injected(1, 200, body=b"<html>gateway</html>"))
        with pytest.raises(PermanentEmbeddingError, match="non-numeric body"):
            _tei(tei).embed(["a"])
        assert len(tei.requests) == 1


def test_tei_retries_are_bounded_in_time() -> None:
    with TeiStandin() as tei:
        tei.fail_next(10, status=503, retry_after="30")
        with pytest.raises(EmbeddingError, match=r"retry time limit 1s") as info:
            _tei(tei, max_retries=9, max_backoff_seconds=60.0, max_retry_seconds=1.0).embed(["a"])
        assert len(tei.requests) == 1  # the server's Retry-After (30 s) does not fit in the 1 s budget
    assert not isinstance(info.value, PermanentEmbeddingError)
