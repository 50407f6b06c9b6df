"""The connector plugin interface.

A connector declares its settings and yields remote items page by page. It knows
nothing of the store: the sync engine decides what the items mean locally.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from syncview.domain import RemoteItem, ResourceType
from syncview.errors import ConnectorError
from syncview.safe_text import printable

#: ``list``: a TOML array of non-empty strings (scope settings: which types or statuses to sync).
SettingType = Literal["str", "int", "bool", "url", "path", "list"]


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting a connector reads from its ``[[integrations]]`` table."""

    name: str
    type: SettingType = "str"
    required: bool = True
    secret: bool = False
    default: Any = None
    help: str = ""


@dataclass(slots=True)
class Page:
    """One page of fetched items, committed atomically by the sync engine."""

    items: list[RemoteItem]
    #: Entity the page came from (``"companies"``, ``"devices"``...), for progress and logs.
    entity: str = ""
    #: Items the product reported in total for this entity, when it says so.
    total: int | None = None
    #: Notes worth a sync log line (skipped malformed rows and why).
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class IdPage:
    """One page of the external ids of one type that the product holds now (see ``Connector.live_ids``)."""

    type: ResourceType
    ids: list[str]


class MalformedRow(ValueError):
    """Raised by a row mapper: this row cannot become an item; the message says why."""


def page_of(rows: Iterable[Any], entity: str, mapper: Callable[[dict[str, Any]], RemoteItem | list[RemoteItem]],
            *, total: int | None = None) -> Page:
    """Map one page of a product's rows into a Page.

    ``mapper`` turns a row (a JSON object) into an item, or a list of items; a row that is
    not an object, or that the mapper refuses with :class:`MalformedRow`, is skipped with a
    warning naming it, so one bad row never costs the rest of the page.
    """
    page = Page([], entity=entity, total=total)
    for number, row in enumerate(rows, start=1):
        try:
            if not isinstance(row, dict):
                raise MalformedRow(f"it is a JSON {type(row).__name__}, not an object")
            mapped = mapper(row)
        except MalformedRow as problem:
            page.warnings.append(f"skipped {entity} {_which(row, number)}: {problem}")
            continue
        if isinstance(mapped, list):
            page.items.extend(mapped)
        else:
            page.items.append(mapped)
    return page


#: Pages an entity may still bring after the product's reported total has come (config key
#: ``pages_beyond_total``): a total a little stale is normal, paging on and on is a loop.
PAGES_BEYOND_TOTAL = 10


def within_total(pages: Iterable[Page], *, integration: str, beyond: int = PAGES_BEYOND_TOTAL) -> Iterator[Page]:
    """``pages`` as they come, stopped with a ConnectorError once an entity whose product
    reported a total keeps offering pages: more than ``beyond`` of them after that total came.

    The engine reads every connector's pages through here, so a product whose paging loops
    (a next-page link that always differs) cannot hold a sync for ever, whatever helper the
    connector pages with.
    """
    seen: dict[str, int] = {}
    extra: dict[str, int] = {}
    for page in pages:
        entity = page.entity
        if page.total is not None and seen.get(entity, 0) >= page.total:
            extra[entity] = extra.get(entity, 0) + 1
            if extra[entity] > beyond:
                raise ConnectorError(
                    f"{integration}: the product reported {page.total:,} {entity or 'items'} but still offers "
                    f"pages, {beyond} more after all {page.total:,} came; the sync stopped there (its paging "
                    "loops): sync again later, or raise pages_beyond_total if the product's count lags")
        seen[entity] = seen.get(entity, 0) + len(page.items)
        yield page


#: A payload as the store's ``payload`` column holds it: compact, key order as the product sent
#: it (so the operator reads it as the API shows it), anything JSON lacks (a datetime) as text.
_STORED = json.JSONEncoder(separators=(",", ":"), default=str).encode
#: The same with text as it is (lone surrogates kept, not escaped): what :func:`storable` checks.
_AS_IS = json.JSONEncoder(separators=(",", ":"), default=str, ensure_ascii=False).encode


def payload_text(payload: Mapping[str, Any]) -> str:
    """A remote item's payload as the store's ``payload`` column holds it."""
    return _STORED(payload)


def storable(page: Page, payloads: dict[int, str] | None = None) -> Page:
    """``page`` without the items holding text no store can keep, each named in a warning.

    A lone surrogate (``"\\ud83d"`` in JSON: half an emoji, as UTF-16 APIs cut them) is a
    ``str`` Python holds but UTF-8, and so SQLite, cannot encode: written, it would fail the
    whole page, and every later sync of the integration with it. The sync engine passes every
    page through here, whichever connector built it, so such an item is skipped like any
    malformed row and the rest syncs.

    ``payloads``, if given, gains the :func:`payload_text` of the kept items' payloads the check
    has already worked out, by ``id(item)`` (all of them but those holding text outside ASCII),
    so that the engine does not encode them twice.
    """
    kept: list[RemoteItem] = []
    for item in page.items:
        problem = _unstorable(item, payloads)
        if problem is None:
            kept.append(item)
        else:
            page.warnings.append(f"skipped {item.type.label.lower()} {printable(item.external_id, limit=80)} "
                                 f"“{printable(item.name, limit=80)}”: {problem}")
    if len(kept) < len(page.items):
        page.items = kept
    return page


def _unstorable(item: RemoteItem, payloads: dict[int, str] | None = None) -> str | None:
    """Why ``item`` cannot be stored (which field holds what), or None when it can."""
    keys = item.keys
    # Almost every item can: the C encoder's pass over its text says so. Only an item whose text
    # does not encode (or a payload JSON cannot hold) is looked at field by field.
    text: str | None
    payload: str | None
    try:
        text = _AS_IS((item.external_id, item.name, item.remote_company, keys.serial, keys.macs, keys.hostname,
                       keys.email, keys.xrefs))
        payload = _AS_IS(item.payload)
    except (TypeError, ValueError, RecursionError):
        text = payload = None
    if text is not None and payload is not None:
        if text.isascii() and payload.isascii():
            # ASCII as it is is the stored text too, but for DEL, which the stored text escapes.
            if payloads is not None and "\x7f" not in payload:
                payloads[id(item)] = payload
            return None
        try:
            text.encode("utf-8")
            payload.encode("utf-8")
            return None
        except UnicodeEncodeError:
            pass
    fields: list[tuple[str, Any]] = [
        ("id", item.external_id), ("name", item.name), ("company", item.remote_company),
        ("serial", keys.serial), ("MAC", keys.macs), ("host name", keys.hostname), ("e-mail", keys.email),
        ("cross-reference", keys.xrefs), ("payload", item.payload),
    ]
    for label, value in fields:
        bad = _lone_surrogate(value)
        if bad is not None:
            return (f"its {label} holds a lone surrogate ({printable(bad)}, half of a UTF-16 character) that "
                    "cannot be stored; correct it in the product, the next sync picks it up")
    return None


def _lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate in ``value`` (a str, or lists and dicts of them), else None."""
    if isinstance(value, str):
        if value.isascii():
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            return value[error.start]
        return None
    if isinstance(value, dict):
        for key, inner in value.items():
            found = _lone_surrogate(key) or _lone_surrogate(inner)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for inner in value:
            found = _lone_surrogate(inner)
            if found is not None:
                return found
    return None


def _which(row: Any, number: int) -> str:
    """How a warning names a row: by uid, else by id, else by its place on the page."""
    if isinstance(row, dict):
        for key in ("uid", "id"):
            if row.get(key) not in (None, ""):
                return f"{key} {row[key]}"
    return f"row {number} of the page"


class Connector(ABC):
    """Base class of every connector.

    ``settings`` holds the integration's values with secret references already
    resolved; a connector must never log or repeat them (the HTTP layer redacts).
    """

    #: Registry key, used as ``kind`` in the config.
    kind: ClassVar[str]
    #: Product name shown to operators.
    title: ClassVar[str]
    #: Settings read from the integration's config table.
    settings_schema: ClassVar[tuple[Setting, ...]] = ()
    #: Whether ``fetch(since=...)`` really fetches only what changed.
    supports_incremental: ClassVar[bool] = False
    #: Whether :meth:`live_ids` lists what the product holds now, so that an incremental run
    #: (which fetches only what changed) still finds what was deleted since the last one.
    supports_live_ids: ClassVar[bool] = False

    def __init__(self, integration: str, settings: Mapping[str, Any]) -> None:
        self.integration = integration
        self.settings = dict(settings)

    def setting(self, name: str) -> Any:
        """A setting's value, else its declared default (a connector made without the config's
        defaults applied, as tests make them, reads the same values)."""
        value = self.settings.get(name)
        if value is None:
            value = next((s.default for s in self.settings_schema if s.name == name), None)
        return value

    def rate_account(self) -> str:
        """What the product counts this integration's requests against. Integrations naming the
        same account share one rate and one bound on requests in flight, in the process and
        through the store (connectors/limits.py): the operator's ``rate_account`` setting, else
        the account the connection settings reach (:meth:`account`), else the integration."""
        given = self.settings.get("rate_account")
        return str(given) if given else self.account() or self.integration

    def account(self) -> str | None:
        """The vendor account this integration's settings reach, in words and without a secret
        (e.g. "Autotask user api@acme.example"); None when the settings do not tell."""
        return None

    def reach(self) -> bool:
        """Ask the product for a first page, with as few requests as it allows, for the doctor;
        whether it held anything. Default: the first page :meth:`fetch` yields, then stop."""
        pages = self.fetch()
        try:
            page = next(pages, None)
        finally:
            close = getattr(pages, "close", None)  # a generator: release what it holds now
            if close is not None:
                close()
        return page is not None and bool(page.items)

    def usage(self) -> str | None:
        """What the product says now of the account's use of its limits, in one line (the doctor
        shows it); None when it does not say. May send a request; never raises for an answer it
        cannot read."""
        return None

    @abstractmethod
    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        """Yield pages of remote items; ``since`` asks for items changed after it."""

    def live_ids(self) -> Iterator[IdPage]:
        """The external ids of every item ``fetch()`` would yield now, page by page, asking the
        product for ids alone (a cheap pass, run after an incremental fetch).

        The answer must be complete for each type it names, within the same scope settings as
        ``fetch``: the sync engine marks removed whatever known item of a named type it does not
        list. A type the connector cannot list cheaply is simply not named (its deletions wait
        for a full run); a type with no item is named with an empty page.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list live ids")

    @property
    def requests_sent(self) -> int | None:
        """Requests sent so far, for progress; None for a connector without an HTTP client."""
        return getattr(getattr(self, "http", None), "sent", None)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release network resources."""

    def __enter__(self) -> "Connector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
