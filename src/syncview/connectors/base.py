"""The connector plugin interface.

A connector declares its settings and yields remote items page by page. It knows
nothing of the store: the sync engine decides what the items mean locally.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from syncview.domain import RemoteItem

SettingType = Literal["str", "int", "bool", "url", "path"]


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

    def __init__(self, integration: str, settings: Mapping[str, Any]) -> None:
        self.integration = integration
        self.settings = dict(settings)

    @abstractmethod
    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        """Yield pages of remote items; ``since`` asks for items changed after it."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release network resources."""

    def __enter__(self) -> "Connector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
