"""Find connectors by entry point (group ``syncview.connectors``) without importing them.

Built-in connectors are registered in syncview's own pyproject exactly like a
third-party package would register one, so the core has a single way in.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from syncview.connectors.base import Connector
from syncview.errors import ConfigError

GROUP = "syncview.connectors"


@cache
def available() -> dict[str, EntryPoint]:
    """Connector kinds on this installation, by name, not yet imported."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(kind: str) -> type[Connector]:
    """Import and return the connector class registered as ``kind``."""
    found = available()
    if kind not in found:
        known = ", ".join(sorted(found)) or "none installed"
        raise ConfigError(f"unknown integration kind {kind!r}; known kinds: {known}")
    cls = found[kind].load()
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConfigError(f"connector {kind!r} ({found[kind].value}) is not a syncview Connector")
    return cls
