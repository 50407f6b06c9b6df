"""The connector plugin interface.

A connector declares its settings and yields remote items page by page. It knows
nothing of the store: the sync engine decides what the items mean locally.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from syncview.domain import RemoteItem, ResourceType

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
