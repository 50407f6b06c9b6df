"""The client every network connector talks through: one :class:`HttpClient` per connector.

It ties the concerns of this package together for each request: the integration's limiter
(rate and requests in flight), a bounded read (:mod:`.reading`), retries (:mod:`.retry`),
auth handlers that teach the redactor what they send (:mod:`.auth`), and the error lines an
operator reads, redacted (:mod:`.errors`).
"""

from __future__ import annotations

import logging
import random as _random
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import httpx

from syncview import bounded
from syncview.connectors.http.auth import Token, _RedactorAware, fetch_oauth_token
from syncview.connectors.http.errors import (
    _LIBRARY_LOGS,
    SENSITIVE_HEADERS,
    ErrorWording,
    _describe,
    _is_untrusted,
    secret_values,
)
from syncview.connectors.http.reading import REQUEST_DEADLINE, read_within
from syncview.connectors.http.retry import RateLimiter, RetryPolicy, retry_wait
from syncview.connectors.limits import DEFAULT_LIMITS, Limiter, Limits, RateBudget, shared_limiter
from syncview.errors import SyncviewError
from syncview.redaction import PROCESS, Redactor

if TYPE_CHECKING:
    from syncview.connectors.base import Connector


class HttpClient(ErrorWording):
    """A connector's HTTP session: retries, rate limit, auth, error mapping and redaction.

    ``integration`` is the operator's name for the integration (it starts every
    error message); ``kind`` names the logger ``syncview.connectors.<kind>``.
    ``secrets`` are values to mask from the start (the connector's secret
    settings); credentials the ``auth`` handler sends are learnt as they appear.
    ``headers`` go on every request and are not treated as secret: send
    credential headers through :class:`StaticHeadersAuth` instead.
    ``rate_limit`` is in requests per minute (None: unlimited; a 429 is still
    honoured); ``limiter`` instead shares an integration's rate and concurrency limits with
    every client of it (see :mod:`syncview.connectors.limits`), ``endpoint`` naming the
    endpoint a request counts against where the limit is per endpoint. ``auth_hint`` ends
    authentication errors, e.g. "check company_id, public_key and private_key".
    """

    def __init__(
        self,
        integration: str,
        *,
        kind: str,
        base_url: str | httpx.URL = "",
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str | None] = (),
        timeout: float = 30.0,
        rate_limit: float | None = None,
        limiter: Limiter | None = None,
        endpoint: Callable[[httpx.Request], str] | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        auth_hint: str = "",
        verify: bool | str | ssl.SSLContext = True,
        max_response_bytes: int = bounded.MAX_RESPONSE_BYTES,
        request_deadline: float = REQUEST_DEADLINE,
    ) -> None:
        # The process-wide redactor masks this one's secrets too.
        super().__init__(integration, kind, Redactor(secrets, parent=PROCESS), auth_hint)
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.request_deadline = request_deadline
        self.logger = logging.getLogger(f"syncview.connectors.{kind}")
        _LIBRARY_LOGS.register(self.redactor)
        self.retry = retry or RetryPolicy()
        #: the integration's shared limiter (rate and concurrency), else a private pace of ``rate_limit``
        self.limiter: Limiter | RateLimiter | None = limiter or (
            RateLimiter(rate_limit, clock=clock, sleep=sleep) if rate_limit else None)
        self._endpoint = endpoint
        #: requests sent so far, every try counted (progress shows it)
        self.sent = 0
        self._sent_lock = threading.Lock()
        self._sleep = sleep
        self._random = random
        if isinstance(auth, _RedactorAware):
            auth.attach(self.redactor)
        self._client = httpx.Client(
            base_url=base_url,
            auth=auth,
            headers=headers,
            timeout=timeout,
            transport=transport,
            verify=verify,
            follow_redirects=False,  # a redirect elsewhere would carry custom credential headers with it
        )

    @classmethod
    def for_connector(
        cls,
        connector: Connector,
        *,
        default_rate_limit: float | None = None,
        default_timeout: float = 30.0,
        **options: Any,
    ) -> HttpClient:
        """A client for ``connector``: its integration name, kind and secret settings.

        ``timeout``, ``max_response_bytes`` and ``request_deadline`` are taken from the
        connector's settings when present (the config's generic keys of the same names), else
        the defaults. Requests go through the limiter of the account the product counts them
        against (:meth:`Connector.rate_account`): the kind's
        :data:`~syncview.connectors.limits.DEFAULT_LIMITS` (else ``default_rate_limit`` a
        minute), overridden by the config's ``rate_limit`` and ``concurrency``; shared by every
        client of that account in the process, unless the connector was given its own
        ``clock`` or ``sleep`` (tests), which then pace a limiter of its own. Its rate is the
        process's own until :meth:`share_limits` shares it through a budget (the store's).
        ``options`` go to the constructor (base_url, auth, transport, sleep...).
        """
        settings = connector.settings
        secrets = [*secret_values(connector.settings_schema, settings), *options.pop("secrets", ())]
        limits = DEFAULT_LIMITS.get(connector.kind) or Limits(
            rate=int(default_rate_limit) if default_rate_limit else None)
        limits = limits.overridden(per_minute=settings.get("rate_limit"), concurrency=settings.get("concurrency"))
        clock, sleep = options.get("clock", time.monotonic), options.get("sleep", time.sleep)
        account = connector.rate_account()
        if clock is time.monotonic and sleep is time.sleep:
            limiter = shared_limiter(account, limits)
        else:
            limiter = Limiter(limits, clock=clock, sleep=sleep, account=account)
        return cls(
            connector.integration,
            kind=connector.kind,
            secrets=secrets,
            timeout=float(settings.get("timeout") or default_timeout),
            limiter=limiter,
            max_response_bytes=int(settings.get("max_response_bytes") or bounded.MAX_RESPONSE_BYTES),
            request_deadline=float(settings.get("request_deadline") or REQUEST_DEADLINE),
            **options,
        )

    def share_limits(self, budget: RateBudget) -> None:
        """Lease this integration's rate from ``budget`` (the store's), shared with every
        process and machine on it, instead of keeping a budget of this process's own."""
        if isinstance(self.limiter, Limiter):
            self.limiter = self.limiter.shared_through(budget, deadline=self.request_deadline)

    @property
    def limits(self) -> Limits:
        """The limits this client's requests go by (none when it has no shared limiter)."""
        return self.limiter.limits if isinstance(self.limiter, Limiter) else Limits()

    # ----------------------------------------------------------------- plumbing

    @property
    def base_url(self) -> httpx.URL:
        return self._client.base_url

    @base_url.setter
    def base_url(self, value: str | httpx.URL) -> None:
        """Point at another root, e.g. once a codebase or zone is discovered."""
        self._client.base_url = value

    def log(self, level: int, message: str, *args: object) -> None:
        """Log through the connector's logger, redacted (arguments are formatted first)."""
        if self.logger.isEnabledFor(level):
            self.logger.log(level, "%s", self.redact(message % args if args else message))

    def close(self) -> None:
        self._client.close()
        if isinstance(self.limiter, Limiter):
            try:
                self.limiter.release()  # unused leased slots back to the store now, not when they expire
            except SyncviewError as error:
                self.log(logging.WARNING, "%s: %s (its leases free themselves in time)", self.integration, error)

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- requests

    def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = httpx.USE_CLIENT_DEFAULT,  # an httpx.Auth, None for no credentials, or the client's
        check: bool = True,
    ) -> httpx.Response:
        """Send a request with rate limiting and retries; return the response.

        With ``check`` (the default) any status of 300 or more raises the mapped
        error; without it, only network failures and exhausted retries raise and
        the caller reads the status itself (see :meth:`error_for`). ``auth=None``
        sends no credentials (for public endpoints such as a codebase lookup).
        """
        request = self._client.build_request(method, url, params=params, json=json, data=data, headers=headers)
        target = f"{method} {request.url}"
        for attempt in range(1, self.retry.attempts + 1):
            started = time.perf_counter()
            try:
                with self._slot(request):
                    response = self._send(request, auth)
            except (bounded.TooLarge, bounded.TooSlow) as error:
                raise self._unbounded_error(request, error, self.request_deadline) from None
            except httpx.TransportError as error:
                # Another try cannot fix a bad scheme, a proxy's refusal or a certificate nobody trusts.
                final = isinstance(error, httpx.UnsupportedProtocol | httpx.ProxyError) or _is_untrusted(error)
                if final or attempt == self.retry.attempts:
                    raise self._network_error(request, error, attempt) from error
                wait = self.retry.delay(attempt, self._random)
                self.log(logging.WARNING, "%s: %s failed (%s); retrying in %.1f s (attempt %d of %d)",
                         self.integration, target, _describe(error), wait, attempt + 1, self.retry.attempts)
                self._sleep(wait)
                continue
            elapsed = time.perf_counter() - started
            self._learn_credentials(response.request)
            self.log(logging.DEBUG, "%s -> %d (%.2f s)", target, response.status_code, elapsed)
            again = self._retry_wait(response, attempt)
            if again is None:
                break
            self.log(logging.WARNING, "%s: %s answered %d; retrying in %.1f s (attempt %d of %d)",
                     self.integration, target, response.status_code, again, attempt + 1, self.retry.attempts)
            self._sleep(again)
        if check and response.status_code >= 300:
            raise self.error_for(response)
        return response

    def _slot(self, request: httpx.Request) -> AbstractContextManager[Any]:
        """The limiter's slot for one try of ``request`` (held while it is in flight)."""
        with self._sent_lock:
            self.sent += 1
        if isinstance(self.limiter, Limiter):
            return self.limiter.slot(self._endpoint(request) if self._endpoint else "")
        if self.limiter is not None:
            self.limiter.acquire()
        return nullcontext()

    def _send(self, request: httpx.Request, auth: Any) -> httpx.Response:
        """Send ``request`` and read its answer within :attr:`max_response_bytes` (decoded) and
        :attr:`request_deadline` seconds; TooLarge or TooSlow otherwise, the connection closed."""
        return read_within(self._client, request, auth, timeout=self.timeout, deadline=self.request_deadline,
                           limit=self.max_response_bytes)

    def _learn_credentials(self, request: httpx.Request) -> None:
        """Mask whatever credential headers went out, whichever auth handler set them."""
        for name in SENSITIVE_HEADERS:
            value = request.headers.get(name)
            if value:
                self.redactor.add(value)
                self.redactor.add(value.partition(" ")[2])  # "Bearer abc": the bare credential too

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None to stop here (success, final failure, or no retry)."""
        return retry_wait(self.retry, response, attempt, random=self._random, wording=self)

    def get(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def get_json(self, url: str | httpx.URL, *, expect: type | tuple[type, ...] = (dict, list), **kwargs: Any) -> Any:
        """GET and decode a JSON body of the ``expect`` type(s)."""
        return self.decode_json(self.request("GET", url, **kwargs), expect=expect)

    def post_json(self, url: str | httpx.URL, *, expect: type | tuple[type, ...] = (dict, list), **kwargs: Any) -> Any:
        """POST and decode a JSON body of the ``expect`` type(s)."""
        return self.decode_json(self.request("POST", url, **kwargs), expect=expect)


    # ----------------------------------------------------------------- OAuth

    def fetch_oauth_token(
        self,
        url: str | httpx.URL,
        *,
        data: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
        auth: httpx.Auth | None = None,
    ) -> Token:
        """POST a token request through this client (see :func:`.auth.fetch_oauth_token`)."""
        return fetch_oauth_token(self, url, data=data, params=params, auth=auth)
