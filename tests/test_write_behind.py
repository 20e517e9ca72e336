"""WriteBehind: one write in flight, in order, results handed back, the last write waited for even on failure."""

from __future__ import annotations

import threading
import time

import pytest

from sophia_pipelines.stages.write_behind import WriteBehind


def test_writes_run_one_at_a_time_in_order_and_every_result_is_handed_back() -> None:
    running, log, landed = threading.Lock(), [], []

    def write(n: int) -> int:
        assert running.acquire(blocking=False), "two writes in flight"
        try:
            time.sleep(0.01)
            log.append(n)
            return n * 10
        finally:
            running.release()

    with WriteBehind("test-writer", landed.append) as writer:
        for n in range(5):
            writer.submit(write, n)
            assert log[:n] == list(range(n))  # submitting n waited for every write before it
    assert log == list(range(5)) and landed == [0, 10, 20, 30, 40]


def test_a_failed_write_is_raised_at_the_next_submit() -> None:
    def write(n: int) -> int:
        if n == 1:
            raise OSError("disk full")
        return n

    landed: list[int] = []
    with pytest.raises(OSError, match="disk full"), WriteBehind("test-writer", landed.append) as writer:
        for n in range(4):
            writer.submit(write, n)
    assert landed == [0]


def test_a_failure_in_the_block_still_waits_for_the_write_in_flight() -> None:
    done: list[int] = []

    def write(n: int) -> int:
        time.sleep(0.05)
        done.append(n)
        return n

    landed: list[int] = []
    with pytest.raises(RuntimeError, match="source failed"), WriteBehind("test-writer", landed.append) as writer:
        writer.submit(write, 7)
        raise RuntimeError("source failed")
    assert done == [7] and landed == []  # it landed; its result is not reported after the failure
