"""A connector with a bug that quotes its secret in an exception, registered by the secrets tests.

What a careless third-party plugin might do: syncview must still keep the value off the
screen, out of the crash report and out of the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import ClassVar

from syncview.connectors.base import Connector, Page, Setting


class LeakyConnector(Connector):
    kind: ClassVar[str] = "leaky"
    title: ClassVar[str] = "Leaky (test)"
    settings_schema: ClassVar[tuple[Setting, ...]] = (Setting("token", secret=True),)

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        token = self.settings["token"]
        yield from ()
        raise RuntimeError(f"could not parse the answer to Authorization: Bearer {token}")


def register(monkeypatch) -> None:
    """Make kind "leaky" known to the registry for one test, as an installed plugin would."""
    from importlib.metadata import EntryPoint

    from syncview.connectors import registry

    known = dict(registry.available())
    known["leaky"] = EntryPoint("leaky", f"{__name__}:LeakyConnector", registry.GROUP)
    monkeypatch.setattr(registry, "available", lambda: known)
