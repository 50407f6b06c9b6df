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
