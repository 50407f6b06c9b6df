"""The base of every connector that talks HTTP: it owns the constructor they all share.

A subclass declares its settings as any :class:`~syncview.connectors.base.Connector` does and
implements :meth:`HttpConnector.configure`: read its settings and return its client, made by
:meth:`HttpConnector.client`. The base keeps what tests inject (``transport``, ``sleep`` and
``clock``, so that retries, backoff and limits run instantly against a fake product), hands
them to the client and to OAuth token renewal, gives the client the integration's shared
limiter and secret settings (see :meth:`HttpClient.for_connector`), and closes it.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from syncview.connectors.base import Connector
from syncview.connectors.http.auth import OAuthTokenAuth, Token
from syncview.connectors.http.client import HttpClient
from syncview.connectors.limits import RateBudget


class HttpConnector(Connector):
    """A connector with one :class:`HttpClient`, ``self.http``, made by :meth:`configure`."""

    #: Headers on every request unless :meth:`client` is given others.
    default_headers: Mapping[str, str] = {"Accept": "application/json"}

    def __init__(
        self,
        integration: str,
        settings: Mapping[str, Any],
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(integration, settings)
        #: what tests inject: where requests go (a fake product in-process), and the time they pass
        self.transport = transport
        self.sleep = sleep
        self.clock = clock
        self.http: HttpClient = self.configure()

    @abstractmethod
    def configure(self) -> HttpClient:
        """Read ``self.settings`` (raising ConfigError for a bad one) and return the client, made
        by :meth:`client`."""

    def client(self, *, auth_hint: str, **options: Any) -> HttpClient:
        """The connector's client: ``options`` (``base_url``, ``auth``, ``headers``, ``endpoint``...)
        as :class:`HttpClient` takes them, with the injected transport and time, the
        integration's limiter and the secret settings. ``auth_hint`` ends authentication
        errors: which settings to check."""
        options.setdefault("headers", dict(self.default_headers))
        return HttpClient.for_connector(self, transport=self.transport, sleep=self.sleep, clock=self.clock,
                                        auth_hint=auth_hint, **options)

    def oauth(self, fetch: Callable[[], Token]) -> OAuthTokenAuth:
        """Bearer auth whose token ``fetch`` gets (usually through ``self.http.fetch_oauth_token``),
        renewed on the injected clock."""
        return OAuthTokenAuth(fetch, clock=self.clock)

    def share_limits(self, budget: RateBudget) -> None:
        """Share the integration's rate with every process and machine on ``budget``'s store
        (see :mod:`syncview.connectors.limits`); the sync engine and the doctor call it."""
        self.http.share_limits(budget)

    def close(self) -> None:
        self.http.close()
