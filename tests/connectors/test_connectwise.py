"""ConnectWise Manage connector against a fake server that behaves as the vendor documents."""

from __future__ import annotations

import base64
import logging
from collections import Counter
from datetime import timedelta

import pytest

from syncview.config import parse_config, settings_schema_for
from syncview.connectors import registry
from syncview.connectors.connectwise import ConnectWiseConnector
from syncview.domain import RemoteItem, ResourceType
from syncview.errors import AuthenticationError, ConfigError, ConnectorError
from tests.connectors.fakes.connectwise import EPOCH, FakeConnectWise
from tests.connectors.fakes.wsgi import transport

INTEGRATION = "CW Production"


class Sleeps(list):
    """A sleep function recording its calls instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def settings(fake: FakeConnectWise, **overrides) -> dict:
    return {
        "site": "cw.example.test", "company_id": fake.company_id, "public_key": fake.public_key,
        "private_key": fake.private_key, "client_id": fake.client_id, "page_size": 1000, **overrides,
    }


def connector(fake: FakeConnectWise, sleeps: Sleeps | None = None, **overrides) -> ConnectWiseConnector:
    return ConnectWiseConnector(INTEGRATION, settings(fake, **overrides), transport=transport(fake),
                                sleep=sleeps if sleeps is not None else Sleeps())


def fetch_all(conn: ConnectWiseConnector, since=None) -> tuple[list[RemoteItem], list]:
    with conn:
        pages = list(conn.fetch(since))
    return [item for page in pages for item in page.items], pages


def test_full_fetch_yields_typed_items_with_names_and_remote_companies():
    fake = FakeConnectWise(companies=3, configurations_per_company=4, contacts_per_company=2)
    items, pages = fetch_all(connector(fake))

    assert Counter(i.type for i in items) == {
        ResourceType.CLIENT: 3, ResourceType.SITE: 6, ResourceType.DEVICE: 12, ResourceType.CONTACT: 6}
    by_key = {(i.type, i.external_id): i for i in items}
    assert by_key[ResourceType.CLIENT, "101"].name == "Client 001 Ltd"
    assert by_key[ResourceType.CLIENT, "101"].remote_company == "Client 001 Ltd"
    assert by_key[ResourceType.SITE, "501"].name == "Main Client001"
    assert by_key[ResourceType.SITE, "501"].remote_company == "Client 001 Ltd"
    assert by_key[ResourceType.DEVICE, "2001"].name == "C001-WS-00"
    assert by_key[ResourceType.DEVICE, "2001"].remote_company == "Client 001 Ltd"
    assert by_key[ResourceType.CONTACT, "7001"].name == "First0 Last001"
    assert by_key[ResourceType.CONTACT, "7001"].payload["company"]["identifier"] == "Client001"
    assert [p.entity for p in pages] == ["companies", "sites", "configurations", "contacts"]
    assert all(not p.warnings for p in pages)


def test_codebase_is_looked_up_without_credentials_then_used():
    fake = FakeConnectWise(codebase="v2025_1/")
    fetch_all(connector(fake))
    lookup, first_api = fake.requests[0], fake.requests[1]
    assert lookup.path == f"/login/companyinfo/{fake.company_id}"
    assert "authorization" not in lookup.headers
    assert first_api.path == "/v2025_1/apis/3.0/company/companies"


def test_requests_carry_basic_auth_and_client_id():
    fake = FakeConnectWise()
    fetch_all(connector(fake))
    api = fake.requests[1]
    expected = base64.b64encode(f"{fake.company_id}+{fake.public_key}:{fake.private_key}".encode()).decode()
    assert api.headers["authorization"] == f"Basic {expected}"
    assert api.headers["clientid"] == fake.client_id


def test_codebase_falls_back_when_the_lookup_fails():
    fake = FakeConnectWise(codebase="v4_6_release/")
    fake.fail(404, path="/login/companyinfo")
    items, _ = fetch_all(connector(fake))
    assert items and fake.requests[1].path.startswith("/v4_6_release/apis/3.0/")


def test_base_url_gives_the_whole_api_url_and_skips_the_lookup():
    fake = FakeConnectWise(codebase="v2024_2/")
    items, _ = fetch_all(connector(fake, base_url="https://cw.example.test/v2024_2/apis/3.0"))
    assert not any(p.startswith("/login/") for p in fake.paths())
    assert len(items) == fake.item_count()


def test_pages_follow_the_link_header():
    fake = FakeConnectWise(companies=5, configurations_per_company=1, contacts_per_company=1)
    items, pages = fetch_all(connector(fake, page_size=2))
    company_requests = [r for r in fake.requests if r.path.endswith("/company/companies")]
    assert [r.query["page"] for r in company_requests] == ["1", "2", "3"]
    assert {r.query["pageSize"] for r in company_requests} == {"2"}
    assert len([i for i in items if i.type is ResourceType.CLIENT]) == 5
    assert len(items) == fake.item_count()
    # Sites come per company but are regrouped into pages of about page_size.
    assert [len(p.items) for p in pages if p.entity == "sites"] == [2, 2, 2, 2, 2]


def test_page_size_is_capped_at_the_api_maximum():
    fake = FakeConnectWise(companies=1)
    fetch_all(connector(fake, page_size=5000))
    assert fake.requests[1].query["pageSize"] == "1000"


def test_forward_only_paging_uses_the_page_id_cursor():
    fake = FakeConnectWise(companies=5, configurations_per_company=1, contacts_per_company=1)
    items, _ = fetch_all(connector(fake, page_size=2, forward_only=True))
    company_requests = [r for r in fake.requests if r.path.endswith("/company/companies")]
    assert all(r.headers["pagination-type"] == "forward-only" for r in company_requests)
    assert [r.query.get("pageId") for r in company_requests] == [None, "102", "104"]
    assert len(items) == fake.item_count()


def test_incremental_fetch_asks_only_for_changes():
    fake = FakeConnectWise(companies=3, changed_ids=frozenset({102, 503, 2005, 7002}))
    since = EPOCH + timedelta(days=1)
    items, _ = fetch_all(connector(fake), since=since)
    assert ConnectWiseConnector.supports_incremental
    assert {(i.type, i.external_id) for i in items if i.type is not ResourceType.SITE} == {
        (ResourceType.CLIENT, "102"), (ResourceType.DEVICE, "2005"), (ResourceType.CONTACT, "7002")}
    conditions = {r.query.get("conditions") for r in fake.requests if "/apis/" in r.path}
    assert "lastUpdated>[2026-01-02T00:00:00Z]" in conditions
    # Sites come whole, one request per company as before (a site can change on its own), so
    # that the ids seen are the live sites for the pass over live ids.
    site_requests = [r for r in fake.requests if r.path.endswith("/sites")]
    assert len(site_requests) == 3 and not any("conditions" in r.query for r in site_requests)
    assert sum(i.type is ResourceType.SITE for i in items) == 6


def test_incremental_sites_changed_lists_only_the_changed_companies_sites():
    # 20 companies, one changed: an incremental sync asks for that company's sites alone (1
    # request instead of 20, and no pass over every company), and the id pass names no sites,
    # so that sites it did not list are not taken for deleted.
    fake = FakeConnectWise(companies=20, changed_ids=frozenset({102}))
    since = EPOCH + timedelta(days=1)
    conn = connector(fake, incremental_sites="changed")
    with conn:
        items = [item for page in conn.fetch(since) for item in page.items]
        listed = {page.type for page in conn.live_ids()}
    site_requests = [r.path for r in fake.requests if r.path.endswith("/sites")]
    assert site_requests == [site_requests[0]] and "/company/companies/102/sites" in site_requests[0]
    assert {i.external_id for i in items if i.type is ResourceType.SITE} == {
        str(site["id"]) for site in fake.sites[102]}
    assert ResourceType.SITE not in listed and ResourceType.CLIENT in listed

    # A full sync still lists every company's sites, whatever the setting.
    full = FakeConnectWise(companies=20)
    items, _ = fetch_all(connector(full, incremental_sites="changed"))
    assert sum(r.path.endswith("/sites") for r in full.requests) == 20
    assert sum(i.type is ResourceType.SITE for i in items) == 40


def test_incremental_sites_takes_all_or_changed():
    with pytest.raises(ConfigError, match='incremental_sites must be "all" or "changed"'):
        connector(FakeConnectWise(), incremental_sites="some")


def test_wrong_private_key_is_an_authentication_error_without_the_secret(caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeConnectWise()
    wrong = "WRONG-private-key-42"
    with pytest.raises(AuthenticationError) as failure:
        fetch_all(connector(fake, private_key=wrong))
    message = str(failure.value)
    assert message.startswith(f"authentication failed for {INTEGRATION}")
    assert "private_key" in message  # the hint says what to check
    for text in (message, repr(failure.value), caplog.text):
        assert wrong not in text and fake.private_key not in text
        assert base64.b64encode(f"{fake.company_id}+{fake.public_key}:{wrong}".encode()).decode() not in text


def test_wrong_client_id_is_an_authentication_error():
    fake = FakeConnectWise()
    with pytest.raises(AuthenticationError, match="clientId header missing or unknown"):
        fetch_all(connector(fake, client_id="someone-else"))


def test_secret_never_appears_in_logs_of_a_successful_sync(caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeConnectWise()
    fake.fail(500, path="/company/contacts")
    fetch_all(connector(fake))
    assert "company/contacts" in caplog.text  # requests are logged...
    assert fake.private_key not in caplog.text  # ...without the key


def test_429_with_retry_after_is_honoured():
    fake = FakeConnectWise()
    fake.fail(429, path="/company/configurations", headers={"Retry-After": "3"},
              body={"code": "TooManyRequests", "message": "slow down"})
    sleeps = Sleeps()
    items, _ = fetch_all(connector(fake, sleeps))
    assert sleeps == [3.0]
    assert len(items) == fake.item_count()


def test_a_500_then_success_is_retried():
    fake = FakeConnectWise()
    fake.fail(500, path="/company/companies", body="<html>oops</html>")
    sleeps = Sleeps()
    items, _ = fetch_all(connector(fake, sleeps))
    assert len(sleeps) == 1 and len(items) == fake.item_count()


def test_malformed_rows_are_skipped_with_warnings():
    fake = FakeConnectWise(companies=2, configurations_per_company=1)
    ref = {"id": 101, "identifier": "Client001", "name": "Client 001 Ltd"}
    info = {"lastUpdated": "2026-01-01T00:00:00Z"}
    fake.entities["configurations"] += [
        {"id": 2900, "name": "", "company": ref, "activeFlag": True, "_info": info},
        {"id": 2901, "company": ref, "activeFlag": True, "_info": info},
        {"name": "no id", "company": ref, "activeFlag": True, "_info": info},
    ]
    fake.entities["contacts"].append({"id": 7900, "firstName": " ", "company": ref, "inactiveFlag": False,
                                      "_info": info})
    items, pages = fetch_all(connector(fake))
    warnings = [w for p in pages for w in p.warnings]
    assert len(warnings) == 4
    assert "skipped configurations id 2900: it has no name" in warnings
    assert any(w.startswith("skipped configurations row") and "no numeric id" in w for w in warnings)
    assert "skipped contacts id 7900: it has no name" in warnings
    assert len(items) == fake.item_count() - 4


def test_a_truncated_page_is_a_clear_error():
    fake = FakeConnectWise()
    fake.fail(200, path="/company/configurations", body='[{"id": 2001, "name": "C0',
              headers={"Content-Type": "application/json"})
    with pytest.raises(ConnectorError) as failure:
        fetch_all(connector(fake))
    assert "/company/configurations answered a body that is not JSON" in str(failure.value)
    assert INTEGRATION in str(failure.value)


def test_a_page_of_the_wrong_shape_is_a_clear_error():
    fake = FakeConnectWise()
    fake.fail(200, path="/company/companies", body={"items": []}, headers={"Content-Type": "application/json"})
    with pytest.raises(ConnectorError, match="JSON object where an array was expected"):
        fetch_all(connector(fake))


def test_full_fetch_over_a_real_loopback_socket(serve, caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeConnectWise(companies=4)
    # An on-premise style site, given as a URL: the codebase lookup runs over the socket too.
    conn = ConnectWiseConnector(INTEGRATION, settings(fake, site=serve(fake), page_size=3))
    items, _ = fetch_all(conn)
    assert fake.paths()[0] == f"/login/companyinfo/{fake.company_id}"
    assert len(items) == fake.item_count()
    assert {i.remote_company for i in items} == {f"Client {n:03d} Ltd" for n in range(1, 5)}
    assert fake.private_key not in caplog.text


def test_wrong_credentials_over_a_real_loopback_socket(serve):
    fake = FakeConnectWise()
    conn = ConnectWiseConnector(INTEGRATION, settings(fake, base_url=f"{serve(fake)}/{fake.codebase}apis/3.0/",
                                                      private_key="nope-nope-nope"))
    with pytest.raises(AuthenticationError, match=f"authentication failed for {INTEGRATION}"):
        fetch_all(conn)


def test_unreachable_host_names_it():
    conn = ConnectWiseConnector(INTEGRATION, settings(FakeConnectWise(), site="http://127.0.0.1:9"),
                                sleep=Sleeps())
    with pytest.raises(ConnectorError, match="cannot connect to 127.0.0.1"):
        fetch_all(conn)


def test_registered_and_configurable():
    assert registry.load("connectwise") is ConnectWiseConnector
    names = {s.name: s for s in settings_schema_for("connectwise")}
    assert names["private_key"].secret and not names["public_key"].secret
    config = parse_config("""
        [[integrations]]
        name = "CW"
        kind = "connectwise"
        site = "api-na.myconnectwise.net"
        company_id = "acme"
        public_key = "pub"
        private_key = "env:CW_PRIVATE"
        client_id = "abc"
    """)
    assert config.integration("CW").settings["private_key"] == "env:CW_PRIVATE"


# --- identity keys, scope and deletions ----------------------------------------------------------

def test_configurations_carry_serial_mac_and_host_name_and_contacts_their_default_email():
    fake = FakeConnectWise(companies=1, configurations_per_company=1, contacts_per_company=1)
    fake.entities["contacts"][0]["communicationItems"].insert(0, {
        "id": 1, "type": {"id": 1, "name": "Email"}, "value": "old@client001.example", "defaultFlag": False,
        "communicationType": "Email"})
    items, _ = fetch_all(connector(fake))
    by_type = {i.type: i for i in items}
    device = by_type[ResourceType.DEVICE]
    assert device.keys.serial == "CWSN2001"
    assert device.keys.macs == ("00:1A:00:01:00:00",)
    assert device.keys.hostname == "C001-WS-00"
    assert device.payload["tagNumber"] == "ASSET-0000"  # kept, not a key (see the module doc)
    assert by_type[ResourceType.CONTACT].keys.email == "first0@client001.example"  # the default one
    assert not by_type[ResourceType.CLIENT].keys


def test_placeholder_serials_are_copied_as_sent_for_the_core_to_judge():
    fake = FakeConnectWise(companies=2, out_of_scope=True)
    items, _ = fetch_all(connector(fake))
    serials = {i.keys.serial for i in items if i.type is ResourceType.DEVICE}
    assert {"To Be Filled By O.E.M.", "Default string", "0"} <= serials


def test_by_default_only_active_clients_and_their_active_items_sync():
    fake = FakeConnectWise(companies=2, out_of_scope=True)
    items, _ = fetch_all(connector(fake))
    assert len(items) == fake.item_count()
    assert not {int(i.external_id) for i in items} & fake.out_of_scope_ids
    assert {i.name for i in items if i.type is ResourceType.CLIENT} == {"Client 001 Ltd", "Client 002 Ltd"}
    # Inactive items are filtered in the request; out-of-scope companies' sites are not even asked for.
    conditions = {r.path.rsplit("/", 1)[-1]: r.query.get("conditions") for r in fake.requests if "/apis/" in r.path}
    assert conditions["configurations"] == "activeFlag=true"
    assert conditions["contacts"] == "inactiveFlag=false"
    assert not any(f"/companies/{n}/sites" in p for p in fake.paths() for n in (901, 902, 903, 904))


def test_scope_settings_choose_company_types_statuses_and_inactive_items():
    fake = FakeConnectWise(companies=1, out_of_scope=True)
    items, _ = fetch_all(connector(fake, company_types=["client", "Vendor"], company_statuses=[],
                                   include_inactive=True))
    clients = {i.name for i in items if i.type is ResourceType.CLIENT}
    # Any status now, and vendors too; a deleted company never; prospects were not asked for.
    assert clients == {"Client 001 Ltd", "Other 1 (Vendor)", "Other 3 (Client)"}
    names = {i.name for i in items}
    assert {"Client001-OLD", "Former Client001", "OTHER-1", "OTHER-3"} <= names
    assert "OTHER-2" not in names and "OTHER-4" not in names


def test_live_ids_list_what_is_in_scope_asking_for_ids_alone():
    fake = FakeConnectWise(companies=2, out_of_scope=True)
    conn = connector(fake)
    with conn:
        listed = {}
        for page in conn.live_ids():
            listed.setdefault(page.type, set()).update(page.ids)
    items, _ = fetch_all(connector(fake))
    expected = {}
    for i in items:
        if i.type is not ResourceType.SITE:
            expected.setdefault(i.type, set()).add(i.external_id)
    assert listed == expected  # sites only after a fetch: see the next test
    fields = {r.query.get("fields") for r in fake.requests if "/apis/" in r.path}
    assert "id,company/id" in fields


def test_an_item_deleted_between_two_incremental_syncs_is_marked_removed_after_the_second(store):
    from syncview.services.sync import sync_connector
    from tests.helpers import rows

    fake = FakeConnectWise(companies=2, out_of_scope=True)
    assert sync_connector(store, connector(fake)).full
    quiet = sync_connector(store, connector(fake))
    assert not quiet.full and quiet.counts.fetched == 4 == quiet.counts.unchanged  # the sites, whole
    assert quiet.counts.removed == 0
    gone = fake.entities["configurations"].pop(0)
    fake.entities["contacts"][0]["inactiveFlag"] = True  # made inactive: out of scope from now on
    closed = fake.sites[101].pop()

    report = sync_connector(store, connector(fake))

    assert not report.full and report.counts.removed == 3
    removed = rows(store, "SELECT type, external_id FROM resource WHERE deleted_remotely = 1 ORDER BY type")
    assert removed == [("contact", str(fake.entities["contacts"][0]["id"])), ("device", str(gone["id"])),
                       ("site", str(closed["id"]))]


def test_a_row_the_fetch_skips_as_malformed_is_still_live_for_the_id_pass(store):
    from syncview.services.sync import sync_connector

    fake = FakeConnectWise(companies=2)
    sync_connector(store, connector(fake))
    fake.entities["companies"][0]["name"] = fake.entities["companies"][0]["identifier"] = ""

    report = sync_connector(store, connector(fake))

    assert not report.full and report.counts.removed == 0
