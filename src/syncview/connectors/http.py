"""The HTTP layer every network connector shares, on a synchronous ``httpx.Client``.

Connectors run in worker threads and in the CLI, so this is blocking code. One
:class:`HttpClient` per connector instance gives it, in one place:

- timeouts for each read and a deadline for the whole request, a bound on the size of an
  answer (counted as it is decoded, so a gzip bomb stops at the bound: see ``syncview.bounded``),
  and bounded retries with exponential backoff and jitter on
  connection errors, timeouts and 5xx answers;
- 429 handling that honours ``Retry-After`` (seconds or an HTTP date) up to a bound;
- a thread-safe requests-per-minute limiter (:class:`RateLimiter`);
- auth handlers as ``httpx.Auth`` subclasses (:class:`StaticHeadersAuth`,
  :class:`BasicAuth`, :class:`OAuthTokenAuth`);
- pagination helpers (:func:`follow_links`, :func:`follow_next_urls`,
  :func:`page_numbers`);
- JSON decoding that turns a truncated or wrongly shaped body into a
  :class:`~syncview.errors.ConnectorError` an operator can read;
- error mapping (401/403 to :class:`~syncview.errors.AuthenticationError`, other
  4xx/5xx, network and TLS failures to :class:`~syncview.errors.ConnectorError`);
- redaction: every log line and error message goes through the connector's
  :class:`Redactor`, which knows its secret settings and every credential
  obtained at runtime, and shows them as ``***`` (httpx's own request log lines too).

Tests inject ``transport`` (any ``httpx.BaseTransport``), ``sleep`` and ``clock``
so that retries, backoff and rate limits run instantly and deterministically.
"""

# API stable: HttpClient(integration, kind=, base_url=, auth=, headers=, secrets=, timeout=, rate_limit=, retry=, transport=, sleep=, clock=, auth_hint=, max_response_bytes=, request_deadline=) / HttpClient.for_connector(connector, ...) with .get/.post/.request(check=)/.get_json/.post_json/.decode_json(expect=)/.shape_error/.error_for/.fetch_oauth_token/.log/.redact/.close; Redactor; RateLimiter(per_minute, burst=); RetryPolicy; StaticHeadersAuth, BasicAuth, OAuthTokenAuth(fetch), Token; follow_links, follow_next_urls, page_numbers; parse_retry_after; secret_values

from __future__ import annotations

import base64
import logging
import random as _random
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from syncview import bounded
from syncview.connectors.limits import DEFAULT_LIMITS, Limiter, Limits, shared_limiter
from syncview.errors import AuthenticationError, ConnectorError
from syncview.redaction import MASK, PROCESS, Redactor  # noqa: F401 - MASK and Redactor are part of this API

if TYPE_CHECKING:
    from syncview.connectors.base import Connector, Setting

__all__ = [
    "BasicAuth",
    "HttpClient",
    "OAuthTokenAuth",
    "RateLimiter",
    "Redactor",
    "RetryPolicy",
    "StaticHeadersAuth",
    "Token",
    "follow_links",
    "follow_next_urls",
    "page_numbers",
    "parse_retry_after",
    "secret_values",
]

#: Header names whose values are credentials wherever they appear (compared lower-case).
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "secret", "x-api-key", "api-key", "cookie"})
#: Most characters of a response body quoted in an error message.
_DETAIL_CHARS = 200
#: Seconds one request may take in all, answer included (config key ``request_deadline``): the
#: ``timeout`` bounds each read, and a server sending a byte a second never trips it.
REQUEST_DEADLINE = 120.0
#: Upper bound on pages a helper follows, so a server that always answers "next" cannot loop forever.
MAX_PAGES = 100_000

T = TypeVar("T")


# --------------------------------------------------------------------------- redaction


class _LibraryLogRedaction(logging.Filter):
    """Redacts what libraries under us log (httpx logs every request URL at INFO).

    Their loggers are shared by every connector, so the filter applies the
    redactors of all live clients; clients register themselves on creation.
    """

    def __init__(self) -> None:
        super().__init__()
        self._redactors: weakref.WeakSet[Redactor] = weakref.WeakSet()

    def register(self, redactor: Redactor) -> None:
        self._redactors.add(redactor)

    def filter(self, record: logging.LogRecord) -> bool:
        redactors = list(self._redactors)
        if redactors:
            message = redacted = record.getMessage()
            for redact in redactors:
                redacted = redact(redacted)
            if redacted != message:
                record.msg, record.args = redacted, ()
        return True


_LIBRARY_LOGS = _LibraryLogRedaction()
# httpcore logs connection events only (host, port, method), never URLs, headers or bodies.
logging.getLogger("httpx").addFilter(_LIBRARY_LOGS)


def secret_values(schema: Iterable[Setting], settings: Mapping[str, Any]) -> list[str]:
    """Values of the settings that ``schema`` declares ``secret=True``."""
    return [str(settings[s.name]) for s in schema if s.secret and settings.get(s.name)]


# --------------------------------------------------------------------------- rate limiting


class RateLimiter:
    """Token bucket allowing ``per_minute`` requests per minute, with bursts of ``burst``.

    Thread-safe: a caller reserves its slot under the lock (the bucket may go
    negative, which queues later callers behind it) and sleeps outside the lock,
    so concurrent workers share the budget without serialising on the sleep.
    With the default ``burst=1`` requests are evenly spaced, so any 60-second
    window holds at most ``per_minute + 1`` of them: set ``per_minute`` a little
    under a vendor's hard limit.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.per_minute = per_minute
        self.burst = burst
        self._rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    def acquire(self) -> float:
        """Take one request slot, sleeping until it is due; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            self._tokens -= 1
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a request is retried.

    All methods are retried: connectors only read, and the POSTs they send
    (token requests, Autotask ``/query``) are safe to repeat.
    """

    #: Tries in all, the first included, for any retryable failure (network, 5xx, 429).
    attempts: int = 5
    #: First backoff in seconds; doubles with each retry.
    backoff: float = 0.5
    #: Longest backoff between two tries, in seconds.
    max_backoff: float = 30.0
    #: Longest ``Retry-After`` honoured, in seconds; a longer one fails the request at once
    #: rather than stalling a sync for hours.
    max_retry_after: float = 300.0
    #: Statuses worth another try.
    retry_statuses: frozenset[int] = frozenset({500, 502, 503, 504})

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")

    def delay(self, retry: int, random: Callable[[], float] = _random.random) -> float:
        """Seconds before retry number ``retry`` (1-based): exponential, with jitter.

        The jitter keeps the upper half random ("equal jitter") so that workers
        hitting the same outage spread out, yet each still waits a real minimum.
        """
        ceiling = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return ceiling / 2 + random() * ceiling / 2


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date); None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means "-0000"
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --------------------------------------------------------------------------- auth


class _RedactorAware(httpx.Auth):
    """An auth handler that tells the client's redactor about the credentials it sends."""

    redactor: Redactor | None = None

    def attach(self, redactor: Redactor) -> None:
        """Called by :class:`HttpClient` when the handler is installed."""
        self.redactor = redactor


class StaticHeadersAuth(_RedactorAware):
    """Adds fixed headers (API keys, integration codes) to every request; their values are redacted."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers = dict(headers)

    def attach(self, redactor: Redactor) -> None:
        super().attach(redactor)
        for value in self.headers.values():
            redactor.add(value)

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers.update(self.headers)
        yield request


class BasicAuth(StaticHeadersAuth):
    """HTTP Basic credentials (plus optional extra headers); the password and the encoded header are redacted."""

    def __init__(self, username: str, password: str, extra_headers: Mapping[str, str] | None = None) -> None:
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        super().__init__({**(extra_headers or {}), "Authorization": f"Basic {encoded}"})
        self._password = password

    def attach(self, redactor: Redactor) -> None:
        # Extra headers (a ConnectWise clientId, say) identify rather than authenticate: only
        # the password and the encoded pair are secret, so error messages keep the useful rest.
        _RedactorAware.attach(self, redactor)
        redactor.add(self._password)
        redactor.add(self.headers["Authorization"])
        redactor.add(self.headers["Authorization"].removeprefix("Basic "))


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and how long it lives (None: until the server refuses it)."""

    access_token: str
    expires_in: float | None = None
    token_type: str = "Bearer"


class OAuthTokenAuth(_RedactorAware):
    """Bearer auth with a token fetched lazily, renewed before it expires and once on a 401.

    ``fetch`` gets a new :class:`Token`; it usually calls
    :meth:`HttpClient.fetch_oauth_token` on the same client. Fetching is
    serialised, so threads sharing the client ask for one token, not one each.
    """

    requires_response_body = False

    def __init__(
        self,
        fetch: Callable[[], Token],
        *,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._leeway = leeway  # renew this long before expiry: a request in flight must not carry a dead token
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._expires_at = float("inf")

    def _current(self, *, refused: str | None = None) -> Token:
        """A usable token; ``refused`` names one the server just rejected, so it is replaced."""
        with self._lock:
            token = self._token
            stale = token is None or self._clock() >= self._expires_at
            if stale or (refused is not None and token.access_token == refused):
                token = self._fetch()
                if self.redactor is not None:
                    self.redactor.add(token.access_token)
                self._token = token
                self._expires_at = (
                    float("inf") if token.expires_in is None
                    else self._clock() + max(0.0, token.expires_in - self._leeway)
                )
            return token

    def invalidate(self) -> None:
        """Forget the token, so the next request fetches a new one."""
        with self._lock:
            self._token = None

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        token = self._current()
        request.headers["Authorization"] = f"{token.token_type} {token.access_token}"
        response = yield request
        if response.status_code == 401:
            # The server may revoke a token before its announced expiry: renew once; a second
            # 401 is a real refusal and reaches the client's error mapping.
            token = self._current(refused=token.access_token)
            request.headers["Authorization"] = f"{token.token_type} {token.access_token}"
            yield request


# --------------------------------------------------------------------------- the client


class HttpClient:
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
    endpoint a request counts against where the limit is per endpoint. ``auth_hint`` ends authentication errors, e.g. "check company_id,
    public_key and private_key".
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
        self.integration = integration
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.request_deadline = request_deadline
        self.kind = kind
        self.logger = logging.getLogger(f"syncview.connectors.{kind}")
        self.redactor = Redactor(secrets, parent=PROCESS)  # the process-wide one masks them too
        _LIBRARY_LOGS.register(self.redactor)
        self.retry = retry or RetryPolicy()
        #: the integration's shared limiter (rate and concurrency), else a private pace of ``rate_limit``
        self.limiter: Limiter | RateLimiter | None = limiter or (
            RateLimiter(rate_limit, clock=clock, sleep=sleep) if rate_limit else None)
        self._endpoint = endpoint
        #: requests sent so far, every try counted (progress shows it)
        self.sent = 0
        self._sent_lock = threading.Lock()
        self.auth_hint = auth_hint
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
        the defaults. Requests go through the integration's limiter: the kind's
        :data:`~syncview.connectors.limits.DEFAULT_LIMITS` (else ``default_rate_limit`` a
        minute), overridden by the config's ``rate_limit`` and ``concurrency``; shared by every
        client of the integration in the process, unless the connector was given its own
        ``clock`` or ``sleep`` (tests), which then pace a limiter of its own.
        ``options`` go to the constructor (base_url, auth, transport, sleep...).
        """
        settings = connector.settings
        secrets = [*secret_values(connector.settings_schema, settings), *options.pop("secrets", ())]
        limits = DEFAULT_LIMITS.get(connector.kind) or Limits(
            rate=int(default_rate_limit) if default_rate_limit else None)
        limits = limits.overridden(per_minute=settings.get("rate_limit"), concurrency=settings.get("concurrency"))
        clock, sleep = options.get("clock", time.monotonic), options.get("sleep", time.sleep)
        if clock is time.monotonic and sleep is time.sleep:
            limiter = shared_limiter(connector.integration, limits)
        else:
            limiter = Limiter(limits, clock=clock, sleep=sleep)
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

    def redact(self, text: object) -> str:
        """``text`` with every known secret of this connector masked."""
        return self.redactor(text)

    def log(self, level: int, message: str, *args: object) -> None:
        """Log through the connector's logger, redacted (arguments are formatted first)."""
        if self.logger.isEnabledFor(level):
            self.logger.log(level, "%s", self.redact(message % args if args else message))

    def close(self) -> None:
        self._client.close()

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
                raise self._unbounded_error(request, error) from None
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
            wait = self._retry_wait(response, attempt)
            if wait is None:
                break
            self.log(logging.WARNING, "%s: %s answered %d; retrying in %.1f s (attempt %d of %d)",
                     self.integration, target, response.status_code, wait, attempt + 1, self.retry.attempts)
            self._sleep(wait)
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
        deadline = time.monotonic() + self.request_deadline
        # No single wait (connect, headers) may outlast the deadline either.
        request.extensions["timeout"] = httpx.Timeout(min(self.timeout, self.request_deadline)).as_dict()
        response = self._client.send(request, auth=auth, stream=True)
        try:
            encoding = response.headers.get("Content-Encoding", "").strip().lower()
            if hasattr(response, "_content"):  # a transport that built the answer in memory (tests' mocks)
                chunks: Iterable[bytes] = [response.content]
            elif encoding in bounded.INFLATABLE:  # decoded here, each step bounded (a gzip bomb)
                chunks = bounded.inflate(response.iter_raw(), encoding, limit=self.max_response_bytes)
            else:  # anything else (br, several codings): httpx decodes it, counted chunk by chunk
                chunks = response.iter_bytes()
            body = b"".join(bounded.bounded_chunks(chunks, limit=self.max_response_bytes, deadline=deadline))
        except ValueError as error:
            raise httpx.DecodingError(str(error), request=request) from None
        finally:
            response.close()
        response._content = body  # what Response.read() stores; read here within the bounds
        return response

    def _unbounded_error(self, request: httpx.Request, error: bounded.TooLarge | bounded.TooSlow) -> ConnectorError:
        """The line for an answer refused for its size or its slowness (not retried: it would be again)."""
        target = f"{request.method} {request.url.path or '/'}"
        if isinstance(error, bounded.TooLarge):
            return ConnectorError(self.redact(
                f"{self.integration}: {target} answered more than {bounded.size(error.limit)} "
                "(max_response_bytes), so syncview stopped reading it; lower this integration's page size, "
                "or raise max_response_bytes if the product's pages really are that large"))
        return ConnectorError(self.redact(
            f"{self.integration}: {target} did not finish within {self.request_deadline:g} s "
            "(request_deadline); the server answers too slowly: check the network and any proxy, "
            "or raise request_deadline"))

    def _learn_credentials(self, request: httpx.Request) -> None:
        """Mask whatever credential headers went out, whichever auth handler set them."""
        for name in SENSITIVE_HEADERS:
            value = request.headers.get(name)
            if value:
                self.redactor.add(value)
                self.redactor.add(value.partition(" ")[2])  # "Bearer abc": the bare credential too

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None to stop here (success, final failure, or no retry)."""
        status = response.status_code
        if status == 429:
            asked = parse_retry_after(response.headers.get("Retry-After"))
            if asked is not None and asked > self.retry.max_retry_after:
                raise ConnectorError(self.redact(
                    f"{self.integration}: {self.kind} rate limit reached ({_path(response)} answered 429) and it asks "
                    f"to wait {asked:.0f} s, more than the {self.retry.max_retry_after:.0f} s syncview waits; "
                    "sync again later, or lower this integration's rate_limit"))
            if attempt == self.retry.attempts:
                raise ConnectorError(self.redact(
                    f"{self.integration}: still rate limited after {attempt} attempts ({_path(response)} answered "
                    "429); sync again later, or lower this integration's rate_limit"))
            return asked if asked is not None else self.retry.delay(attempt, self._random)
        if status in self.retry.retry_statuses and attempt < self.retry.attempts:
            return self.retry.delay(attempt, self._random)
        return None

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

    # ----------------------------------------------------------------- bodies and errors

    def decode_json(self, response: httpx.Response, *, expect: type | tuple[type, ...] = (dict, list)) -> Any:
        """The JSON body of ``response``; ConnectorError if it is not JSON or not of the ``expect`` type(s)."""
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            text = response.text.strip()
            if not text:
                problem = "an empty body where JSON was expected"
            else:
                problem = f"a body that is not JSON (truncated or an error page?), starting {_snippet(text, 80)!r}"
            raise self.shape_error(response, problem) from None
        if not isinstance(body, expect):
            wanted = _type_names(expect)
            raise self.shape_error(response, f"JSON {_json_type(body)} where {wanted} was expected")
        return body

    def shape_error(self, response: httpx.Response, problem: str) -> ConnectorError:
        """A ConnectorError for an answer the connector cannot use, naming the request and ``problem``."""
        return ConnectorError(self.redact(
            f"{self.integration}: {response.request.method} {_path(response)} answered {problem}; "
            f"the {self.kind} API may have changed, or a proxy answered instead of it"))

    def error_for(self, response: httpx.Response) -> ConnectorError:
        """The error an operator should see for an unsuccessful ``response`` (status 300 or more)."""
        status, path, method = response.status_code, _path(response), response.request.method
        detail = self._detail(response)
        said = f": {detail}" if detail else ""
        if status in (401, 403):
            hint = f"; {self.auth_hint}" if self.auth_hint else ""
            refusal = "refused the credentials" if status == 401 else "denied access"
            return AuthenticationError(self.redact(
                f"authentication failed for {self.integration}: {method} {path} answered {status} "
                f"({refusal}){said}{hint}"))
        if 300 <= status < 400:
            where = response.headers.get("Location", "elsewhere")
            return ConnectorError(self.redact(
                f"{self.integration}: {method} {path} answered {status}, a redirect to {where}; "
                "point the integration's URL setting at the address it redirects to"))
        if status == 404:
            return ConnectorError(self.redact(
                f"{self.integration}: {method} {path} answered 404 (not found){said}; check the integration's "
                "URL settings, and that this API is enabled for the account"))
        if status == 429:
            return ConnectorError(self.redact(f"{self.integration}: {method} {path} answered 429 (rate limited){said}"))
        if status >= 500:
            return ConnectorError(self.redact(
                f"{self.integration}: {method} {path} answered {status} ({response.reason_phrase or 'server error'})"
                f"{said}; the {self.kind} service is failing, try again later"))
        return ConnectorError(self.redact(
            f"{self.integration}: {method} {path} answered {status} ({response.reason_phrase or 'client error'})"
            f"{said}"))

    def _detail(self, response: httpx.Response) -> str:
        """The server's own words about an error, short and redacted; empty when it gave none worth showing."""
        try:
            response.read()
            body = response.json()
        except (ValueError, UnicodeDecodeError, httpx.StreamError):
            ctype = response.headers.get("Content-Type", "")
            text = response.text.strip() if "html" not in ctype else ""
            return self.redact(_snippet(text, _DETAIL_CHARS)) if text and not text.startswith("<") else ""
        if isinstance(body, dict):
            for key in ("message", "Message", "error_description", "error", "detail", "title"):
                value = body.get(key)
                if isinstance(value, str) and value.strip():
                    return self.redact(_snippet(value.strip(), _DETAIL_CHARS))
            errors = body.get("errors")
            if isinstance(errors, list) and errors:
                return self.redact(_snippet("; ".join(map(str, errors)), _DETAIL_CHARS))
        return ""

    def _network_error(self, request: httpx.Request, error: httpx.TransportError, attempts: int) -> ConnectorError:
        host = request.url.host or str(request.url)
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(error, httpx.UnsupportedProtocol):
            message = (f"{self.integration}: {request.url.scheme or 'no'} scheme in {host}{request.url.path} is "
                       "not supported; the integration's URL setting must start with https://")
        elif _is_untrusted(error):
            message = (f"{self.integration}: the certificate of {host} is not trusted ({_describe(error)}); "
                       "if the server uses a certificate of your own authority, point the SSL_CERT_FILE "
                       "environment variable at that authority's certificate (PEM)")
        elif _is_tls_error(error):
            message = (f"{self.integration}: secure connection to {host} failed{tries} ({_describe(error)}); "
                       "check the host name, the system clock, and any proxy that intercepts TLS")
        elif isinstance(error, httpx.TimeoutException):
            message = (f"{self.integration}: {host} did not answer in time{tries} ({_describe(error)}); "
                       "check the network, or raise this integration's timeout")
        elif isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            message = (f"{self.integration}: the connection to {host} broke off mid-answer{tries} "
                       f"({_describe(error)}); check the network and any proxy, or sync again later")
        elif isinstance(error, httpx.ProxyError):
            message = f"{self.integration}: the proxy refused the connection to {host} ({_describe(error)}); check the proxy settings"
        else:
            message = (f"{self.integration}: cannot connect to {host}{tries} ({_describe(error)}); "
                       "check the host name, the network and any firewall or proxy")
        return ConnectorError(self.redact(message))

    # ----------------------------------------------------------------- OAuth

    def fetch_oauth_token(
        self,
        url: str | httpx.URL,
        *,
        data: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
        auth: httpx.Auth | None = None,
    ) -> Token:
        """POST a token request (form ``data``) and read ``access_token`` / ``expires_in``.

        Its secret fields (client_secret, password, refresh_token) are learnt
        first. A refusal (401/403, or the OAuth 400 answers ``invalid_client`` /
        ``invalid_grant`` / ``unauthorized_client``) raises AuthenticationError;
        the new token is learnt as a secret before anything else sees it.
        """
        for key in ("client_secret", "password", "refresh_token"):
            self.redactor.add(data.get(key))
        # ``auth`` is not attached: token endpoints often take a well-known public client
        # ("public-client:public") whose words must not be masked everywhere. The header it
        # sends is learnt like any credential header.
        response = self.request("POST", url, data=data, params=params, auth=auth, check=False)
        if response.status_code == 400 and self._oauth_refusal(response):
            hint = f"; {self.auth_hint}" if self.auth_hint else ""
            detail = self._detail(response)
            raise AuthenticationError(self.redact(
                f"authentication failed for {self.integration}: {_path(response)} refused the token request"
                f"{f': {detail}' if detail else ''}{hint}"))
        if response.status_code >= 300:
            raise self.error_for(response)
        body = self.decode_json(response, expect=dict)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise self.shape_error(response, "a token answer without an access_token")
        self.redactor.add(token)
        self.redactor.add(body.get("refresh_token"))
        expires_in = body.get("expires_in")
        try:
            lifetime = float(expires_in) if expires_in is not None else None
        except (TypeError, ValueError):
            lifetime = None
        token_type = body.get("token_type")
        # Servers write "bearer" in any case; the header scheme is case-insensitive, keep the usual spelling.
        scheme = "Bearer" if not isinstance(token_type, str) or token_type.lower() == "bearer" else token_type
        return Token(token, lifetime, scheme)

    @staticmethod
    def _oauth_refusal(response: httpx.Response) -> bool:
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError, UnicodeDecodeError):
            return False
        return error in ("invalid_client", "invalid_grant", "unauthorized_client", "unauthorised_client")


# --------------------------------------------------------------------------- pagination


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _next_target(client: HttpClient, current: httpx.URL, link: str, seen: set[str]) -> httpx.URL:
    """Resolve a server-given next-page link, refusing loops and other hosts."""
    target = current.join(link)
    if not _same_origin(target, current):
        # Our credentials ride on every request: never send them to a host the server merely named.
        raise ConnectorError(client.redact(
            f"{client.integration}: {current.path} gave a next-page link to another host ({target.host}); "
            "syncview does not send credentials there"))
    if str(target) in seen:
        raise ConnectorError(client.redact(
            f"{client.integration}: {current.path} gave a next-page link already fetched ({target.path}); "
            "the server's paging loops, so the sync stopped"))
    return target


def follow_links(
    client: HttpClient,
    url: str | httpx.URL,
    *,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    max_pages: int = MAX_PAGES,
) -> Generator[httpx.Response, None, None]:
    """GET ``url`` and every page its ``Link: <...>; rel="next"`` header points to, in order.

    Only the first request carries ``params``: next links hold the full query.
    """
    response = client.get(url, params=params, headers=headers)
    seen = {str(response.request.url)}
    for _ in range(max_pages):
        yield response
        link = response.links.get("next", {}).get("url")
        if not link:
            return
        target = _next_target(client, response.request.url, link, seen)
        seen.add(str(target))
        response = client.get(target, headers=headers)
    raise ConnectorError(f"{client.integration}: more than {max_pages} pages from {_path(response)}; stopped")


def follow_next_urls(
    client: HttpClient,
    method: str,
    url: str | httpx.URL,
    *,
    next_url: Callable[[Any], str | None],
    expect: type | tuple[type, ...] = dict,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    next_method: str = "GET",
    max_pages: int = MAX_PAGES,
) -> Iterator[Any]:
    """Yield decoded JSON pages, following the URL ``next_url(body)`` returns until it gives none.

    For APIs whose body names the next page (Autotask ``pageDetails.nextPageUrl``,
    Datto ``pageDetails.nextPageUrl``). The first request is ``method`` with
    ``params``/``json``; later ones are ``next_method`` on the given URL alone.
    """
    response = client.request(method, url, params=params, json=json, headers=headers)
    seen = {str(response.request.url)}
    for _ in range(max_pages):
        body = client.decode_json(response, expect=expect)
        yield body
        link = next_url(body)
        if not link:
            return
        target = _next_target(client, response.request.url, link, seen)
        seen.add(str(target))
        response = client.request(next_method, target, headers=headers)
    raise ConnectorError(f"{client.integration}: more than {max_pages} pages from {_path(response)}; stopped")


def page_numbers(
    fetch: Callable[[int], T],
    *,
    is_last: Callable[[T, int], bool],
    first: int = 1,
    max_pages: int = MAX_PAGES,
) -> Iterator[T]:
    """Yield ``fetch(n)`` for n = first, first+1, ... until ``is_last(page, n)`` says so.

    ``is_last`` typically checks an empty or short page, or a reported total reached.
    """
    for number in range(first, first + max_pages):
        page = fetch(number)
        yield page
        if is_last(page, number):
            return
    raise ConnectorError(f"more than {max_pages} pages; the server never signalled the last one, so the sync stopped")


# --------------------------------------------------------------------------- small helpers


def _path(response: httpx.Response) -> str:
    """The request's path only: queries can be long, and a path is what an operator can check."""
    return response.request.url.path or "/"


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _is_untrusted(error: BaseException) -> bool:
    """Whether a TLS failure is the server's certificate failing verification (not a network fault)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_tls_error(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "SSL" in str(seen) or "CERTIFICATE" in str(seen).upper():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _snippet(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def _type_names(expect: type | tuple[type, ...]) -> str:
    types = expect if isinstance(expect, tuple) else (expect,)
    names = {dict: "an object", list: "an array", str: "a string"}
    return " or ".join(names.get(t, t.__name__) for t in types)
