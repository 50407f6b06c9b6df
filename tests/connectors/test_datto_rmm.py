"""Datto RMM connector against a fake server that behaves as the vendor documents."""

from __future__ import annotations

import base64
import logging
import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from syncview.config import parse_config, settings_schema_for
from syncview.connectors import registry
from syncview.connectors.datto_rmm import DattoRmmConnector
from syncview.domain import RemoteItem, ResourceType
from syncview.errors import AuthenticationError, ConnectorError
from tests.connectors.fakes.datto_rmm import TOKEN_LIFETIME, FakeDattoRmm
from tests.connectors.fakes.wsgi import transport

INTEGRATION = "Datto RMM (Pinotage)"
API_URL = "https://pinotage-api.centrastage.net"


class Sleeps(list):
    """A sleep function recording its calls instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def settings(fake: FakeDattoRmm, **overrides) -> dict:
    return {"api_url": API_URL, "api_key": fake.api_key, "api_secret": fake.api_secret, **overrides}


def connector(fake: FakeDattoRmm, sleeps: Sleeps | None = None, clock: Clock | None = None,
              **overrides) -> DattoRmmConnector:
    return DattoRmmConnector(INTEGRATION, settings(fake, **overrides), transport=transport(fake),
                             sleep=sleeps if sleeps is not None else Sleeps(), clock=clock or Clock())


def fetch_all(conn: DattoRmmConnector, since=None) -> tuple[list[RemoteItem], list]:
    with conn:
        pages = list(conn.fetch(since))
    return [item for page in pages for item in page.items], pages


def list_requests(fake: FakeDattoRmm) -> list[str]:
    """``path?page=N`` of every list request, in order (token requests as ``token``)."""
    return [("token" if r.path == "/auth/oauth/token" else f"{r.path.rsplit('/', 1)[-1]}?page={r.query.get('page')}")
            for r in fake.requests]


# --------------------------------------------------------------------------- fetching


def test_full_fetch_yields_sites_as_clients_and_sites_and_devices_across_pages():
    fake = FakeDattoRmm(sites=4, devices_per_site=150)  # 600 devices: pages of 250, 250, 100
    items, pages = fetch_all(connector(fake))

    live = 4 * 149  # one device per site is in the recycle bin
    assert Counter(i.type for i in items) == {
        ResourceType.CLIENT: 4, ResourceType.SITE: 4, ResourceType.DEVICE: live}
    assert [(p.entity, len(p.items), p.total) for p in pages] == [
        ("sites", 8, 8), ("devices", 249, 600), ("devices", 248, 600), ("devices", 99, 600)]
    assert all(not p.warnings for p in pages)

    by_key = {(i.type, i.external_id): i for i in items}
    site_uid = "5f1e0c7a-0000-4000-8000-000000000001"
    for kind in (ResourceType.CLIENT, ResourceType.SITE):
        site = by_key[kind, site_uid]
        assert (site.name, site.remote_company) == ("Client 001", "Client 001")
        assert site.payload["id"] == 8101
    device = by_key[ResourceType.DEVICE, "9c2d4b1e-0001-4000-8000-000000000002"]
    assert (device.name, device.remote_company) == ("C001-WS-002", "Client 001")
    # Epoch milliseconds stay as sent; an ISO copy is added for people reading the payload.
    assert device.payload["lastSeen"] == 1_767_225_720_000
    assert device.payload["lastSeenIso"] == "2026-01-01T00:02:00.000Z"
    assert device.payload["creationDateIso"] == "2025-10-03T00:00:00.000Z"
    assert not any(i.payload.get("deleted") for i in items if i.type is ResourceType.DEVICE)
    assert {i.external_id for i in items if i.type is ResourceType.DEVICE} == {
        d["uid"] for d in fake.live_devices()}


#: What a connector with the default 10 requests at once asks for before any total is known:
#: the first two pages of sites and the first eight of devices.
FIRST_WAVE = sorted([*(f"sites?page={n}" for n in range(2)), *(f"devices?page={n}" for n in range(8))])


def test_the_first_pages_of_both_lists_are_asked_for_at_once_and_the_rest_by_number_after():
    fake = FakeDattoRmm(sites=2, devices_per_site=200)  # 1 page of sites, 2 of devices
    fake.latency = 0.2  # a distant API: the first pages are all in flight before one answers
    items, pages = fetch_all(connector(fake))
    # The token first; then the first pages of both lists at once, before their totals are
    # known: a distant API would otherwise cost a round trip per list before the rest could go.
    assert list_requests(fake)[0] == "token"
    assert sorted(list_requests(fake)[1:]) == FIRST_WAVE
    assert {r.query["max"] for r in fake.requests[1:]} == {"250"}
    # Pages past the totals are dropped unread: each item once, in order.
    assert [(p.entity, len(p.items)) for p in pages] == [("sites", 4), ("devices", 249), ("devices", 149)]
    assert len(items) == len({(i.type, i.external_id) for i in items})


def test_a_list_longer_than_its_first_pages_asks_for_the_others_by_number_once_its_total_is_known():
    fake = FakeDattoRmm(sites=600, devices_per_site=5)  # 3 pages of sites, 12 of devices
    fake.latency = 0.2
    items, pages = fetch_all(connector(fake))
    asked = list_requests(fake)
    assert Counter(asked) == Counter(["token", *(f"sites?page={n}" for n in range(3)),
                                      *(f"devices?page={n}" for n in range(12))])
    # What comes after the first wave waits for the total that says it exists.
    first_wave = set(FIRST_WAVE)
    assert max(asked.index(a) for a in first_wave) < min(asked.index(a) for a in ("sites?page=2", "devices?page=8"))
    assert [p.entity for p in pages] == ["sites"] * 3 + ["devices"] * 12
    assert sum(i.type is ResourceType.DEVICE for i in items) == len(fake.live_devices())


def test_a_first_page_guessed_past_the_end_that_fails_is_dropped_with_its_failure():
    fake = FakeDattoRmm(sites=2, devices_per_site=3)
    fake.fail_page(400, target="devices", page=5, body={"status": 400, "error": "Bad Request"})
    fake.fail_page(404, target="sites", page=1, body={"status": 404, "error": "Not Found"})
    items, _ = fetch_all(connector(fake))
    assert sum(i.type is ResourceType.DEVICE for i in items) == len(fake.live_devices())


def test_a_first_page_that_exists_and_fails_fails_the_fetch():
    fake = FakeDattoRmm(sites=2, devices_per_site=200)
    fake.fail_page(400, target="devices", page=1, body={"status": 400, "error": "Bad Request"})
    with pytest.raises(ConnectorError, match="400"):
        fetch_all(connector(fake))


def test_the_doctor_reaches_datto_with_the_token_and_one_site():
    fake = FakeDattoRmm(sites=600, devices_per_site=5)
    with connector(fake) as conn:
        assert conn.reach()
    assert list_requests(fake) == ["token", "sites?page=0"] and fake.requests[1].query["max"] == "1"
    empty = FakeDattoRmm(sites=0)
    with connector(empty) as conn:
        assert not conn.reach()


def test_token_request_uses_the_public_client_and_the_password_grant():
    fake = FakeDattoRmm()
    fetch_all(connector(fake))
    token_request = fake.requests[0]
    assert token_request.path == "/auth/oauth/token" and token_request.method == "POST"
    assert token_request.headers["authorization"] == "Basic " + base64.b64encode(b"public-client:public").decode()
    assert token_request.form() == {"grant_type": "password", "username": fake.api_key,
                                    "password": fake.api_secret}
    # One token serves the whole sync, sent as a bearer token.
    assert fake.tokens_issued == 1
    assert all(r.headers["authorization"].startswith("Bearer ") for r in fake.requests[1:])


@pytest.mark.parametrize("api_url", [API_URL, f"{API_URL}/", f"{API_URL}/api", f"{API_URL}/api/"])
def test_api_url_is_accepted_with_or_without_the_api_suffix(api_url):
    fake = FakeDattoRmm()
    fetch_all(connector(fake, api_url=api_url))
    assert fake.requests[0].path == "/auth/oauth/token"
    assert {r.path for r in fake.requests[1:]} == {"/api/v2/account/sites", "/api/v2/account/devices"}


def test_since_is_ignored_because_datto_cannot_filter_by_change_time():
    fake = FakeDattoRmm()
    items, _ = fetch_all(connector(fake), since=datetime(2026, 1, 1, tzinfo=UTC))
    assert not DattoRmmConnector.supports_incremental
    assert sum(i.type is ResourceType.DEVICE for i in items) == len(fake.live_devices())


def test_requests_are_rate_limited_under_datto_s_limit():
    limits = connector(FakeDattoRmm()).http.limits
    # 600 per rolling minute documented; Datto slows an account down from 90 % of it on.
    assert limits.window == 60 and limits.rate is not None and limits.rate < 0.9 * 600


# --------------------------------------------------------------------------- tokens


def test_a_token_that_expires_mid_sync_is_renewed_once_and_the_sync_goes_on():
    fake = FakeDattoRmm(sites=2, devices_per_site=200)
    # 100 hours pass before the devices' second page is asked for (pages are fetched ahead of
    # the engine, so the expiry is scripted on the page rather than timed between pages).
    fake.fail_page(401, target="devices", page=1, body={"error": "invalid_token",
                                                         "error_description": "Access token expired: x"})
    conn = connector(fake)
    with conn:
        pages = list(conn.fetch())
    assert fake.tokens_issued == 2
    requests = list_requests(fake)
    assert requests.count("token") == 2 and requests.count("devices?page=1") == 2
    assert requests.index("token", 1) > requests.index("devices?page=1")  # renewed on the 401, then retried
    assert sum(len(p.items) for p in pages if p.entity == "devices") == len(fake.live_devices())


def test_a_token_is_renewed_before_it_expires():
    fake = FakeDattoRmm()
    clock = Clock()
    conn = connector(fake, clock=clock)
    with conn:
        list(conn.fetch())
        clock.now += TOKEN_LIFETIME  # 100 hours later, the next sync asks for a new token first
        fake.expire_tokens()
        list(conn.fetch())
    asked = list_requests(fake)
    second = asked.index("token", 1)
    for sync in (asked[1:second], asked[second + 1:]):  # each after its token (guesses past the end may be dropped)
        assert {"sites?page=0", "devices?page=0"} <= set(sync) <= set(FIRST_WAVE)
    assert asked[0] == "token" and fake.tokens_issued == 2


@pytest.mark.parametrize("wrong", ["api_key", "api_secret"])
def test_wrong_credentials_are_an_authentication_error_without_the_secret(wrong, caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeDattoRmm()
    bad_value = f"wrong-{wrong}-Qz19"
    with pytest.raises(AuthenticationError) as failure:
        fetch_all(connector(fake, **{wrong: bad_value}))
    message = str(failure.value)
    assert f"authentication failed for {INTEGRATION}" in message
    assert "Bad credentials" in message and "check api_key and api_secret" in message
    for text in (message, repr(failure.value), caplog.text):
        assert fake.api_secret not in text
        if wrong == "api_secret":
            assert bad_value not in text
    assert [r.path for r in fake.requests] == ["/auth/oauth/token"]  # a refusal is not retried


def test_a_token_the_api_refuses_twice_is_an_error_that_never_shows_the_token(caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeDattoRmm()
    fake.honour_tokens = False  # granted, then refused: the API echoes the token in its 401
    with pytest.raises(AuthenticationError) as failure:
        fetch_all(connector(fake))
    message = str(failure.value)
    assert f"authentication failed for {INTEGRATION}" in message
    assert "Access token expired: ***" in message
    assert "fake0001" not in message and "fake0002" not in message
    assert "fake000" not in caplog.text
    assert fake.api_secret not in caplog.text
    # One token replaces the refused one, whichever of the first pages in flight was refused
    # first; the others retry with it, and no third is asked for.
    asked = list_requests(fake)
    assert asked.count("token") == 2 and fake.tokens_issued == 2
    assert Counter(asked) - Counter(token=2) <= Counter({page: 2 for page in FIRST_WAVE})


def test_secret_and_tokens_never_appear_in_logs_of_a_sync_with_retries(caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeDattoRmm(sites=2, devices_per_site=200)
    fake.fail_page(429, target="devices", page=1, headers={"Retry-After": "2"})
    fake.fail_page(503, target="sites", page=0)
    fetch_all(connector(fake))
    assert "answered 429" in caplog.text and "answered 503" in caplog.text  # requests are logged...
    assert fake.api_secret not in caplog.text  # ...without the secret or the token
    assert "eyJhbGciOiJSUzI1NiJ9" not in caplog.text


# --------------------------------------------------------------------------- misbehaving server


def test_429_with_retry_after_is_honoured():
    fake = FakeDattoRmm(sites=2, devices_per_site=200)
    fake.fail_page(429, target="devices", page=1, headers={"Retry-After": "12"},
                   body={"message": "Rate limit exceeded"})
    sleeps = Sleeps()
    items, _ = fetch_all(connector(fake, sleeps))
    assert 12.0 in sleeps
    assert list_requests(fake).count("devices?page=1") == 2
    assert sum(i.type is ResourceType.DEVICE for i in items) == len(fake.live_devices())


def test_a_500_then_success_is_retried():
    fake = FakeDattoRmm()
    fake.fail_page(500, target="sites", page=0, body={"status": 500, "error": "Internal Server Error"})
    items, _ = fetch_all(connector(fake))
    assert sum(i.type is ResourceType.SITE for i in items) == 3


def test_a_page_that_is_not_json_is_a_clear_error():
    fake = FakeDattoRmm(sites=2, devices_per_site=200)
    fake.fail_page(200, target="devices", page=1, body="<html><body>Gateway hiccup</body></html>",
                   headers={"Content-Type": "text/html"})
    with pytest.raises(ConnectorError) as failure:
        fetch_all(connector(fake))
    message = str(failure.value)
    assert message.startswith(f"{INTEGRATION}: GET /api/v2/account/devices answered a body that is not JSON")


def test_a_page_without_its_list_is_a_clear_error():
    fake = FakeDattoRmm()
    fake.fail_page(200, target="devices", page=0, headers={"Content-Type": "application/json"},
                   body={"pageDetails": {"count": 0, "totalCount": 0}, "items": []})
    with pytest.raises(ConnectorError, match=r"Datto RMM answered page 1 of devices without a devices list"):
        fetch_all(connector(fake))


def test_malformed_rows_are_skipped_with_warnings():
    fake = FakeDattoRmm(sites=2, devices_per_site=2)
    fake.entities["sites"].append({"id": 9_999, "name": "No UID Site"})
    fake.entities["devices"] += [
        {"id": 700_001, "uid": "dev-no-host", "siteName": "Client 000", "hostname": "  ", "deleted": False},
        {"id": 700_002, "hostname": "NO-UID", "siteName": "Client 000"},
        {"id": 700_003, "uid": "dev-odd-times", "hostname": "ODD-TIMES", "siteName": "Client 001",
         "lastSeen": None, "creationDate": "2026-01-01"},
    ]
    items, pages = fetch_all(connector(fake))
    warnings = [w for p in pages for w in p.warnings]
    assert warnings == ["skipped sites id 9999: it has no uid",
                        "skipped devices uid dev-no-host: it has no hostname",
                        "skipped devices id 700002: it has no uid"]
    odd = next(i for i in items if i.external_id == "dev-odd-times")
    assert "lastSeenIso" not in odd.payload and "creationDateIso" not in odd.payload
    assert sum(i.type is ResourceType.CLIENT for i in items) == 2


# --------------------------------------------------------------------------- over a real socket


def test_full_fetch_with_token_renewal_over_a_real_loopback_socket(serve, caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeDattoRmm(sites=3, devices_per_site=100)
    # Real sockets, but no real waiting: the rate limiter's sleeps are recorded.
    conn = DattoRmmConnector(INTEGRATION, settings(fake, api_url=serve(fake)), sleep=Sleeps())
    fake.fail_page(401, target="devices", page=1, body={"error": "invalid_token",
                                                         "error_description": "Access token expired: x"})
    with conn:
        pages = list(conn.fetch())
    assert [(p.entity, len(p.items)) for p in pages] == [("sites", 6), ("devices", 248), ("devices", 49)]
    assert fake.tokens_issued == 2
    assert fake.api_secret not in caplog.text and "eyJhbGciOiJSUzI1NiJ9" not in caplog.text


def test_wrong_secret_over_a_real_loopback_socket(serve):
    fake = FakeDattoRmm()
    conn = DattoRmmConnector(INTEGRATION, settings(fake, api_url=serve(fake), api_secret="nope-nope-nope"),
                             sleep=Sleeps())
    with pytest.raises(AuthenticationError, match=re.escape(f"authentication failed for {INTEGRATION}")) as failure:
        fetch_all(conn)
    assert "nope-nope-nope" not in str(failure.value)


# --------------------------------------------------------------------------- registration


def test_registered_and_configurable():
    assert registry.load("datto_rmm") is DattoRmmConnector
    assert {s.name for s in settings_schema_for("datto_rmm")} == {"api_url", "api_key", "api_secret",
                                                                 "include_on_demand_sites", "network_interfaces"}
    config = parse_config("""
        [[integrations]]
        name = "Datto"
        kind = "datto_rmm"
        api_url = "https://pinotage-api.centrastage.net"
        api_key = "DATTO-KEY-4H7K2M"
        api_secret = "env:DATTO_API_SECRET"
    """)
    assert config.integration("Datto").settings["api_secret"] == "env:DATTO_API_SECRET"


def test_a_403_block_after_too_many_requests_says_to_wait_not_only_to_check_the_secret():
    """Datto answers repeated rate-limit breaches with a temporary 403: the message must
    not send the operator hunting for a wrong secret only."""
    fake = FakeDattoRmm()
    fake.fail_page(403, target="devices", page=0, body={"error": "Forbidden"}, times=5)
    with pytest.raises(AuthenticationError) as failure:
        fetch_all(connector(fake))
    message = str(failure.value)
    assert f"authentication failed for {INTEGRATION}" in message and "answered 403" in message
    assert "temporary block" in message and "wait a few minutes, or lower rate_limit" in message


# --------------------------------------------------------------------------- keys and scope


def test_sites_name_their_autotask_company_and_devices_their_host_name():
    fake = FakeDattoRmm(sites=2, devices_per_site=2, out_of_scope=True)
    items, _ = fetch_all(connector(fake))
    clients = {i.name: i for i in items if i.type is ResourceType.CLIENT}
    assert clients["Client 001"].keys.xrefs == ("autotask:client:29682001",)
    assert not clients["Unlinked Ltd"].keys  # autotaskCompanyId null: no key
    assert not any(i.keys for i in items if i.type is ResourceType.SITE)  # the link names a company
    device = next(i for i in items if i.type is ResourceType.DEVICE)
    assert device.keys.hostname == device.name and not device.keys.serial


def test_the_recycle_bin_and_on_demand_sites_stay_out_by_default():
    fake = FakeDattoRmm(sites=2, devices_per_site=2, out_of_scope=True)
    items, _ = fetch_all(connector(fake))
    assert not {i.external_id for i in items} & fake.out_of_scope
    assert {i.external_id for i in items if i.type is ResourceType.DEVICE} == {d["uid"] for d in fake.live_devices()}
    assert "Deleted Devices" not in {i.name for i in items}

    items, _ = fetch_all(connector(fake, include_on_demand_sites=True))
    names = {i.name for i in items}
    assert "Walk-in repairs" in names and "OLD-LT-10" in names
    assert "Deleted Devices" not in names and "OLD-LT-00" not in names  # the recycle bin never


def test_network_interfaces_give_devices_their_macs_at_one_request_per_site():
    from tests.connectors.fakes.datto_rmm import SHARED_VIRTUAL_MAC

    fake = FakeDattoRmm(sites=3, devices_per_site=3, out_of_scope=True)
    items, _ = fetch_all(connector(fake, network_interfaces=True))
    devices = [i for i in items if i.type is ResourceType.DEVICE]
    audited = [d for d in devices if d.payload.get("lastAuditDate") is not None]
    assert audited and all(len(d.keys.macs) == 2 and d.keys.macs[1] == SHARED_VIRTUAL_MAC for d in audited)
    assert all(not d.keys.macs for d in devices if d not in audited)  # no audit yet: no adapters
    first = next(d for d in devices if d.payload["id"] == 600_000)
    assert first.keys.macs[0] == "3C:52:82:09:27:C0"  # as Datto sent it: the core normalises
    nic_requests = [r.path for r in fake.requests if r.path.endswith("/network-interface")]
    # One per site that syncs: the recycle bin and the on-demand site are not asked for.
    assert len(nic_requests) == 4 == len({i.external_id for i in items if i.type is ResourceType.SITE})

    items, _ = fetch_all(connector(fake))  # off by default: no MACs, no extra request
    assert not any(i.keys.macs for i in items)
