"""HaloPSA connector against a fake server that behaves as the vendor documents."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime

import pytest

from syncview.config import settings_schema_for
from syncview.connectors import registry
from syncview.connectors.halopsa import HaloPsaConnector
from syncview.domain import RemoteItem, ResourceType
from syncview.errors import AuthenticationError, ConfigError, ConnectorError
from tests.connectors.fakes.halopsa import FakeHaloPsa
from tests.connectors.fakes.wsgi import transport

INTEGRATION = "Halo"
BASE = "https://acme.halopsa.test"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def settings(fake: FakeHaloPsa, **overrides) -> dict:
    return {"resource_server": f"{BASE}/api", "client_id": fake.client_id, "client_secret": fake.client_secret,
            "tenant": fake.tenant, "page_size": 100, **overrides}


def connector(fake: FakeHaloPsa, clock: FakeClock | None = None, **overrides) -> HaloPsaConnector:
    clock = clock or FakeClock()
    return HaloPsaConnector(INTEGRATION, settings(fake, **overrides), transport=transport(fake),
                            sleep=clock.sleep, clock=clock)


def fetch_all(conn: HaloPsaConnector) -> tuple[list[RemoteItem], list]:
    with conn:
        pages = list(conn.fetch())
    return [item for page in pages for item in page.items], pages


def test_full_fetch_yields_typed_items_with_names_and_remote_companies():
    fake = FakeHaloPsa(clients=3, assets_per_client=3, users_per_client=2)
    items, pages = fetch_all(connector(fake))
    assert Counter(i.type for i in items) == {
        ResourceType.CLIENT: 3, ResourceType.SITE: 3, ResourceType.DEVICE: 9, ResourceType.CONTACT: 6}
    by_key = {(i.type, i.external_id): i for i in items}
    assert by_key[ResourceType.CLIENT, "1"].name == "Halo Client 01"
    assert by_key[ResourceType.CLIENT, "1"].remote_company == "Halo Client 01"
    assert by_key[ResourceType.SITE, "102"].name == "HQ 02"
    assert by_key[ResourceType.SITE, "102"].remote_company == "Halo Client 02"
    device = by_key[ResourceType.DEVICE, "1001"]
    assert (device.name, device.remote_company) == ("HC01-PC00", "Halo Client 01")
    assert device.payload["inventory_number"] == "TAG-1001"
    assert by_key[ResourceType.CONTACT, "5001"].name == "User 0 of 01"
    assert [(p.entity, p.total) for p in pages] == [("clients", 3), ("sites", 3), ("assets", 9), ("users", 6)]


def test_token_request_is_the_documented_client_credentials_form():
    fake = FakeHaloPsa(tenant="acme")
    fetch_all(connector(fake))
    token_requests = [r for r in fake.requests if r.path == "/auth/token"]
    assert len(token_requests) == 1  # one token serves the whole sync
    request = token_requests[0]
    assert request.method == "POST" and request.query == {"tenant": "acme"}
    assert request.form() == {"grant_type": "client_credentials", "client_id": fake.client_id,
                              "client_secret": fake.client_secret, "scope": "all"}
    api = [r for r in fake.requests if r.path.startswith("/api/")]
    assert all(r.headers["authorization"] == f"Bearer {fake.issued[0]}" for r in api)


def test_no_tenant_sends_no_tenant_parameter():
    fake = FakeHaloPsa(tenant=None)
    fetch_all(connector(fake, tenant=None))
    assert fake.requests[0].query == {}


def test_a_separate_authorisation_server_is_used_for_tokens(serve):
    fake = FakeHaloPsa()
    # One fake on two sockets: tokens from the "auth" one are good on the "api" one.
    auth_server, resource_server = serve(fake), serve(fake)
    conn = HaloPsaConnector(INTEGRATION, settings(fake, resource_server=f"{resource_server}/api/",
                                                  auth_server=f"{auth_server}/auth"))
    items, _ = fetch_all(conn)
    assert len(items) == fake.item_count() and fake.paths("POST") == ["/auth/token"]


def test_the_site_address_is_accepted_as_resource_server():
    fake = FakeHaloPsa()
    items, _ = fetch_all(connector(fake, resource_server=BASE))
    assert len(items) == fake.item_count()


def test_pages_use_pageinate_page_size_and_page_no():
    fake = FakeHaloPsa(clients=5, assets_per_client=1, users_per_client=1)
    items, pages = fetch_all(connector(fake, page_size=2))
    client_requests = [r for r in fake.requests if r.path == "/api/Client"]
    assert [r.query["page_no"] for r in client_requests] == ["1", "2", "3"]
    assert all(r.query["pageinate"] == "true" and r.query["page_size"] == "2" for r in client_requests)
    assert len(items) == fake.item_count()
    assert [len(p.items) for p in pages if p.entity == "clients"] == [2, 2, 1]


def test_paging_stops_on_the_record_count_without_an_extra_empty_page():
    fake = FakeHaloPsa(clients=4, assets_per_client=0, users_per_client=0)
    fetch_all(connector(fake, page_size=2))
    assert [r.query["page_no"] for r in fake.requests if r.path == "/api/Client"] == ["1", "2"]


def test_wrong_secret_is_an_authentication_error_without_the_secret(caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeHaloPsa()
    wrong = "Wr0ng-Halo-Secret"
    with pytest.raises(AuthenticationError) as failure:
        fetch_all(connector(fake, client_secret=wrong))
    message = str(failure.value)
    assert message.startswith(f"authentication failed for {INTEGRATION}")
    assert "invalid_client" in message and "client_secret" in message
    for text in (message, repr(failure.value), caplog.text):
        assert wrong not in text and fake.client_secret not in text
    assert not any(r.path.startswith("/api/") for r in fake.requests)


def test_wrong_tenant_is_an_authentication_error():
    fake = FakeHaloPsa(tenant="acme")
    with pytest.raises(AuthenticationError, match=f"authentication failed for {INTEGRATION}"):
        fetch_all(connector(fake, tenant="other"))


def test_secret_and_tokens_never_appear_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeHaloPsa()
    fake.fail(503, path="/api/Asset")
    fetch_all(connector(fake))
    assert "/api/Asset" in caplog.text
    assert fake.client_secret not in caplog.text
    assert all(token not in caplog.text for token in fake.issued)


def test_token_is_renewed_when_it_expires():
    fake = FakeHaloPsa(token_lifetime=3600, clients=2)
    clock = FakeClock()
    conn = connector(fake, clock)
    list(conn.fetch())  # the first token
    clock.now += 3600  # an hour later the token is dead: the next sync asks for a new one first
    list(conn.fetch())
    assert len(fake.issued) == 2
    later = [r for r in fake.requests if r.path == "/api/Site"]
    assert later[-1].headers["authorization"] == f"Bearer {fake.issued[1]}"


def test_a_revoked_token_is_renewed_once_on_401():
    fake = FakeHaloPsa(clients=2)
    conn = connector(fake)
    list(conn.fetch())
    fake.revoke_tokens()
    items = [i for page in conn.fetch() for i in page.items]
    assert len(fake.issued) == 2 and items


def test_429_with_retry_after_is_honoured():
    fake = FakeHaloPsa()
    fake.fail(429, path="/api/Site", headers={"Retry-After": "4"})
    clock = FakeClock()
    items, _ = fetch_all(connector(fake, clock))
    assert clock.sleeps == [4.0] and len(items) == fake.item_count()


def test_a_500_then_success_is_retried():
    fake = FakeHaloPsa()
    fake.fail(500, path="/api/Users")
    clock = FakeClock()
    items, _ = fetch_all(connector(fake, clock))
    assert len(clock.sleeps) == 1 and len(items) == fake.item_count()


def test_malformed_rows_are_skipped_with_warnings():
    fake = FakeHaloPsa(clients=2)
    fake.records["assets"] += [{"id": 1900, "client_name": "Halo Client 01"}, "not an object"]
    fake.records["users"].append({"name": "No Id", "client_name": "Halo Client 01"})
    fake.records["users"].append({"id": 5900, "firstname": "Only", "surname": "Names"})
    items, pages = fetch_all(connector(fake))
    warnings = [w for p in pages for w in p.warnings]
    assert warnings == ["skipped assets id 1900: it has no name",
                        "skipped assets row 8 of the page: it is a JSON str, not an object",
                        "skipped users row 5 of the page: it has no id"]
    contact = next(i for i in items if i.external_id == "5900")
    assert (contact.name, contact.remote_company) == ("Only Names", None)


def test_an_answer_without_the_list_is_a_clear_error():
    fake = FakeHaloPsa()
    fake.fail(200, path="/api/Client", body={"record_count": 3}, headers={"Content-Type": "application/json"})
    with pytest.raises(ConnectorError, match='GET /api/Client answered an object without a "clients" list'):
        fetch_all(connector(fake))


def test_a_truncated_answer_is_a_clear_error():
    fake = FakeHaloPsa()
    fake.fail(200, path="/api/Site", body='{"record_count": 3, "sites": [{"id"',
              headers={"Content-Type": "application/json"})
    with pytest.raises(ConnectorError, match="not JSON"):
        fetch_all(connector(fake))


def test_since_is_ignored_because_halo_cannot_filter_on_change_time():
    assert not HaloPsaConnector.supports_incremental
    fake = FakeHaloPsa()
    with connector(fake) as conn:
        items = [i for p in conn.fetch(since=datetime(2026, 1, 1, tzinfo=UTC)) for i in p.items]
    assert len(items) == fake.item_count()


def test_full_fetch_over_a_real_loopback_socket(serve, caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeHaloPsa(clients=4)
    conn = HaloPsaConnector(INTEGRATION, settings(fake, resource_server=f"{serve(fake)}/api", page_size=3))
    items, _ = fetch_all(conn)
    assert len(items) == fake.item_count()
    assert fake.client_secret not in caplog.text and fake.issued[0] not in caplog.text


def test_wrong_credentials_over_a_real_loopback_socket(serve):
    fake = FakeHaloPsa()
    conn = HaloPsaConnector(INTEGRATION, settings(fake, resource_server=serve(fake), client_secret="nope-nope"))
    with pytest.raises(AuthenticationError, match=f"authentication failed for {INTEGRATION}"):
        fetch_all(conn)


def test_registered_and_configurable():
    assert registry.load("halopsa") is HaloPsaConnector
    schema = {s.name: s for s in settings_schema_for("halopsa")}
    assert schema["client_secret"].secret and not schema["tenant"].required


# --------------------------------------------------------------------------- keys and scope


def test_assets_users_and_clients_carry_their_keys():
    fake = FakeHaloPsa(clients=2, assets_per_client=2, users_per_client=1)
    items, _ = fetch_all(connector(fake, serial_field="key_field2"))
    assets = {i.external_id: i for i in items if i.type is ResourceType.DEVICE}
    first = assets["1001"]
    assert (first.keys.hostname, first.keys.serial) == ("HC01-PC00", "HSN1001")
    assert first.keys.xrefs == ("datto_rmm:device:9c2d4b1e-0001-4000-8000-000000000000",)
    assert assets["1002"].keys.xrefs == ()
    assert first.payload["inventory_number"] == "TAG-1001"  # the asset tag: not a key
    user = next(i for i in items if i.type is ResourceType.CONTACT)
    assert user.keys.email == "user0@client1.example"
    clients = {i.name: i for i in items if i.type is ResourceType.CLIENT}
    assert clients["Halo Client 01"].keys.xrefs == ("autotask:client:29682001", "connectwise:client:101")
    assert not clients["Halo Client 02"].keys  # 0: not linked


def test_without_serial_field_assets_give_no_serial_and_a_wrong_field_is_refused():
    fake = FakeHaloPsa(clients=1, assets_per_client=1)
    items, _ = fetch_all(connector(fake))
    assert next(i for i in items if i.type is ResourceType.DEVICE).keys.serial is None
    with pytest.raises(ConfigError, match="serial_field must be one of key_field, key_field2"):
        connector(fake, serial_field="serial")


def test_inactive_rows_and_general_users_stay_out_by_default():
    fake = FakeHaloPsa(clients=2, out_of_scope=True)
    items, _ = fetch_all(connector(fake, serial_field="key_field2"))
    assert len(items) == fake.item_count()
    assert "General User" not in {i.name for i in items}
    assert {"To Be Filled By O.E.M.", "Default string"} <= {i.keys.serial for i in items}  # copied as sent
    users = [r for r in fake.requests if r.path == "/api/Users"]
    assert users[0].query["exclude_generaluser"] == "true" and users[0].query["includeinactive"] == "false"

    items, _ = fetch_all(connector(fake, include_inactive=True, include_general_users=True))
    names = {i.name for i in items}
    assert {"Gone Client", "RETIRED-0", "Former 0", "General User"} <= names
