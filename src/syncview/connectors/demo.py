"""The demo connector: one integration of the deterministic demo MSP, as if fetched.

It mirrors :class:`syncview.demo.DemoWorld` exactly, identity keys included (serials,
MACs as each product writes them, e-mails), so syncing a demo integration after
``syncview demo`` with the same ``resources`` and ``seed`` finds the store already up
to date. No network, nothing to set up; fast enough to benchmark the
sync engine at a million resources.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

from syncview.connectors.base import Connector, Page, Setting
from syncview.demo import DEFAULT_RESOURCES, INTEGRATIONS, DemoWorld
from syncview.domain import RemoteItem
from syncview.errors import ConfigError

#: Flavour -> the DemoWorld integration it mirrors.
FLAVOURS = {flavour: name for name, flavour in INTEGRATIONS.items()}
#: What each flavour calls what it fetches, for progress displays.
_ENTITIES = {"psa": "companies, sites, contacts, configurations", "rmm": "sites and devices"}


class DemoConnector(Connector):
    """Yields one demo integration's remote resources, in pages, the same every time."""

    kind: ClassVar[str] = "demo"
    title: ClassVar[str] = "Demo MSP"
    settings_schema: ClassVar[tuple[Setting, ...]] = (
        Setting("flavour", required=False, default="psa",
                help='"psa" (companies, sites, configurations, contacts) or "rmm" (sites, devices): '
                     "which integration of the demo MSP to mirror"),
        Setting("resources", "int", required=False, default=DEFAULT_RESOURCES,
                help="size of the demo MSP, in remote resources over both flavours (as `syncview demo -n`); "
                     "this flavour yields its share"),
        Setting("seed", "int", required=False, default=7, help="random seed: the same seed, the same MSP"),
    )

    #: Items per page; each page is one write transaction of the sync engine.
    page_size: int = 5_000

    def __init__(self, integration: str, settings: dict[str, Any]) -> None:
        super().__init__(integration, settings)
        flavour = self.settings.get("flavour") or "psa"
        if flavour not in FLAVOURS:
            raise ConfigError(f'integration "{integration}": flavour must be "psa" or "rmm", got {flavour!r}')
        resources = self.settings.get("resources")
        resources = DEFAULT_RESOURCES if resources is None else resources
        if isinstance(resources, bool) or not isinstance(resources, int) or resources < 16:
            raise ConfigError(f'integration "{integration}": resources must be a whole number of at least 16, '
                              f"got {resources!r}")
        seed = self.settings.get("seed")
        self.flavour: str = flavour
        self.resources: int = resources
        self.seed: int = 7 if seed is None else int(seed)

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        """Every resource of the mirrored integration still present remotely; ``since`` is ignored
        (the demo has no change dates, so every run is a full one)."""
        mirrored = FLAVOURS[self.flavour]
        entity = _ENTITIES[self.flavour]
        size = self.page_size
        items: list[RemoteItem] = []
        for client in DemoWorld(self.resources, seed=self.seed):
            for res in client.resources:
                # A resource the world marks deleted is one the product no longer returns.
                if res.integration != mirrored or res.deleted_remotely:
                    continue
                items.append(RemoteItem(res.type, res.external_id, res.name, res.remote_company,
                                        {"id": res.external_id, **res.payload}, res.keys))
            if len(items) >= size:
                while len(items) >= size:
                    yield Page(items[:size], entity)
                    del items[:size]
        if items:
            yield Page(items, entity)
