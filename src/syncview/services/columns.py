"""A resource row and the table's columns, described once.

Everything that reads or shows a resource derives from this module:

- :class:`ResourceRow`, the row every query returns. Each of its fields names, in its
  metadata (:func:`value`), the SQL expression it is read from, how the stored value is
  turned into the field's type, and whether exports carry it. :data:`VALUES` lists them.
- :func:`row_query` selects every value labelled with its field's name, and :func:`to_rows`
  builds rows from a result by those names (never by a position written down here).
- :data:`EXPORT_FIELDS`: the keys of ``resources --json`` objects and the CSV header
  (``render.RESOURCE_FIELDS``), in field order.
- :data:`COLUMNS`: the columns of the table, each with its key (what ``--sort`` and the
  screen's sort take), label, SQL sort expression, width policy and cell text. The CLI's
  ``resources`` table and the screen's Sync Status table show the ``shown`` ones, in this
  order; :data:`SORT_KEYS` is every column's key and sort expression.

How to add a column (issue 11's ``matched_on``, say):

1. Add the store column to ``store/models.py`` (and its migration in ``store/db.py``).
2. Add a field to :class:`ResourceRow` with ``field(metadata=value(R.matched_on))``: the
   row, the page query, the JSON and CSV exports now carry it. Exports list the fields in
   this order, so add it at the end: scripts that read CSV columns by position keep working.
   A value from another table also needs that table joined in :func:`row_query`.
3. To show it or sort by it, add a :class:`Column` to :data:`COLUMNS` with its label,
   width policy and cell text: the CLI table, the screen's table, its sort keys (``o`` and
   the palette's "Sort by ...") and ``resources --sort`` now offer it.

Nothing else names the columns. A key that is not here fails loudly
(:func:`column` raises :class:`KeyError` naming the known keys; a misspelt field in a cell
text is an :class:`AttributeError`), instead of showing another column's value.

This is the core: no Textual, no rich. Cell text comes back as plain text with every value
from outside passed through the ``clean`` function each face gives (the screen's cuts long
names, the CLI's does not); a column's ``tone`` is a word the screen maps to a style.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Result, Select, func, select

from syncview.domain import MatchedOn, ResourceType, SyncStatus, why_label
from syncview.store.models import client_table, record_table, resource_table
from syncview.timeutil import ago

R = resource_table.c
REC = record_table.c
CL = client_table.c


@dataclass(frozen=True, slots=True)
class Value:
    """Where a :class:`ResourceRow` field comes from."""

    name: str
    #: the SQL expression the field is read from (joined by :func:`row_query`)
    sql: ColumnElement[Any]
    #: turns the stored value into the field's type (None: taken as stored)
    convert: Callable[[Any], Any] | None = None
    #: carried by ``resources --json``, ``export`` and the CSV header
    export: bool = True


def value(sql: ColumnElement[Any], *, convert: Callable[[Any], Any] | None = None,
          export: bool = True) -> dict[str, Any]:
    """The metadata of a :class:`ResourceRow` field: read from ``sql``, through ``convert``."""
    return {"value": (sql, convert, export)}


@dataclass(frozen=True, slots=True)
class ResourceRow:
    """A resource as the table, the CLI and the exports show it, with its record and client."""

    id: int = field(metadata=value(R.id))
    integration_id: int = field(metadata=value(R.integration_id))
    type: ResourceType = field(metadata=value(R.type, convert=ResourceType))
    external_id: str = field(metadata=value(R.external_id))
    name: str = field(metadata=value(R.name))
    status: SyncStatus = field(metadata=value(R.status, convert=SyncStatus))
    record_id: int | None = field(metadata=value(R.record_id))
    record_name: str | None = field(metadata=value(REC.name))
    record_disabled: bool | None = field(metadata=value(REC.disabled))
    remote_company: str | None = field(metadata=value(R.remote_company))
    client_id: int | None = field(metadata=value(R.client_id))
    client_name: str | None = field(metadata=value(CL.name))
    last_seen: datetime = field(metadata=value(R.last_seen))
    deleted_remotely: bool = field(metadata=value(R.deleted_remotely))
    version: int = field(metadata=value(R.version))
    updated_by: str | None = field(metadata=value(R.updated_by))
    updated_at: datetime | None = field(metadata=value(R.updated_at))
    #: how a Matched resource was linked (a MatchedOn value: serial, mac, operator...)
    matched_on: str | None = field(metadata=value(R.matched_on))
    #: why a Not Synced resource is not linked, in words, and in a word (a ReasonKind value)
    reason: str | None = field(metadata=value(R.reason))
    reason_kind: str | None = field(metadata=value(R.reason_kind))


def _values(row_type: type[Any]) -> tuple[Value, ...]:
    """Where each field of ``row_type`` is read from; TypeError for a field that does not say."""
    found = []
    for f in fields(row_type):
        if "value" not in f.metadata:
            raise TypeError(f"{row_type.__name__}.{f.name} does not say where it is read from: "
                            "give it field(metadata=value(<SQL column>))")
        sql, convert, export = f.metadata["value"]
        found.append(Value(f.name, sql, convert, export))
    return tuple(found)


#: Every field of a :class:`ResourceRow` and where it is read from, in field order.
VALUES = _values(ResourceRow)

#: Keys of a resource in CSV/JSON exports and ``resources --json``, in order.
EXPORT_FIELDS = tuple(v.name for v in VALUES if v.export)


def row_query() -> Select[Any]:
    """Every :class:`ResourceRow` value, labelled with its field's name, joined to the
    resource's record and client; add the WHERE."""
    return (
        select(*(v.sql.label(v.name) for v in VALUES))
        .select_from(resource_table)
        .outerjoin(record_table, REC.id == R.record_id)
        .outerjoin(client_table, CL.id == R.client_id)
    )


_CONVERTED = tuple((v.name, v.convert) for v in VALUES)


def to_rows(result: Result[Any]) -> Iterator[ResourceRow]:
    """The :class:`ResourceRow` of each row of a :func:`row_query` result, values read by name.

    The result's column names are looked up once, not on every row: reading each value by
    ``row._mapping[name]`` doubled the time to read 200,000 rows (4.5 s against 2.0 s).
    """
    at = {name: number for number, name in enumerate(result.keys())}
    take = itemgetter(*(at[name] for name, _ in _CONVERTED))
    converts = [(number, convert) for number, (_, convert) in enumerate(_CONVERTED) if convert is not None]
    for row in result:
        values = list(take(row))
        for number, convert in converts:
            values[number] = convert(values[number])
        yield ResourceRow(*values)


#: Makes a value from outside (a name, a company) safe to show; each face gives its own.
Clean = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the resource table, on the screen and in the CLI."""

    #: the name ``--sort``, the screen's sort and the palette use
    key: str
    label: str
    #: the SQL expression the table is ordered by for this column
    order_by: ColumnElement[Any]
    #: the cell's text for a row; values from outside go through ``clean``
    text: Callable[[ResourceRow, Clean], str]
    #: fixed width in cells on screen, or None to share the remaining width by ``share``
    width: int | None = None
    share: int = 1
    #: the screen leaves the column out when the table is narrower than this
    min_table_width: int = 0
    #: shown in the tables; False for a sort key the table has no column for
    shown: bool = True
    #: a word for how the cell reads (the screen styles it ``resource-table--<tone>``)
    tone: Callable[[ResourceRow], str] | None = None
    #: on a narrow table the column gives its room to the others when every row says the same
    #: in it; the header then says what, after ``yielded_as``: "Name ▲ · Device · Not Synced".
    #: The CLI's page looks at the rows it prints; the screen at the whole result, as far as
    #: the store tells it without reading every row (queries.single_valued: type and status),
    #: so its columns stay put while the operator scrolls.
    yields: bool = False
    yielded_as: str = ""


def _name(row: ResourceRow, clean: Clean) -> str:
    name = clean(row.name)
    return f"{name} (removed remotely)" if row.deleted_remotely else name


def standing(row: ResourceRow) -> str:
    """How a resource matched, or why it is not synced, in words (details show it)."""
    if row.matched_on is not None and row.matched_on in MatchedOn._value2member_map_:
        return MatchedOn(row.matched_on).sentence
    if row.reason:
        return row.reason
    return "excluded by an operator" if row.status is SyncStatus.EXCLUDED else "—"


def _why_tone(row: ResourceRow) -> str:
    # A link a rule made on a key reads as sure; a Not Synced reason that needs a person, as a warning.
    if row.reason_kind in ("ambiguous", "conflict", "taken", "shared"):
        return "warning"
    return "why"


def _record(row: ResourceRow, clean: Clean) -> str:
    if row.record_name is None:
        return "—"
    name = clean(row.record_name)
    return f"{name} (disabled)" if row.record_disabled else name


#: Below this table width, a column that says the same on every row gives its room up (on the
#: screen and in the CLI's ``resources``), and the last-seen column is shown only when nothing
#: need be cut for it.
YIELD_BELOW = 100

COLUMNS: tuple[Column, ...] = (
    Column("name", "Name", R.name_norm, _name, share=4),
    Column("type", "Type", R.type, lambda row, clean: row.type.label, width=7, yields=True),
    Column("status", "Status", R.status, lambda row, clean: row.status.label, width=10,
           tone=lambda row: row.status.value.replace("_", "-"), yields=True),
    # How it matched or why not, in a word: "serial", "operator", "no match", "conflict".
    Column("why", "Why", func.coalesce(R.matched_on, R.reason_kind), lambda row, clean: why_label(
        row.matched_on, row.reason_kind), width=9, tone=_why_tone),
    Column("record", "Local record", REC.name, _record, share=3),
    Column("remote_company", "Remote company", R.remote_company,
           lambda row, clean: clean(row.remote_company or "—"), share=3, min_table_width=96),
    # The screen picks the client in its sidebar; the CLI can still order by it.
    Column("client", "Client", CL.name, lambda row, clean: clean(row.client_name or "—"), shown=False),
    Column("last_seen", "Last seen", R.last_seen, lambda row, clean: ago(row.last_seen),
           width=11, min_table_width=YIELD_BELOW, yields=True, yielded_as="seen "),
)

#: The columns the tables show, in order.
SHOWN: tuple[Column, ...] = tuple(c for c in COLUMNS if c.shown)

#: Columns the table can be sorted by, as the screen and the CLI name them.
SORT_KEYS: dict[str, ColumnElement[Any]] = {c.key: c.order_by for c in COLUMNS}

if len(SORT_KEYS) != len(COLUMNS):
    raise TypeError("two columns share a key: " + ", ".join(c.key for c in COLUMNS))


def uniform(rows: Sequence[ResourceRow], candidates: Iterable[Column], clean: Clean) -> dict[str, str]:
    """The yielding columns among ``candidates`` that say the same on every one of ``rows``
    (two or more), and what they say: a narrow table leaves them out and says it once."""
    if len(rows) < 2:
        return {}
    found = {}
    for candidate in candidates:
        if candidate.yields:
            texts = {candidate.text(row, clean) for row in rows}
            if len(texts) == 1:
                found[candidate.key] = texts.pop()
    return found


#: Narrowest the name is cut to before the short columns give their room up.
NAME_FLOOR = 16

#: Narrowest a shrunk flexible column gets before the next one gives up room.
FLEX_FLOOR = 8


def fit_rows(width: int, rows: Sequence[ResourceRow], clean: Clean, measure: Callable[[str], int], *,
             yield_below: int, gap: int = 1) -> tuple[list[tuple[Column, int]], dict[str, str]]:
    """The shown columns for ``rows`` in ``width`` cells, each with its width, and the yielded ones.

    For a table whose rows are all known (the CLI's page): below ``yield_below`` cells the
    columns that say the same on every row yield (the caller says what they say once). Every
    column asks for its widest cell (``measure`` counts terminal cells). When that is too
    much, the flexible columns give room up, the smallest ``share`` first, down to
    :data:`FLEX_FLOOR`; the name (the largest share) is cut last, so it keeps the room. A
    column whose ``min_table_width`` the table misses is shown only if no column need be cut.
    """
    yielded = uniform(rows, SHOWN, clean) if width < yield_below else {}
    every = [c for c in SHOWN if c.key not in yielded]
    narrow = [c for c in every if width >= c.min_table_width]
    sized, cut = _share(width, every, rows, clean, measure, gap)
    if cut and narrow != every:
        sized, _ = _share(width, narrow, rows, clean, measure, gap)
    # On a very narrow terminal the other columns go too, the rightmost first, before the
    # name is cut below NAME_FLOOR cells.
    kept = [c for c, _ in sized]
    name = max((c for c in kept if c.width is None), key=lambda c: c.share, default=None)
    if name is not None:
        whole = max((measure(name.text(row, clean)) for row in rows), default=0)
        while len(kept) > 1 and dict((c.key, size) for c, size in sized)[name.key] < min(NAME_FLOOR, whole):
            kept.remove(next(c for c in reversed(kept) if c is not name))
            sized, _ = _share(width, kept, rows, clean, measure, gap)
    return sized, yielded


def _share(width: int, fitting: list[Column], rows: Sequence[ResourceRow], clean: Clean,
           measure: Callable[[str], int], gap: int) -> tuple[list[tuple[Column, int]], bool]:
    """Each column's width in ``width`` cells (see :func:`fit_rows`), and whether any is cut."""
    wanted = {c.key: max([measure(c.label), *(measure(c.text(row, clean)) for row in rows)]) for c in fitting}
    over = sum(wanted.values()) + gap * (len(fitting) - 1) - width
    cut = over > 0
    flexible = sorted((c for c in fitting if c.width is None), key=lambda c: c.share)
    for number, giving in enumerate(flexible):
        if over <= 0:
            break
        # the last to give (the name, the largest share) gives as far as it must
        floor = 1 if number == len(flexible) - 1 else min(wanted[giving.key], FLEX_FLOOR)
        given = min(over, wanted[giving.key] - floor)
        wanted[giving.key] -= given
        over -= given
    return [(c, wanted[c.key]) for c in fitting], cut


def give_room(sized: list[tuple[Column, int]], wants: dict[str, int],
              measure: Callable[[str], int]) -> list[tuple[Column, int]]:
    """``sized`` (the screen's widths by share) with the room a flexible column does not need
    for its widest cell in view (``wants``, keeping its label whole) given to the name (the
    largest share), as far as the name's widest cell in view needs it: "—" in every Local
    record cell no longer keeps 25 cells while the names are cut."""
    flexible = [c for c, _ in sized if c.width is None]
    if len(flexible) < 2:
        return sized
    name = max(flexible, key=lambda c: c.share)
    widths = {c.key: size for c, size in sized}
    short = wants.get(name.key, 0) - widths[name.key]
    for giving in flexible:
        if short <= 0:
            break
        if giving is name or giving.key not in wants:
            continue
        spare = widths[giving.key] - max(wants[giving.key], measure(giving.label))
        given = max(min(spare, short), 0)
        widths[giving.key] -= given
        widths[name.key] += given
        short -= given
    return [(c, widths[c.key]) for c, _ in sized]


def column(key: str) -> Column:
    """The column called ``key``; KeyError naming the known keys if there is none."""
    for candidate in COLUMNS:
        if candidate.key == key:
            return candidate
    raise KeyError(f"no resource column {key!r}; columns: {', '.join(SORT_KEYS)}")
