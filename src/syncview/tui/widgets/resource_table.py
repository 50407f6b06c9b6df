"""The Sync Status table: a window onto a query of any size, drawn line by line.

The widget never holds the whole result. It counts the rows, keeps a few pages
of them (:class:`~syncview.tui.page_cache.PageCache`), fetches the pages in view
plus one above and two below in thread workers, and paints a placeholder for a
row whose page has not arrived yet. A new filter keeps the old rows on screen
until the first page of the new result is in, so typing never flashes blank.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from collections.abc import Collection
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from syncview.safe_text import SCREEN_LIMIT, printable
from syncview.services import columns, queries
from syncview.services.bulk import Marks
from syncview.services.columns import Column
from syncview.services.queries import ResourceFilter, ResourceRow
from syncview.errors import Cancelled
from syncview.store import Cancellation, Store
from syncview.tui.page_cache import PageCache
from syncview.tui.work import forward_failure

PAGE_SIZE = 100
#: Cells of the mark gutter ("● "), drawn only while some rows are marked.
GUTTER = 2


@dataclass(slots=True)
class _Incoming:
    """A result being loaded: shown once the page holding row ``top`` is in."""

    generation: int
    query: "Query"
    cache: PageCache[ResourceRow]
    top: int
    cursor: int
    #: the count, if it came in before the rows
    counted: "_Counted | None" = None


@dataclass(frozen=True, slots=True)
class _Counted:
    """What the counting worker found of a result."""

    #: shown, total, removed_shown, removed_total (see ResourceTable.Counted)
    counts: tuple[int, int, int, int]
    #: the columns that say the same on every row of it (queries.single_valued)
    single: frozenset[str]


@dataclass(frozen=True, slots=True)
class Query:
    """What the table shows: a filter and an order."""

    filter: ResourceFilter
    sort: str = "name"
    descending: bool = False


#: Below this table width, a column that says the same on every row in view gives its room up.
YIELD_BELOW = columns.YIELD_BELOW


def layout_columns(width: int, yielded: Collection[str] = ()) -> list[tuple[Column, int]]:
    """The columns (of :data:`columns.SHOWN`) that fit ``width`` cells, less the ``yielded``
    ones, and the width each gets (one space between)."""
    fitting = [c for c in columns.SHOWN if width >= c.min_table_width and c.key not in yielded]
    gaps = len(fitting) - 1
    fixed = sum(c.width or 0 for c in fitting)
    flexible = max(width - fixed - gaps, 0)
    shares = sum(c.share for c in fitting if c.width is None)
    sized, given = [], 0
    flex = [c for c in fitting if c.width is None]
    for column in fitting:
        if column.width is not None:
            sized.append((column, column.width))
            continue
        size = flexible * column.share // shares
        if column is flex[-1]:
            size = flexible - given
        given += size
        sized.append((column, max(size, 1)))
    return sized


def _clean(text: str) -> str:
    """A value from outside as the screen shows it: escaped, and cut so a huge one cannot stall a repaint."""
    return printable(text, limit=SCREEN_LIMIT)


def fit(text: str, width: int) -> str:
    """``text`` cut with an ellipsis or padded to exactly ``width`` cells."""
    if cell_len(text) > width:
        return set_cell_size(text, max(width - 1, 0)) + "…"
    return set_cell_size(text, width)


class ResourceTable(ScrollView, can_focus=True):
    """Resources of one integration (and client), filtered and sorted in SQLite."""

    on_worker_state_changed = forward_failure

    BINDING_GROUP_TITLE = "Sync Status table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_actions", "Actions", id="table.actions"),
        Binding("up,k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("home,g", "first", "First", show=False, id="table.first"),
        Binding("end,G", "last", "Last", show=False, id="table.last"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("o", "sort_next", "Sort", show=False, id="table.sort"),
        Binding("O", "sort_reverse", "Reverse sort", show=False, id="table.sort_reverse"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "resource-table--header",
        "resource-table--header-sorted",
        "resource-table--cursor",
        "resource-table--matched",
        "resource-table--not-synced",
        "resource-table--excluded",
        "resource-table--placeholder",
        "resource-table--removed",
        "resource-table--marked",
        "resource-table--why",
        "resource-table--warning",
    }

    DEFAULT_CSS = """
    ResourceTable {
        background: $surface;
        overflow-x: hidden;
        & > .resource-table--header { text-style: bold; background: $panel; color: $text; }
        & > .resource-table--header-sorted { text-style: bold underline; background: $panel; color: $accent; }
        & > .resource-table--cursor { background: $panel-lighten-1; }
        &:focus > .resource-table--cursor { background: $accent 40%; text-style: bold; }
        & > .resource-table--matched { color: $success; }
        & > .resource-table--not-synced { color: $warning; }
        & > .resource-table--excluded { color: $text-secondary; }
        & > .resource-table--placeholder { color: $text-disabled; }
        & > .resource-table--removed { color: $text-muted; text-style: italic; }
        & > .resource-table--marked { background: $secondary 25%; }
        & > .resource-table--why { color: $text-muted; }
        & > .resource-table--warning { color: $warning; text-style: bold; }
    }
    """

    cursor: reactive[int] = reactive(0, always_update=True)

    @dataclass
    class Counted(Message):
        """The current query's rows were counted: ``shown`` of ``total`` (before text/type/status),
        of which ``removed_shown`` and ``removed_total`` are removed remotely (the table lists
        them; the count line says them apart, as the tiles do: queries.count_removed)."""

        shown: int
        total: int
        removed_shown: int = 0
        removed_total: int = 0

    @dataclass
    class ActionsRequested(Message):
        """The operator asked for the action menu of ``row``."""

        row: ResourceRow

    @dataclass
    class PageLoaded(Message):
        """A page of rows arrived from a worker (``rows`` is None when it was not read: stopped or failed)."""

        generation: int
        page: int
        rows: list[ResourceRow] | None

        def can_replace(self, message: Message) -> bool:
            # Only the newest query's pages are drawn: a page of a newer one makes this one moot.
            return isinstance(message, ResourceTable.PageLoaded) and (
                message.generation > self.generation
                or (message.generation, message.page) == (self.generation, self.page))

    @dataclass
    class CountLoaded(Message):
        """A worker counted the rows of query ``generation``."""

        generation: int
        counted: _Counted

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ResourceTable.CountLoaded) and message.generation >= self.generation

    def __init__(self, store: Store, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.query_: Query | None = None
        self.total: int | None = None
        self._generation = 0
        self._cache: PageCache[ResourceRow] = PageCache(PAGE_SIZE)
        #: the next result, swapped in once the page it opens at has arrived
        self._incoming: _Incoming | None = None
        self._fetch_scheduled = False
        #: reads in flight, cancelled when a new query makes their answers moot
        self._reads: set[Cancellation] = set()
        self._reads_lock = threading.Lock()
        #: the operator's marks; rows they select are drawn with a gutter mark
        self.marks = Marks()
        #: the columns that say the same on every row of the result (queries.single_valued),
        #: asked only while the table is narrow (``_counted_narrow``)
        self._single: frozenset[str] = frozenset()
        self._counted_narrow = False
        #: columns left out because every row says the same in them, and what they say
        self._yielded: dict[str, str] = {}
        #: each flexible column's widest cell seen in this result: the name gets the room the
        #: others leave; it only grows while the operator scrolls, so columns do not jump back
        self._wants: dict[str, int] = {}

    # -- what to show -----------------------------------------------------------------

    def show(self, query: Query) -> None:
        """Show ``query``'s rows from the top; the old rows stay until the new ones arrive."""
        self._load(query, top=0, cursor=0)

    def reload(self) -> None:
        """Read the current query again (after an action or a sync), keeping the position."""
        if self.query_ is not None:
            self._load(self.query_, top=int(self.scroll_y), cursor=self.cursor)

    def _load(self, query: Query, *, top: int, cursor: int) -> None:
        self._generation += 1
        incoming = _Incoming(self._generation, query, PageCache(PAGE_SIZE), top, cursor)
        self._incoming = incoming
        self._count(incoming.generation, query)
        pages = incoming.cache.wanted(top, top + self._rows_in_view(), total=None, before=0, after=1)
        for page in pages:
            self._fetch(incoming.generation, query, page)

    @property
    def current_row(self) -> ResourceRow | None:
        """The row under the cursor, if its page is loaded."""
        if not self.total:
            return None
        return self._cache.get(self.cursor)

    def set_sort(self, sort: str, descending: bool | None = None) -> None:
        """Order by ``sort``; choosing the column already sorted by flips the direction."""
        columns.column(sort)  # a key no column has is a mistake to see now, not a blank page
        if self.query_ is None:
            return
        if descending is None:
            descending = not self.query_.descending if self.query_.sort == sort else False
        self.show(replace(self.query_, sort=sort, descending=descending))

    # -- loading ------------------------------------------------------------------------

    def _narrow(self) -> bool:
        """Whether the table is narrow enough for columns to give their room up (YIELD_BELOW)."""
        return self.scrollable_content_region.width < YIELD_BELOW

    def _count(self, generation: int, query: Query) -> None:
        self._cancel_reads()
        self._counted_narrow = self._narrow()
        self._count_rows(generation, query, self._counted_narrow, self._track(Cancellation()))

    @work(thread=True, group="count", exit_on_error=False, description="reading resources")
    def _count_rows(self, generation: int, query: Query, narrow: bool, cancellation: Cancellation) -> None:
        try:
            shown = queries.count_resources(self.store, query.filter, cancellation=cancellation)
            removed_shown = queries.count_removed(self.store, query.filter, cancellation=cancellation)
            flt = query.filter
            plain = ResourceFilter(flt.integration_id, flt.client_id)
            total, removed_total = (shown, removed_shown) if plain == flt else (
                queries.count_resources(self.store, plain, cancellation=cancellation),
                queries.count_removed(self.store, plain, cancellation=cancellation))
            # Only a narrow table uses it (a wide one shows every column): no second read for the rest.
            single = queries.single_valued(self.store, flt, cancellation=cancellation) if narrow else frozenset[str]()
        except Cancelled:
            return
        finally:
            self._untrack(cancellation)
        self.post_message(self.CountLoaded(generation, _Counted((shown, total, removed_shown, removed_total), single)))

    def _fetch(self, generation: int, query: Query, page: int) -> None:
        self._fetch_page(generation, query, page, self._track(Cancellation()))

    @work(thread=True, group="pages", exit_on_error=False, description="reading resources")
    def _fetch_page(self, generation: int, query: Query, page: int, cancellation: Cancellation) -> None:
        rows: list[ResourceRow] | None = None
        try:
            rows = queries.resource_page(
                self.store, query.filter, offset=page * PAGE_SIZE, limit=PAGE_SIZE,
                sort=query.sort, descending=query.descending, cancellation=cancellation,
            )
        except Cancelled:
            pass
        finally:
            # Also when the read failed (the failure itself goes up as a WorkFailed): the page
            # is marked failed, so it is asked for again.
            self._untrack(cancellation)
            self.post_message(self.PageLoaded(generation, page, rows))

    def _track(self, cancellation: Cancellation) -> Cancellation:
        with self._reads_lock:
            self._reads.add(cancellation)
        return cancellation

    def _untrack(self, cancellation: Cancellation) -> None:
        with self._reads_lock:
            self._reads.discard(cancellation)

    def _cancel_reads(self) -> None:
        """Stop the reads of results nobody will see: each keystroke would otherwise add
        another full count to the ones still scanning."""
        with self._reads_lock:
            running, self._reads = self._reads, set()
        for cancellation in running:
            cancellation.cancel()

    def _fetch_visible(self) -> None:
        self._fetch_scheduled = False
        if self.query_ is None:
            return
        first = int(self.scroll_y)
        for page in self._cache.wanted(first, first + self._rows_in_view(), total=self.total):
            self._fetch(self._generation, self.query_, page)

    @on(PageLoaded)
    def _page_loaded(self, message: PageLoaded) -> None:
        message.stop()
        incoming = self._incoming
        if incoming is not None and message.generation == incoming.generation:
            cache = incoming.cache
            if message.rows is None:
                cache.failed(message.page)
                return
            cache.put(message.page, message.rows)
            if message.page == cache.page_of(incoming.top):
                self._swap_in(incoming, message.page, message.rows)
            return
        if message.generation != self._generation:
            return
        if message.rows is None:
            self._cache.failed(message.page)
            return
        self._cache.put(message.page, message.rows)
        self.refresh()

    def _swap_in(self, incoming: _Incoming, page: int, rows: list[ResourceRow]) -> None:
        self._incoming = None
        if incoming.query != self.query_:
            # Another result: its own widths, and every column shown until its count says which
            # say the same on every row (the same query read again keeps its layout meanwhile).
            self._wants = {}
            self._single = frozenset()
        self.query_ = incoming.query
        self._cache = incoming.cache
        if incoming.counted is not None:
            self._counted(incoming.counted)
        elif len(rows) < PAGE_SIZE:
            self._set_total(page * PAGE_SIZE + len(rows))
        self.scroll_to(y=incoming.top, animate=False, immediate=True)
        self.cursor = min(incoming.cursor, max((self.total or 1) - 1, 0))
        self.refresh()
        self._fetch_visible()

    @on(CountLoaded)
    def _count_loaded(self, message: CountLoaded) -> None:
        message.stop()
        if self._incoming is not None and message.generation == self._incoming.generation:
            self._incoming.counted = message.counted
        elif message.generation == self._generation:
            self._counted(message.counted)

    def _counted(self, counted: _Counted) -> None:
        shown, total, removed_shown, removed_total = counted.counts
        self._single = counted.single
        self._set_total(shown)
        self.post_message(self.Counted(shown, total, removed_shown, removed_total))

    def _set_total(self, total: int) -> None:
        self.total = total
        self.virtual_size = Size(self.scrollable_content_region.width, total + 1)
        if total and self.cursor >= total:
            self.cursor = total - 1
        self.refresh()

    # -- drawing -------------------------------------------------------------------------

    def _rows_in_view(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def _layout(self, width: int) -> list[tuple[Column, int]]:
        return columns.give_room(layout_columns(width, self._yielded), self._wants, cell_len)

    def render_lines(self, crop: Region) -> list[Strip]:
        yielded = self._uniform_columns()
        wants = self._widest_in_view()
        if yielded != self._yielded or wants != self._wants:
            self._yielded, self._wants = yielded, wants
            self.refresh()  # every line, not only the ones this pass repaints, takes the new layout
        return super().render_lines(crop)

    def _rows_in_view_loaded(self) -> list[ResourceRow] | None:
        """The rows in view, or None while some are still coming."""
        if not self.total:
            return []
        top = int(self.scroll_y)
        cached = [self._cache.get(i) for i in range(top, min(top + self._rows_in_view(), self.total))]
        rows = [row for row in cached if row is not None]
        return rows if len(rows) == len(cached) else None

    def _widest_in_view(self) -> dict[str, int]:
        """Each flexible column's widest cell among the rows in view and those seen before in
        this result (columns.give_room): a wider cell widens its column, a narrower view does
        not narrow it again."""
        rows = self._rows_in_view_loaded()
        if rows is None:
            return self._wants  # the rows are on their way: keep the layout until they are here
        return {c.key: max([self._wants.get(c.key, 0), *(cell_len(c.text(row, _clean)) for row in rows)])
                for c in columns.SHOWN if c.width is None}

    def _uniform_columns(self) -> dict[str, str]:
        """The yielding columns that say the same on every row of the result, and what they say
        (none on a wide table or with fewer than two rows). Decided by the whole result, not the
        rows in view, so no column comes and goes while the operator scrolls."""
        width = self.scrollable_content_region.width
        if width >= YIELD_BELOW or not self.total or self.total < 2 or not self._single:
            return {}
        top = int(self.scroll_y)
        row = next((r for r in (self._cache.get(i) for i in range(top, min(top + self._rows_in_view(), self.total)))
                    if r is not None), None)
        if row is None:
            return self._yielded  # the rows are on their way: keep the layout until they are here
        # Every row says the same in these: any one of them says what.
        return {c.key: c.text(row, _clean) for c in columns.SHOWN
                if c.yields and c.key in self._single and width >= c.min_table_width}

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header(width)
        index = int(self.scroll_y) + y - 1
        base = self.rich_style
        if self.total is not None and index >= self.total:
            if index == 0 and self.total == 0:
                return Strip([Segment(fit("  No resources match.", width), base)], width)
            return Strip.blank(width, base)
        row = self._cache.get(index)
        if row is None:
            if not self._fetch_scheduled:
                self._fetch_scheduled = True
                self.call_after_refresh(self._fetch_visible)
            style = base + self.get_component_rich_style("resource-table--placeholder")
            return Strip([Segment(fit("  …", width), style)], width)
        return self._row(row, width, selected=index == self.cursor)

    def _header(self, width: int) -> Strip:
        base = self.get_component_rich_style("resource-table--header")
        sorted_style = self.get_component_rich_style("resource-table--header-sorted")
        query = self.query_
        gutter = self.mark_gutter
        segments = [Segment(" " * gutter, base)] if gutter else []
        for number, (column, size) in enumerate(self._layout(width - gutter)):
            label = column.label
            style = base
            if query is not None and query.sort == column.key:
                label += " ▼" if query.descending else " ▲"
                style = sorted_style
            if not number:  # what the yielded columns say on every row
                label += "".join(f" · {columns.column(key).yielded_as}{text}" for key, text in self._yielded.items())
            if number:
                segments.append(Segment(" ", base))
            segments.append(Segment(fit(label, size), style))
        return Strip(segments).adjust_cell_length(width, base)

    def _row(self, row: ResourceRow, width: int, *, selected: bool) -> Strip:
        base = self.rich_style
        if row.deleted_remotely:
            base += self.get_component_rich_style("resource-table--removed")
        gutter = self.mark_gutter
        marked = bool(gutter) and self.marks.has(row)
        if marked:
            base += self.get_component_rich_style("resource-table--marked")
        if selected:
            base += self.get_component_rich_style("resource-table--cursor")
        segments = [Segment("● " if marked else "  ", base)] if gutter else []
        for number, (column, size) in enumerate(self._layout(width - gutter)):
            text, style = self._cell(row, column)
            if number:
                segments.append(Segment(" ", base))
            segments.append(Segment(fit(text, size), base + style if style else base))
        return Strip(segments).adjust_cell_length(width, base)

    @property
    def mark_gutter(self) -> int:
        """Cells before the first column: the mark gutter, while anything is marked."""
        return GUTTER if self.marks else 0

    def set_marks(self, marks: Marks) -> None:
        """Show ``marks`` (the gutter appears with the first mark and goes with the last)."""
        self.marks = marks
        self.refresh()

    def _cell(self, row: ResourceRow, column: Column) -> tuple[str, Style | None]:
        text = column.text(row, _clean)
        if column.tone is None:
            return text, None
        # Partial: only the tone's colour, so the cursor's and the mark's background show through.
        return text, self.get_component_rich_style(f"resource-table--{column.tone(row)}", partial=True)

    # -- moving ----------------------------------------------------------------------------

    def watch_cursor(self, cursor: int) -> None:
        rows = self._rows_in_view()
        top = int(self.scroll_y)
        if cursor < top:
            self.scroll_to(y=cursor, animate=False)
        elif cursor >= top + rows:
            self.scroll_to(y=cursor - rows + 1, animate=False)
        self.refresh()

    def _move(self, delta: int) -> None:
        if self.total:
            self.cursor = min(max(self.cursor + delta, 0), self.total - 1)

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_page_up(self) -> None:
        self._move(-self._rows_in_view())

    def action_page_down(self) -> None:
        self._move(self._rows_in_view())

    def action_first(self) -> None:
        self._move(-(self.total or 0))

    def action_last(self) -> None:
        self._move(self.total or 0)

    def action_open_actions(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.ActionsRequested(row))

    def action_sort_next(self) -> None:
        if self.query_ is None:
            return
        keys = [c.key for c, _ in layout_columns(self.scrollable_content_region.width)]
        at = keys.index(self.query_.sort) if self.query_.sort in keys else -1
        self.set_sort(keys[(at + 1) % len(keys)], descending=False)

    def action_sort_reverse(self) -> None:
        if self.query_ is not None:
            self.set_sort(self.query_.sort, not self.query_.descending)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            x = self.mark_gutter
            for column, size in self._layout(self.scrollable_content_region.width - self.mark_gutter):
                if x <= offset.x < x + size + 1:
                    self.set_sort(column.key)
                    return
                x += size + 1
            return
        index = int(self.scroll_y) + offset.y - 1
        if self.total and index < self.total:
            self.cursor = index
            if event.chain >= 2:
                self.action_open_actions()

    def on_resize(self) -> None:
        if self.total is not None:
            self.virtual_size = Size(self.scrollable_content_region.width, self.total + 1)
        self._fetch_visible()
        if self._narrow() != self._counted_narrow:
            self.reload()  # counted for the other width: which columns yield is asked anew

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if not self._fetch_scheduled:
            self._fetch_scheduled = True
            self.call_after_refresh(self._fetch_visible)
