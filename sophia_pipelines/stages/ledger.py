"""What the vector and lexical stages share about their ledgers (`vector_ledger`, `lexical_ledger`).

A ledger records what a store holds, so the stage's pending work is a warehouse query. The one case it cannot see
by itself: the store was wiped or replaced in place. Then the ledger is cleared, and every chunk is pending again.
"""

from __future__ import annotations

from collections.abc import Callable

from resources.tables import TableSpec
from resources.warehouse import WarehouseSession


def forget_wiped_store(
    session: WarehouseSession, ledger: TableSpec, store_count: Callable[[], int], log: Callable[[str], None]
) -> bool:
    """Clear `ledger` when its store is empty (`store_count()` is 0) but the ledger is not; whether it did."""
    if not session.row_count(ledger) or store_count() != 0:
        return False
    log(f"{ledger.name}: the store is empty but the ledger is not, so every chunk is written again")
    session.execute(f"DELETE FROM {ledger.name}")
    return True
