"""Keyset pages: read a large result `page_size` rows at a time, each page starting after the last key of the one
before (no OFFSET), so a stage holds one page and rows written for earlier pages while it reads do not shift it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from resources.warehouse import Warehouse


def keyset_pages(
    warehouse: Warehouse, sql: str, page_size: int, *params: Any, key: str = "chunk_id"
) -> Iterator[pd.DataFrame]:
    """The pages of `sql`, whose parameters are (the last page's last `key`, *params, page_size) and whose rows
    are ordered by `key`: '' before the first page; stops at an empty or short page."""
    after = ""
    while True:
        with warehouse.session() as s:
            page = s.query(sql, [after, *params, page_size])
        if page.empty:
            return
        yield page
        if len(page) < page_size:
            return
        after = page[key].iat[-1]
