"""Auth handlers (``httpx.Auth``) that tell the client's redactor what they send, and the OAuth
token request the Datto RMM and HaloPSA connectors make.

- :class:`StaticHeadersAuth`: fixed credential headers (Autotask's integration code and secret);
- :class:`BasicAuth`: HTTP Basic, plus identifying headers left readable (ConnectWise's clientId);
- :class:`OAuthTokenAuth`: a bearer token fetched lazily, renewed before it expires and once
  on a 401, one fetch for all the threads that share the client;
- :func:`fetch_oauth_token`: the token request itself (password or client-credentials grant).

Why not authlib's httpx ``OAuth2Client``: it is well kept and does both grants with refresh,
but it is an ``httpx.Client`` of its own, and the token request must go through *this*
client: through the integration's shared limiter (a token request made from inside a request
that holds a concurrency slot must not wait for a second one, see ``limits.Limiter``), its
retries, bounded reads and deadline, and its redactor, which must learn the token before any
log line or error can show it, while Datto's public client pair (``public-client:public``)
must not be masked everywhere. An OAuth refusal (``invalid_client``, ``invalid_grant``) must
also become the operator's "check client_id and client_secret" line. What would be left for
authlib is reading ``access_token`` and ``expires_in`` from a JSON body, for a dependency that
brings ``cryptography`` with it.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from syncview.connectors.http.errors import _path
from syncview.errors import AuthenticationError
from syncview.redaction import Redactor

if TYPE_CHECKING:
    from syncview.connectors.http.client import HttpClient

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

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
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
        #: a token fetched to replace a refused one, until the server accepts it: if it is refused
        #: too, the server refuses this client's tokens, and renewing again would only repeat that
        self._unproven: str | None = None

    def _current(self, *, refused: str | None = None) -> Token | None:
        """A usable token; ``refused`` names one the server just rejected, so it is replaced
        (None when that one was itself a replacement: the refusal is final)."""
        with self._lock:
            token = self._token
            if refused is not None and refused == self._unproven:
                return None
            if token is None or self._clock() >= self._expires_at or token.access_token == refused:
                token = self._fetch()
                if self.redactor is not None:
                    self.redactor.add(token.access_token)
                self._token = token
                self._expires_at = (
                    float("inf") if token.expires_in is None
                    else self._clock() + max(0.0, token.expires_in - self._leeway)
                )
                if refused is not None:
                    self._unproven = token.access_token
            return token

    def ensure(self) -> None:
        """Fetch a token now if there is none: before several threads ask at once, so that refused
        credentials are one token request (and one error), not one per thread."""
        self._token_for_request()

    def _token_for_request(self) -> Token:
        token = self._current()
        assert token is not None  # only a refusal can end without one
        return token

    def invalidate(self) -> None:
        """Forget the token, so the next request fetches a new one."""
        with self._lock:
            self._token = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._token_for_request()
        request.headers["Authorization"] = f"{token.token_type} {token.access_token}"
        response = yield request
        if response.status_code != 401:
            self._accepted(token)
            return
        # The server may revoke a token before its announced expiry: renew once; a second 401 is
        # a real refusal and reaches the client's error mapping. Requests in flight at once that
        # are refused share one renewal, and none renews a replacement that was refused too.
        renewed = self._current(refused=token.access_token)
        if renewed is None:
            return
        request.headers["Authorization"] = f"{renewed.token_type} {renewed.access_token}"
        response = yield request
        if response.status_code != 401:
            self._accepted(renewed)

    def _accepted(self, token: Token) -> None:
        if token.access_token == self._unproven:
            with self._lock:
                self._unproven = None



def fetch_oauth_token(
    client: HttpClient,
    url: str | httpx.URL,
    *,
    data: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    auth: httpx.Auth | None = None,
) -> Token:
    """POST a token request (form ``data``) through ``client`` and read ``access_token`` / ``expires_in``.

    Its secret fields (client_secret, password, refresh_token) are learnt
    first. A refusal (401/403, or the OAuth 400 answers ``invalid_client`` /
    ``invalid_grant`` / ``unauthorized_client``) raises AuthenticationError;
    the new token is learnt as a secret before anything else sees it.
    """
    for key in ("client_secret", "password", "refresh_token"):
        client.redactor.add(data.get(key))
    # ``auth`` is not attached: token endpoints often take a well-known public client
    # ("public-client:public") whose words must not be masked everywhere. The header it
    # sends is learnt like any credential header.
    response = client.request("POST", url, data=data, params=params, auth=auth, check=False)
    if response.status_code == 400 and _oauth_refusal(response):
        hint = f"; {client.auth_hint}" if client.auth_hint else ""
        detail = client.detail(response)
        raise AuthenticationError(client.redact(
            f"authentication failed for {client.integration}: {_path(response)} refused the token request"
            f"{f': {detail}' if detail else ''}{hint}"))
    if response.status_code >= 300:
        raise client.error_for(response)
    body = client.decode_json(response, expect=dict)
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise client.shape_error(response, "a token answer without an access_token")
    client.redactor.add(token)
    client.redactor.add(body.get("refresh_token"))
    expires_in = body.get("expires_in")
    try:
        lifetime = float(expires_in) if expires_in is not None else None
    except (TypeError, ValueError):
        lifetime = None
    token_type = body.get("token_type")
    # Servers write "bearer" in any case; the header scheme is case-insensitive, keep the usual spelling.
    scheme = "Bearer" if not isinstance(token_type, str) or token_type.lower() == "bearer" else token_type
    return Token(token, lifetime, scheme)


def _oauth_refusal(response: httpx.Response) -> bool:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return False
    return error in ("invalid_client", "invalid_grant", "unauthorized_client", "unauthorised_client")
