"""The HTTP layer every network connector shares, on a synchronous ``httpx.Client``.

Connectors run in worker threads and in the CLI, so this is blocking code. A connector
subclasses :class:`HttpConnector` (the shared constructor: what tests inject, the client,
closing it) and talks through its one :class:`HttpClient`, which gives it, one concern a module:

- :mod:`.reading`: timeouts for each read and a deadline for the whole request, and a bound
  on the size of an answer (counted as it is decoded, so a gzip bomb stops at the bound);
- :mod:`.retry`: bounded retries with exponential backoff and jitter on connection errors,
  timeouts and 5xx answers; 429 handling that honours ``Retry-After`` (seconds or an HTTP
  date) up to a bound; a private requests-per-minute pace (:class:`RateLimiter`) for a client
  without the integration's shared limiter (:mod:`syncview.connectors.limits`);
- :mod:`.auth`: auth handlers as ``httpx.Auth`` subclasses (:class:`StaticHeadersAuth`,
  :class:`BasicAuth`, :class:`OAuthTokenAuth`) and the OAuth token request;
- :mod:`.paging`: :func:`follow_links`, :func:`follow_next_urls`, :func:`page_numbers`;
- :mod:`.errors`: JSON decoding that turns a truncated or wrongly shaped body into a
  :class:`~syncview.errors.ConnectorError` an operator can read; error mapping (401/403 to
  :class:`~syncview.errors.AuthenticationError`, other 4xx/5xx, network and TLS failures to
  ConnectorError); redaction: every log line and error message goes through the connector's
  :class:`Redactor`, which knows its secret settings and every credential obtained at
  runtime, and shows them as ``***`` (httpx's own request log lines too);
- :mod:`.client`: :class:`HttpClient`, which ties them together for each request.

Each module says why it is ours rather than a library's where a well-kept one does the same
(tenacity or stamina for retries, authlib for OAuth). Tests inject ``transport`` (any
``httpx.BaseTransport``), ``sleep`` and ``clock`` so that retries, backoff and rate limits run
instantly and deterministically. docs/connectors.md is the guide for a plugin's author.
"""

# API stable: HttpConnector(integration, settings, transport=, sleep=, clock=) with .configure()/.client(auth_hint=, ...)/.oauth(fetch)/.share_limits(budget)/.http; HttpClient(integration, kind=, base_url=, auth=, headers=, secrets=, timeout=, rate_limit=, retry=, transport=, sleep=, clock=, auth_hint=, max_response_bytes=, request_deadline=) / HttpClient.for_connector(connector, ...) with .share_limits(budget)/.get/.post/.request(check=)/.get_json/.post_json/.decode_json(expect=)/.shape_error/.error_for/.fetch_oauth_token/.log/.redact/.close; Redactor; RateLimiter(per_minute, burst=); RetryPolicy; StaticHeadersAuth, BasicAuth, OAuthTokenAuth(fetch), Token; follow_links, follow_next_urls, page_numbers; parse_retry_after; secret_values

from syncview.connectors.http.auth import BasicAuth, OAuthTokenAuth, StaticHeadersAuth, Token
from syncview.connectors.http.client import HttpClient
from syncview.connectors.http.connector import HttpConnector
from syncview.connectors.http.errors import SENSITIVE_HEADERS, secret_values
from syncview.connectors.http.paging import MAX_PAGES, follow_links, follow_next_urls, page_numbers
from syncview.connectors.http.reading import REQUEST_DEADLINE
from syncview.connectors.http.retry import RateLimiter, RetryPolicy, parse_retry_after
from syncview.redaction import MASK, Redactor

__all__ = [
    "MASK",
    "MAX_PAGES",
    "REQUEST_DEADLINE",
    "SENSITIVE_HEADERS",
    "BasicAuth",
    "HttpClient",
    "HttpConnector",
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
