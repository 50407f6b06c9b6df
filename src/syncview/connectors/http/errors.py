"""What an operator reads when a request goes wrong, and what nobody may read: errors and redaction.

:class:`ErrorWording` turns an unsuccessful answer, a network failure, an answer of the wrong
shape or one refused for its size or slowness into one :class:`~syncview.errors.ConnectorError`
line that names the integration, the request and what to do; every such line, and every log
line, goes through the client's :class:`~syncview.redaction.Redactor` first, so that settings
declared secret and every credential learnt at runtime show as ``***``. httpx's own request
log lines are redacted too (:data:`_LIBRARY_LOGS`).
"""

from __future__ import annotations

import logging
import ssl
import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from syncview import bounded
from syncview.errors import AuthenticationError, ConnectorError
from syncview.redaction import Redactor

if TYPE_CHECKING:
    from syncview.connectors.base import Setting

#: Header names whose values are credentials wherever they appear (compared lower-case).
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "secret", "x-api-key", "api-key", "cookie"})
#: Most characters of a response body quoted in an error message.
_DETAIL_CHARS = 200


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



class ErrorWording:
    """The error lines of one integration's client: its name starts them, ``kind`` names the
    product, ``auth_hint`` ends authentication errors (e.g. "check company_id, public_key and
    private_key"), and ``redactor`` masks every secret in them."""

    def __init__(self, integration: str, kind: str, redactor: Redactor, auth_hint: str = "") -> None:
        self.integration = integration
        self.kind = kind
        self.redactor = redactor
        self.auth_hint = auth_hint

    def redact(self, text: object) -> str:
        """``text`` with every known secret of this connector masked."""
        return self.redactor(text)

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
        detail = self.detail(response)
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

    def detail(self, response: httpx.Response) -> str:
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

    def _unbounded_error(self, request: httpx.Request, error: bounded.TooLarge | bounded.TooSlow,
                         deadline: float) -> ConnectorError:
        """The line for an answer refused for its size or its slowness (not retried: it would be again)."""
        target = f"{request.method} {request.url.path or '/'}"
        if isinstance(error, bounded.TooLarge):
            return ConnectorError(self.redact(
                f"{self.integration}: {target} answered more than {bounded.size(error.limit)} "
                "(max_response_bytes), so syncview stopped reading it; lower this integration's page size, "
                "or raise max_response_bytes if the product's pages really are that large"))
        return ConnectorError(self.redact(
            f"{self.integration}: {target} did not finish within {deadline:g} s "
            "(request_deadline); the server answers too slowly: check the network and any proxy, "
            "or raise request_deadline"))


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
    names: dict[type, str] = {dict: "an object", list: "an array", str: "a string"}
    return " or ".join(names.get(t, t.__name__) for t in types)
