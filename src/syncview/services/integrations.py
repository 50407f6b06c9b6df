"""Keeping the store's integrations in step with the config, and the newcomer's first run."""

from __future__ import annotations

from sqlalchemy import insert, select, update

from syncview.config import Config, IntegrationConfig
from syncview.demo import INTEGRATIONS as DEMO_INTEGRATIONS
from syncview.services.seed import SeedSummary, demo_settings, seed_demo
from syncview.store import Store
from syncview.store.db import utcnow
from syncview.store.models import integration_table

I = integration_table.c


def register(store: Store, config: Config) -> None:
    """Make sure every configured integration has its row (name and kind) in the store.

    Integrations no longer in the config are kept: their resources, decisions and
    history stay reviewable.
    """
    if not config.integrations:
        return
    with store.write() as conn:
        known = dict(conn.execute(select(I.name, I.kind)).all())
        for integration in config.integrations:
            if integration.name not in known:
                conn.execute(insert(integration_table).values(
                    name=integration.name, kind=integration.kind, created_at=utcnow()))
            elif known[integration.name] != integration.kind:
                conn.execute(update(integration_table).where(I.name == integration.name)
                             .values(kind=integration.kind))


def prepare_first_run(store: Store, config: Config) -> SeedSummary | None:
    """On an empty store with no configured integration, seed the demo so there is something to see."""
    if config.integrations:
        return None
    with store.read() as conn:
        if conn.execute(select(I.id).limit(1)).first() is not None:
            return None
    return seed_demo(store)


def syncable(store: Store, config: Config) -> tuple[IntegrationConfig, ...]:
    """The integrations that can be synced: the configured ones, then the store's demo ones.

    A store seeded with the demo (``syncview demo`` or a first run) remembers its size and
    seed, so its demo integrations sync through the demo connector with no config at all;
    a configured integration of the same name wins.
    """
    settings = demo_settings(store)
    if settings is None:
        return config.integrations
    configured = {i.name for i in config.integrations}
    with store.read() as conn:
        present = set(conn.execute(select(I.name).where(I.name.in_(list(DEMO_INTEGRATIONS)))).scalars())
    demos = tuple(IntegrationConfig(name=name, kind="demo", settings={"flavour": flavour, **settings})
                  for name, flavour in DEMO_INTEGRATIONS.items() if name in present and name not in configured)
    return config.integrations + demos

