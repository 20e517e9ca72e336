"""Give the memory a step freed back to the OS before the next step of the same process starts.

In an in-process run (`python -m sophia_pipelines.land`, `dg.materialize`, tests) every step runs in one process,
so a step starts from the high-water mark its predecessors left: glibc keeps freed heap pages for reuse rather
than returning them, and so does pyarrow's memory pool (mimalloc in the Linux wheels: ~60 MB still held after the
lexical stage of a 500k-document run, once its tables were freed). The data-plane jobs run this after each step,
succeeded or failed: the pool's `release_unused()`, then `malloc_trim(0)`, which hands free heap pages back (glibc
only; a no-op elsewhere), in a few milliseconds. No `gc.collect()`: what a step frees is freed by reference
counting as it ends, and a full collection of a process with the definitions loaded (~500k objects) takes ~0.3 s,
a cost on every step of every run. In a process per step (multiprocess executor, `k8s_job_executor` pods) it
changes nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache

import dagster as dg


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    return getattr(ctypes.CDLL(name), "malloc_trim", None)


def release_memory() -> bool:
    """Return the free pages of pyarrow's pool and of the C heap to the OS; whether the C library released any."""
    import pyarrow as pa  # imported by every data-plane stage already

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


@dg.success_hook(name="release_memory_after_success")
def release_memory_after_success(_context: dg.HookContext) -> None:
    release_memory()


@dg.failure_hook(name="release_memory_after_failure")
def release_memory_after_failure(_context: dg.HookContext) -> None:
    release_memory()


RELEASE_MEMORY_HOOKS = {release_memory_after_success, release_memory_after_failure}
