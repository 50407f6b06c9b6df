"""Which pages of a long query result are at hand, which are on their way, which to fetch next.

Kept free of Textual so the window logic is tested on its own; the table widget
asks it what to fetch for the rows in view and hands it the pages that arrive.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

Row = TypeVar("Row")


class PageCache(Generic[Row]):
    """The most recently used pages of one query result, ``page_size`` rows each.

    Besides the pages around the view it keeps the pages at the two ends of the result
    (once the total is known): home and end then repaint from memory, however far the
    view has wandered.
    """

    def __init__(self, page_size: int = 100, max_pages: int = 40) -> None:
        self.page_size = page_size
        self.max_pages = max_pages
        self._pages: OrderedDict[int, list[Row]] = OrderedDict()
        self._pending: set[int] = set()
        #: pages at the top and the bottom of the result, never evicted
        self._ends: frozenset[int] = frozenset()

    def __len__(self) -> int:
        return len(self._pages)

    def page_of(self, index: int) -> int:
        return index // self.page_size

    def get(self, index: int) -> Row | None:
        """Row ``index`` of the result if its page is loaded (and marks the page as used)."""
        page = self._pages.get(index // self.page_size)
        if page is None:
            return None
        self._pages.move_to_end(index // self.page_size)
        offset = index % self.page_size
        return page[offset] if offset < len(page) else None

    def wanted(self, first: int, last: int, *, total: int | None, before: int = 1, after: int = 2,
               ends: bool = True) -> list[int]:
        """Pages to fetch so rows ``first..last`` show, plus ``before`` pages above and
        ``after`` below for smooth scrolling; nearest to the view first. Marks them pending.

        With ``ends`` and a known ``total``, the pages a view of this height shows at the top
        and at the bottom of the result come last (reading the bottom costs what the top
        does: the store reads pages near the end from the end).
        """
        if total == 0:
            return []
        first_page, last_page = self.page_of(max(first, 0)), self.page_of(max(last, 0))
        wanted = list(range(first_page, last_page + 1))
        wanted += [last_page + n for n in range(1, after + 1)]
        wanted += [first_page - n for n in range(1, before + 1)]
        if ends and total is not None:
            height = max(last - first, 0)
            top = range(0, self.page_of(min(height, total - 1)) + 1)
            bottom = range(self.page_of(max(total - 1 - height, 0)), self.page_of(total - 1) + 1)
            self._ends = frozenset((*top, *bottom))
            wanted += [p for p in (*top, *bottom) if p not in wanted]
        if total is not None:
            wanted = [p for p in wanted if p * self.page_size < total]
        fetch = [p for p in wanted if p >= 0 and p not in self._pages and p not in self._pending]
        self._pending.update(fetch)
        return fetch

    def put(self, page: int, rows: list[Row]) -> None:
        """Keep a fetched page, forgetting the least recently used beyond ``max_pages``
        (the pages at the ends excepted)."""
        self._pending.discard(page)
        self._pages[page] = rows
        self._pages.move_to_end(page)
        while len(self._pages) > self.max_pages:
            victim = next((p for p in self._pages if p not in self._ends), None)
            if victim is None:
                break
            del self._pages[victim]

    def failed(self, page: int) -> None:
        """A fetch did not arrive: let the page be asked for again."""
        self._pending.discard(page)

    def replace(self, index: int, row: Row) -> None:
        """Put a re-read row in place (after an action) without refetching its page."""
        page = self._pages.get(index // self.page_size)
        if page is not None and index % self.page_size < len(page):
            page[index % self.page_size] = row

    def clear(self) -> None:
        self._pages.clear()
        self._pending.clear()
        self._ends = frozenset()
