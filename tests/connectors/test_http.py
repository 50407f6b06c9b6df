"""The shared HTTP layer: retries, 429, rate limit, auth, paging, JSON, error mapping, redaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from syncview.connectors.http import (
    BasicAuth,
    HttpClient,
    OAuthTokenAuth,
    RateLimiter,
    Redactor,
    RetryPolicy,
    StaticHeadersAuth,
    Token,
    follow_links,
    follow_next_urls,
    page_numbers,
    parse_retry_after,
)
from syncview.errors import AuthenticationError, ConnectorError

SECRET = "hunter2-TOP-secret"
BASE = "https://api.example.test/v1/"


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def scripted(*answers: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]):
    """A MockTransport answering with ``answers`` in turn (the last one repeats), recording requests."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers[min(len(seen), len(answers) - 1)]
        seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    return httpx.MockTransport(handler), seen


def make_client(transport: httpx.BaseTransport, clock: FakeClock | None = None, **options) -> HttpClient:
    clock = clock or FakeClock()
    options.setdefault("secrets", [SECRET])
    return HttpClient("Acme PSA", kind="testkind", base_url=BASE, transport=transport,
                      sleep=clock.sleep, clock=clock, random=lambda: 0.5, **options)


def no_secret_in(text: str, *secrets: str) -> None:
    for secret in (SECRET, *secrets):
        assert secret not in text


# --------------------------------------------------------------------------- redaction


def test_redactor_masks_every_known_secret_and_its_encoded_forms():
    redact = Redactor(["p@ss word", None, ""])
    redact.add("tok-123")
    text = "user=p%40ss%20word form=p%40ss+word raw=p@ss word bearer tok-123"
    assert redact(text) == "user=*** form=*** raw=*** bearer ***"
    assert redact("nothing to hide") == "nothing to hide"


def test_redactor_masks_the_longest_secret_whole():
    redact = Redactor(["abc", "abcdef"])
    assert redact("xabcdefx") == "x***x"


def test_redactor_without_secrets_returns_text_unchanged():
    assert Redactor()("plain 123") == "plain 123"


# --------------------------------------------------------------------------- Retry-After and backoff


def test_parse_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("  ") is None


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    policy = RetryPolicy(backoff=1.0, max_backoff=8.0)
    assert [policy.delay(n, lambda: 0.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [policy.delay(n, lambda: 1.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 8.0]


# --------------------------------------------------------------------------- rate limiter


def test_rate_limiter_spaces_requests_on_a_fake_clock():
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock, sleep=clock.sleep)  # one a second
    waits = [limiter.acquire() for _ in range(4)]
    assert waits == [0.0, 1.0, 1.0, 1.0]
    clock.now += 10  # idle time refills only up to the burst size
    assert [limiter.acquire() for _ in range(2)] == [0.0, 1.0]


def test_rate_limiter_allows_a_burst_then_paces():
    clock = FakeClock()
    limiter = RateLimiter(120, burst=3, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire() for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 0.5]


def test_rate_limiter_queues_concurrent_threads_without_double_booking():
    clock = FakeClock()
    waits: list[float] = []
    lock = threading.Lock()
    limiter = RateLimiter(60, clock=clock, sleep=lambda s: None)  # frozen clock: each thread reserves a later slot

    def worker() -> None:
        wait = limiter.acquire()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == [float(n) for n in range(8)]


def test_client_rate_limit_paces_requests():
    transport, seen = scripted(httpx.Response(200, json={}))
    clock = FakeClock()
    client = make_client(transport, clock, rate_limit=30)  # one every 2 s
    for _ in range(3):
        client.get("x")
    assert clock.sleeps == [2.0, 2.0]
    assert len(seen) == 3


def test_invalid_rate_limits_are_refused():
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(10, burst=0)


# --------------------------------------------------------------------------- retries


def test_5xx_is_retried_with_backoff_then_succeeds():
    transport, seen = scripted(httpx.Response(500), httpx.Response(503), httpx.Response(200, json={"ok": 1}))
    clock = FakeClock()
    client = make_client(transport, clock, retry=RetryPolicy(backoff=1.0))
    assert client.get_json("things") == {"ok": 1}
    assert len(seen) == 3
    assert clock.sleeps == [0.75, 1.5]  # equal jitter at random() = 0.5


def test_5xx_that_persists_fails_after_bounded_attempts():
    transport, seen = scripted(httpx.Response(502, json={"message": "upstream down"}))
    client = make_client(transport, retry=RetryPolicy(attempts=3))
    with pytest.raises(ConnectorError) as failure:
        client.get("things")
    assert len(seen) == 3
    message = str(failure.value)
    assert "Acme PSA" in message and "/v1/things" in message and "502" in message and "upstream down" in message
    assert not isinstance(failure.value, AuthenticationError)


def test_connection_errors_are_retried_then_reported_with_host_and_advice():
    transport, seen = scripted(httpx.ConnectError("Name or service not known"))
    clock = FakeClock()
    client = make_client(transport, clock, retry=RetryPolicy(attempts=4))
    with pytest.raises(ConnectorError) as failure:
        client.get("things")
    assert len(seen) == 4 and len(clock.sleeps) == 3
    message = str(failure.value)
    assert "cannot connect to api.example.test" in message and "after 4 attempts" in message
    assert "check the host name" in message


def test_a_connection_error_then_success_is_transparent():
    transport, seen = scripted(httpx.ReadError("connection reset"), httpx.Response(200, json=[1, 2]))
    assert make_client(transport).get_json("x", expect=list) == [1, 2]
    assert len(seen) == 2


def test_timeouts_are_reported_as_such():
    transport, _ = scripted(httpx.ReadTimeout("timed out"))
    with pytest.raises(ConnectorError, match="did not answer in time.*raise this integration's timeout"):
        make_client(transport, retry=RetryPolicy(attempts=2)).get("x")


def test_tls_failures_name_the_host_and_what_to_check():
    transport, _ = scripted(httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number"))
    with pytest.raises(ConnectorError) as failure:
        make_client(transport, retry=RetryPolicy(attempts=1)).get("x")
    assert "secure connection to api.example.test failed" in str(failure.value)
    assert "system clock" in str(failure.value)


def test_an_answer_cut_off_mid_body_is_not_called_a_failure_to_connect():
    transport, seen = scripted(*[httpx.RemoteProtocolError("peer closed connection without sending complete "
                                                           "message body (received 28 bytes, expected 1000)")] * 2)
    with pytest.raises(ConnectorError) as failure:
        make_client(transport, retry=RetryPolicy(attempts=2, backoff=0)).get("x")
    assert len(seen) == 2
    assert "the connection to api.example.test broke off mid-answer after 2 attempts" in str(failure.value)
    assert "cannot connect" not in str(failure.value)


def test_an_untrusted_certificate_is_not_retried_and_says_how_to_trust_it():
    transport, seen = scripted(httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"))
    with pytest.raises(ConnectorError) as failure:
        make_client(transport, retry=RetryPolicy(attempts=5)).get("x")
    assert len(seen) == 1
    assert "the certificate of api.example.test is not trusted" in str(failure.value)
    assert "SSL_CERT_FILE" in str(failure.value)


def test_429_waits_as_long_as_retry_after_says_in_seconds():
    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={}))
    clock = FakeClock()
    make_client(transport, clock).get("x")
    assert clock.sleeps == [7.0] and len(seen) == 2


def test_429_retry_after_as_an_http_date():
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    transport, _ = scripted(httpx.Response(429, headers={"Retry-After": when}), httpx.Response(200, json={}))
    clock = FakeClock()
    make_client(transport, clock).get("x")
    assert len(clock.sleeps) == 1 and 27 <= clock.sleeps[0] <= 30


def test_429_without_retry_after_backs_off():
    transport, _ = scripted(httpx.Response(429), httpx.Response(200, json={}))
    clock = FakeClock()
    make_client(transport, clock, retry=RetryPolicy(backoff=2.0)).get("x")
    assert clock.sleeps == [1.5]


def test_429_asking_too_long_a_wait_fails_at_once():
    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "7200"}))
    clock = FakeClock()
    with pytest.raises(ConnectorError, match="asks to wait 7200 s"):
        make_client(transport, clock, retry=RetryPolicy(max_retry_after=600)).get("x")
    assert clock.sleeps == [] and len(seen) == 1


def test_429_that_persists_is_bounded():
    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(ConnectorError, match="still rate limited after 3 attempts"):
        make_client(transport, retry=RetryPolicy(attempts=3)).get("x")
    assert len(seen) == 3


# --------------------------------------------------------------------------- error mapping


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_authentication_errors_without_the_secret(status):
    # A careless server echoing the credential back must not get it onto the operator's screen.
    transport, _ = scripted(httpx.Response(status, json={"message": f"bad key {SECRET}"}))
    client = make_client(transport, auth_hint="check api_key")
    with pytest.raises(AuthenticationError) as failure:
        client.get("things")
    message = str(failure.value)
    assert message.startswith("authentication failed for Acme PSA: GET /v1/things answered")
    assert "bad key ***" in message and message.endswith("check api_key")
    no_secret_in(message)


def test_404_names_the_path_and_status():
    transport, _ = scripted(httpx.Response(404, text="<html>nope</html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(ConnectorError) as failure:
        make_client(transport).get("company/nothing", params={"q": "1"})
    message = str(failure.value)
    assert "GET /v1/company/nothing answered 404" in message and "<html>" not in message


def test_other_4xx_quote_the_servers_words():
    transport, _ = scripted(httpx.Response(400, json={"code": "InvalidObject", "message": "conditions invalid"}))
    with pytest.raises(ConnectorError, match=r"answered 400 \(Bad Request\): conditions invalid"):
        make_client(transport).get("x")


def test_redirects_are_not_followed_but_explained():
    transport, seen = scripted(httpx.Response(301, headers={"Location": "https://elsewhere.test/v1/x"}))
    with pytest.raises(ConnectorError, match="redirect to https://elsewhere.test/v1/x"):
        make_client(transport).get("x")
    assert len(seen) == 1


def test_check_false_returns_the_response_for_the_caller_to_judge():
    transport, _ = scripted(httpx.Response(404))
    client = make_client(transport)
    response = client.get("x", check=False)
    assert response.status_code == 404
    assert "answered 404" in str(client.error_for(response))


# --------------------------------------------------------------------------- JSON


def test_truncated_json_is_a_clear_connector_error():
    transport, _ = scripted(httpx.Response(200, text='[{"id": 1, "na'))
    with pytest.raises(ConnectorError) as failure:
        make_client(transport).get_json("x")
    assert "not JSON" in str(failure.value) and "GET /v1/x" in str(failure.value)


def test_empty_body_where_json_was_expected():
    transport, _ = scripted(httpx.Response(200))
    with pytest.raises(ConnectorError, match="empty body"):
        make_client(transport).get_json("x")


def test_wrong_json_shape_is_a_clear_connector_error():
    transport, _ = scripted(httpx.Response(200, json={"items": []}))
    with pytest.raises(ConnectorError, match="JSON object where an array was expected"):
        make_client(transport).get_json("x", expect=list)


# --------------------------------------------------------------------------- logs


def test_log_lines_are_redacted(caplog):
    transport, _ = scripted(httpx.Response(500), httpx.Response(200, json={}))
    client = make_client(transport)
    caplog.set_level(logging.DEBUG)
    client.get("x", params={"key": SECRET})
    client.log(logging.INFO, "configured with %s", SECRET)
    mine = [r for r in caplog.records if r.name == "syncview.connectors.testkind"]
    assert len(mine) >= 3 and any("answered 500; retrying" in r.getMessage() for r in mine)
    no_secret_in(caplog.text)
    assert "key=***" in caplog.text


# --------------------------------------------------------------------------- auth


def test_static_and_basic_auth_send_headers_and_are_redacted():
    transport, seen = scripted(httpx.Response(200, json={}))
    client = make_client(transport, auth=BasicAuth("co+pub", "priv-KEY-value", {"clientId": "cid"}))
    client.get("x")
    assert seen[0].headers["clientId"] == "cid"
    header = seen[0].headers["Authorization"]
    assert header.startswith("Basic ")
    assert client.redact(f"{header} priv-KEY-value cid") == "*** *** cid"

    transport, seen = scripted(httpx.Response(200, json={}))
    client = make_client(transport, auth=StaticHeadersAuth({"Secret": "at-secret-9", "UserName": "api@x"}))
    client.get("x")
    assert seen[0].headers["Secret"] == "at-secret-9"
    assert client.redact("at-secret-9") == "***"


def test_auth_none_sends_no_credentials():
    transport, seen = scripted(httpx.Response(200, json={}))
    client = make_client(transport, auth=BasicAuth("u", "p"))
    client.get("public", auth=None)
    assert "Authorization" not in seen[0].headers


def token_server(lifetime: int | None = 3600, refuse_first_use: bool = False):
    """A transport with /token issuing tok-N and /data accepting only the newest token."""
    state = {"issued": []}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            token = f"tok-{len(state['issued']) + 1}-opaque"
            state["issued"].append(token)
            body = {"access_token": token, "token_type": "bearer"}
            if lifetime is not None:
                body["expires_in"] = lifetime
            return httpx.Response(200, json=body)
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if refuse_first_use and given == "tok-1-opaque":  # revoked on the server before its expiry
            return httpx.Response(401)
        if not state["issued"] or given != state["issued"][-1]:
            return httpx.Response(401, json={"message": f"token {given} is not valid"})
        return httpx.Response(200, json={"token": given})

    return httpx.MockTransport(handler), state


def oauth_client(transport, clock: FakeClock, fetches: list[int]) -> HttpClient:
    holder: dict[str, HttpClient] = {}

    def fetch() -> Token:
        fetches.append(1)
        return holder["client"].fetch_oauth_token("token", data={"client_secret": SECRET, "grant_type": "x"})

    auth = OAuthTokenAuth(fetch, clock=clock, leeway=60)
    holder["client"] = make_client(transport, clock, auth=auth)
    return holder["client"]


def test_oauth_token_is_fetched_lazily_and_reused():
    transport, state = token_server()
    clock, fetches = FakeClock(), []
    client = oauth_client(transport, clock, fetches)
    assert fetches == []
    assert client.get_json("data") == {"token": "tok-1-opaque"}
    client.get_json("data")
    assert len(fetches) == 1
    assert "tok-1-opaque" not in client.redact("Authorization: Bearer tok-1-opaque")


def test_oauth_token_is_renewed_before_it_expires():
    transport, state = token_server(lifetime=3600)
    clock, fetches = FakeClock(), []
    client = oauth_client(transport, clock, fetches)
    client.get("data")
    clock.now += 3600 - 61
    client.get("data")
    assert len(fetches) == 1
    clock.now += 2  # within the leeway: renew rather than send a token about to die
    assert client.get_json("data") == {"token": "tok-2-opaque"}
    assert len(fetches) == 2


def test_oauth_token_is_renewed_once_on_a_401():
    transport, state = token_server(lifetime=None, refuse_first_use=True)
    clock, fetches = FakeClock(), []
    client = oauth_client(transport, clock, fetches)
    assert client.get_json("data") == {"token": "tok-2-opaque"}
    assert len(fetches) == 2


def test_a_second_401_is_an_authentication_error_without_tokens():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "tok-never-good", "expires_in": 3600})
        return httpx.Response(401, json={"message": "token tok-never-good revoked"})

    clock, fetches = FakeClock(), []
    client = oauth_client(httpx.MockTransport(handler), clock, fetches)
    with pytest.raises(AuthenticationError) as failure:
        client.get("data")
    assert len(fetches) == 2
    assert "tok-never-good" not in str(failure.value) and "token *** revoked" in str(failure.value)


def test_oauth_refusal_of_the_token_request_is_an_authentication_error():
    transport, _ = scripted(httpx.Response(400, json={"error": "invalid_client"}))
    client = make_client(transport, auth_hint="check client_secret")
    with pytest.raises(AuthenticationError) as failure:
        client.fetch_oauth_token("token", data={"client_secret": "other-secret-value"})
    message = str(failure.value)
    assert message.startswith("authentication failed for Acme PSA") and "invalid_client" in message
    no_secret_in(message, "other-secret-value")


def test_token_answer_without_access_token_is_a_shape_error():
    transport, _ = scripted(httpx.Response(200, json={"token": "x"}))
    with pytest.raises(ConnectorError, match="without an access_token"):
        make_client(transport).fetch_oauth_token("token", data={})


# --------------------------------------------------------------------------- pagination


def linked_pages(pages: int, next_host: str = "api.example.test", loop: bool = False):
    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("page", 1))
        headers = {}
        if number < pages:
            following = 1 if loop else number + 1
            headers["Link"] = f'<https://{next_host}/v1/items?page={following}>; rel="next"'
        return httpx.Response(200, json=[number], headers=headers)

    return httpx.MockTransport(handler)


def test_follow_links_follows_rel_next_to_the_end():
    client = make_client(linked_pages(3))
    bodies = [r.json() for r in follow_links(client, "items", params={"page": 1})]
    assert bodies == [[1], [2], [3]]


def test_follow_links_refuses_to_send_credentials_to_another_host():
    client = make_client(linked_pages(3, next_host="evil.test"))
    with pytest.raises(ConnectorError, match="another host"):
        list(follow_links(client, "items"))


def test_follow_links_detects_a_loop():
    client = make_client(linked_pages(3, loop=True))
    with pytest.raises(ConnectorError, match="already fetched"):
        list(follow_links(client, "items", params={"page": 1}))


def test_follow_next_urls_reads_the_next_url_from_the_body():
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("n", 1))
        nxt = f"https://api.example.test/v1/q?n={n + 1}" if n < 3 else None
        return httpx.Response(200, json={"items": [n], "pageDetails": {"nextPageUrl": nxt}})

    client = make_client(httpx.MockTransport(handler))
    pages = follow_next_urls(client, "POST", "q", json={"filter": []},
                             next_url=lambda body: body["pageDetails"]["nextPageUrl"])
    assert [p["items"] for p in pages] == [[1], [2], [3]]


def test_page_numbers_stops_where_told():
    fetched: list[int] = []

    def fetch(n: int) -> list[int]:
        fetched.append(n)
        return list(range(10)) if n < 3 else [1]

    assert len(list(page_numbers(fetch, is_last=lambda page, n: len(page) < 10))) == 3
    assert fetched == [1, 2, 3]


def test_page_numbers_is_bounded():
    with pytest.raises(ConnectorError, match="more than 5 pages"):
        list(page_numbers(lambda n: [n], is_last=lambda page, n: False, max_pages=5))


def test_credentials_of_any_auth_handler_are_learnt_from_the_request():
    transport, _ = scripted(httpx.Response(500, json={"message": "echo Basic dTpwYXNzd29yZC0xMjM="}))
    client = make_client(transport, auth=httpx.BasicAuth("u", "password-123"), retry=RetryPolicy(attempts=1))
    with pytest.raises(ConnectorError) as failure:
        client.get("x")
    assert "dTpwYXNzd29yZC0xMjM=" not in str(failure.value) and "echo ***" in str(failure.value)


def test_a_retry_policy_needs_an_attempt():
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
