"""Write behind: one writer thread overlaps each write with the preparation of the next (raw landing, embedding).

Warehouse and store writes (DuckDB, Snowflake, Pinecone calls) run outside the GIL, so the main thread can parse or
embed the next batch meanwhile. Invariants: at most one write in flight; writes run in the order submitted; each
result is handed to `landed` before the next write starts; leaving the block waits for the write in flight, also on
an exception, so work prepared before a failure still lands (its result is then not reported).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Generic, TypeVar

R = TypeVar("R")


class WriteBehind(Generic[R]):
    """`with WriteBehind(name, landed) as writer: ... writer.submit(write, *args)` (see the module docstring)."""

    def __init__(self, name: str, landed: Callable[[R], None]) -> None:
        self._landed = landed
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._in_flight: Future[R] | None = None

    def __enter__(self) -> WriteBehind[R]:
        return self

    def submit(self, write: Callable[..., R], *args: Any) -> None:
        """Wait for the write in flight (its failure is raised here), then start `write(*args)`."""
        self._collect()
        self._in_flight = self._pool.submit(write, *args)

    def _collect(self) -> None:
        if self._in_flight is not None:
            done, self._in_flight = self._in_flight, None
            self._landed(done.result())

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self._collect()
        finally:
            self._pool.shutdown(wait=True)
