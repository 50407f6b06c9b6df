"""Autotask PSA connector against a fake server that behaves as the vendor documents."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import timedelta

import pytest

from syncview.config import parse_config, settings_schema_for
from syncview.connectors import registry
from syncview.connectors.autotask import AutotaskConnector
from syncview.domain import RemoteItem, ResourceType
from syncview.errors import AuthenticationError, ConfigError, ConnectorError
from tests.connectors.fakes.autotask import EPOCH, FakeAutotask
from tests.connectors.fakes.wsgi import Response, transport

INTEGRATION = "Autotask Production"


class Sleeps(list):
    """A sleep function recording its calls instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def settings(fake: FakeAutotask, **overrides) -> dict:
    return {"username": fake.username, "integration_code": fake.integration_code, "secret": fake.secret,
            **overrides}


def connector(fake: FakeAutotask, sleeps: Sleeps | None = None, **overrides) -> AutotaskConnector:
    return AutotaskConnector(INTEGRATION, settings(fake, **overrides), transport=transport(fake),
                             sleep=sleeps if sleeps is not None else Sleeps())


def fetch_all(conn: AutotaskConnector, since=None) -> tuple[list[RemoteItem], list]:
    with conn:
        pages = list(conn.fetch(since))
    return [item for page in pages for item in page.items], pages


def bodies(fake: FakeAutotask, entity: str) -> list[dict]:
    """JSON bodies of the first-page queries (not counts) sent for ``entity``."""
    return [r.json() for r in fake.requests if r.path.endswith(f"/{entity}/query")]


# --------------------------------------------------------------------------- fetching


def test_full_fetch_yields_typed_items_with_names_and_remote_companies():
    fake = FakeAutotask(companies=4, locations_per_company=2, devices_per_company=300, contacts_per_company=3)
    items, pages = fetch_all(connector(fake))

    # 1 200 devices are a first page of 500 (the API's page size), then the ids after it in
    # two ranges queried at once, each paged to its end; the inactive contact of each company
    # is left out.
    assert Counter(i.type for i in items) == {
        ResourceType.CLIENT: 4, ResourceType.SITE: 8, ResourceType.DEVICE: 1200, ResourceType.CONTACT: 8}
    sizes = [len(p.items) for p in pages if p.entity == "devices"]
    assert sizes[0] == 500 and sum(sizes) == 1200 and max(sizes) <= 500 and len(sizes) in (3, 4), sizes
    assert {p.entity: p.total for p in pages} == {"companies": 4, "sites": 8, "devices": 1200, "contacts": 8}
    assert len({(i.type, i.external_id) for i in items}) == len(items)

    by_key = {(i.type, i.external_id): i for i in items}
    owner = by_key[ResourceType.CLIENT, "0"]
    assert (owner.name, owner.remote_company) == ("Fake MSP (owner)", "Fake MSP (owner)")
    company = by_key[ResourceType.CLIENT, "29682001"]
    assert (company.name, company.remote_company) == ("Company 001 Ltd", "Company 001 Ltd")
    site = by_key[ResourceType.SITE, "31100"]
    assert (site.name, site.remote_company) == ("Company 001 Ltd - Site 1", "Company 001 Ltd")
    device = by_key[ResourceType.DEVICE, "5010299"]
    assert (device.name, device.remote_company) == ("C001-WS-299", "Company 001 Ltd")
    assert device.payload["serialNumber"] == "SN00100299"
    contact = by_key[ResourceType.CONTACT, "30701000"]
    assert (contact.name, contact.remote_company) == ("Person0 Of001", "Company 001 Ltd")
    # Contacts answer isActive as 1/0; the payload shows a boolean like the other entities.
    assert contact.payload["isActive"] is True
    assert (ResourceType.CONTACT, "30701002") not in by_key  # inactive
    assert [p.entity for p in pages] == ["companies", "sites", "devices", "devices", "devices", "contacts"]
    assert all(not p.warnings for p in pages)


def test_zone_is_looked_up_without_credentials_then_used():
    fake = FakeAutotask(zone_origin="https://webservices15.autotask.net")
    fetch_all(connector(fake))

    lookup = fake.requests[0]
    assert lookup.origin == "https://webservices.autotask.net"
    assert lookup.path == "/atservicesrest/v1.0/zoneInformation"
    assert lookup.query == {"user": fake.username}
    assert "secret" not in lookup.headers and "apiintegrationcode" not in lookup.headers
    assert {r.origin for r in fake.requests[1:]} == {"https://webservices15.autotask.net"}
    assert fake.requests[1].path.startswith("/ATServicesRest/V1.0/")


def test_configured_zone_url_skips_the_lookup():
    fake = FakeAutotask()
    fetch_all(connector(fake, zone_url="https://webservices2.autotask.net/ATServicesRest"))
    assert not any("zoneinformation" in r.path.lower() for r in fake.requests)
    assert {r.origin for r in fake.requests} == {"https://webservices2.autotask.net"}


def test_every_entity_request_carries_the_three_headers():
    fake = FakeAutotask()
    fetch_all(connector(fake))
    for request in fake.requests[1:]:
        assert request.headers["apiintegrationcode"] == fake.integration_code
        assert request.headers["username"] == fake.username
        assert request.headers["secret"] == fake.secret


def test_queries_ask_for_every_row_and_follow_next_page_urls_with_get():
    # One request at a time (concurrency 1): one query, paged on by its nextPageUrl.
    fake = FakeAutotask(companies=2, devices_per_company=600)
    fetch_all(connector(fake, concurrency=1))
    assert bodies(fake, "Companies") == [{"filter": [{"op": "gte", "field": "id", "value": 0}]}]
    device_requests = [(r.method, r.path.rsplit("/", 2)[-2:]) for r in fake.requests
                       if "/ConfigurationItems/" in r.path]
    assert device_requests == [("POST", ["query", "count"]), ("POST", ["ConfigurationItems", "query"]),
                               ("GET", ["query", "next"]), ("GET", ["query", "next"])]


def _device_queries(fake: FakeAutotask) -> list[list[dict]]:
    """The filters of every ConfigurationItems query (the first POST of each, not counts or next pages)."""
    return [body["filter"] for body in bodies(fake, "ConfigurationItems")]


def test_a_large_entity_is_fetched_in_id_ranges_at_once_within_three_per_endpoint():
    # 6 000 devices are 12 pages: after the first, the ids left are split into three ranges,
    # each one query paged on by its own nextPageUrl, all three in flight at once (the fake
    # answers 429 and fails the test beyond Autotask's 3 per endpoint).
    fake = FakeAutotask(companies=3, devices_per_company=2000)
    fake.latency = 0.02
    items, pages = fetch_all(connector(fake))
    devices = [i.external_id for i in items if i.type is ResourceType.DEVICE]
    assert sorted(devices) == sorted(str(row["id"]) for row in fake.entities["ConfigurationItems"])
    assert len(set(devices)) == 6000
    assert {p.total for p in pages if p.entity == "devices"} == {6000}

    first, *ranges = _device_queries(fake)
    last_of_first = fake.entities["ConfigurationItems"][499]["id"]
    assert first == [{"op": "eq", "field": "isActive", "value": True}]
    assert len(ranges) == 3
    ranges.sort(key=lambda r: next(f["value"] for f in r if f["op"] == "gt"))  # sent at once: any order
    lows = [next(f["value"] for f in r if f["op"] == "gt") for r in ranges]
    highs = [next((f["value"] for f in r if f["op"] == "lte"), None) for r in ranges]
    assert lows[0] == last_of_first and lows[1:] == highs[:-1] and highs[-1] is None  # adjoining, the last open
    assert all(r[0] == first[0] for r in ranges)  # each keeps the query's own filter
    device_requests = [r for r in fake.requests if "/configurationitems/" in r.path.lower()
                       and not r.path.lower().endswith("/count")]
    assert len(device_requests) <= 12 + 2  # at most one short page per range more than one query sends
    assert fake.meter.most_per_endpoint == 3


def test_id_ranges_lose_no_row_when_the_ids_are_not_evenly_spread():
    # The first page's ids are dense and the rest far apart: the estimate puts nearly every row
    # in the last, open range, which pages on to the end.
    fake = FakeAutotask(companies=2, devices_per_company=1500)
    rows = fake.entities["ConfigurationItems"]
    for number, row in enumerate(rows):
        row["id"] = 1_000 + number if number < 600 else 10_000_000 + number * 997
    items, _ = fetch_all(connector(fake))
    assert sorted(int(i.external_id) for i in items if i.type is ResourceType.DEVICE) == sorted(r["id"] for r in rows)


def test_a_first_page_out_of_id_order_is_paged_on_as_one_query():
    fake = FakeAutotask(companies=2, devices_per_company=1000)
    rows = fake.entities["ConfigurationItems"]
    rows[0]["id"], rows[1]["id"] = rows[1]["id"], rows[0]["id"]
    select = fake._select

    def first_page_swapped(entity, search, *, after=None, limit=None):
        rows = select(entity, search, after=after, limit=limit)
        return _swap_first_two(rows) if after is None else rows

    fake._select = first_page_swapped  # type: ignore[method-assign]
    items, _ = fetch_all(connector(fake))
    assert len([i for i in items if i.type is ResourceType.DEVICE]) == 2000
    assert len(_device_queries(fake)) == 1


def _swap_first_two(rows: list[dict]) -> list[dict]:
    return [rows[1], rows[0], *rows[2:]] if len(rows) > 1 else rows


def test_requests_are_limited_by_default_to_half_of_what_a_database_allows():
    # Autotask allows 10 000 requests an hour per database and adds latency from half of that on,
    # to every integration on it: by default syncview stays under half, leaving the rest to the
    # MSP's other integrations, and sends at most 3 at once per endpoint, as documented.
    limits = connector(FakeAutotask()).http.limits
    assert limits.window == 3600 and limits.rate is not None and limits.rate <= 5_000
    assert (limits.concurrency, limits.per_endpoint) == (3, True)


def test_incremental_fetch_asks_only_for_changed_devices_and_contacts():
    changed_device, changed_contact = 5_010_001, 30_702_000
    fake = FakeAutotask(companies=3, changed=frozenset({changed_device, changed_contact}))
    items, _ = fetch_all(connector(fake), since=EPOCH + timedelta(days=1))

    counts = Counter(i.type for i in items)
    # Companies (needed for names) and locations (no change time) come whole.
    assert counts[ResourceType.CLIENT] == 3 and counts[ResourceType.SITE] == 6
    assert [i.external_id for i in items if i.type is ResourceType.DEVICE] == [str(changed_device)]
    assert [i.external_id for i in items if i.type is ResourceType.CONTACT] == [str(changed_contact)]
    # Their remote company still comes from the full companies pass.
    assert {i.remote_company for i in items if i.type is ResourceType.DEVICE} == {"Company 001 Ltd"}
    assert bodies(fake, "ConfigurationItems") == [
        {"filter": [{"op": "gt", "field": "lastModifiedTime", "value": "2026-01-02T00:00:00Z"},
                    {"op": "eq", "field": "isActive", "value": True}]}]
    assert bodies(fake, "Contacts") == [
        {"filter": [{"op": "gt", "field": "lastModifiedDate", "value": "2026-01-02T00:00:00Z"},
                    {"op": "eq", "field": "isActive", "value": 1}]}]
    assert AutotaskConnector.supports_incremental


# --------------------------------------------------------------------------- credentials and secrets


@pytest.mark.parametrize("wrong", ["secret", "integration_code"])
def test_wrong_credentials_are_an_authentication_error_without_the_secret(wrong, caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeAutotask()
    bad_value = f"wrong-{wrong}-Xy7Q"
    with pytest.raises(AuthenticationError) as failure:
        fetch_all(connector(fake, **{wrong: bad_value}))
    message = str(failure.value)
    assert f"authentication failed for {INTEGRATION}" in message
    assert "401" in message and "check username, integration_code and secret" in message
    for text in (message, repr(failure.value), caplog.text):
        assert fake.secret not in text
        assert bad_value not in text


def test_unknown_user_fails_at_the_zone_lookup_as_an_authentication_error():
    fake = FakeAutotask()
    with pytest.raises(AuthenticationError) as failure:
        fetch_all(connector(fake, username="nobody@msp.example"))
    message = str(failure.value)
    assert f"authentication failed for {INTEGRATION}" in message
    assert "nobody@msp.example" in message and "zone" in message
    assert fake.secret not in message
    assert len(fake.requests) == 1  # nothing was sent with credentials


def test_secret_never_appears_in_logs_of_a_sync_with_retries(caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeAutotask()
    fake.fail_page(429, entity="Companies", page=1, headers={"Retry-After": "1"})
    fake.fail_page(500, entity="Contacts", page=1, body={"errors": [f"boom near {fake.secret}"]})
    fetch_all(connector(fake))
    assert "Contacts/query" in caplog.text and "answered 429" in caplog.text  # requests are logged...
    assert fake.secret not in caplog.text  # ...without the secret
    assert fake.integration_code not in caplog.text


def test_an_echoed_secret_is_masked_in_the_error():
    fake = FakeAutotask()
    fake.fail_page(400, entity="Companies", page=1, body={"errors": [f"invalid header Secret={fake.secret}"]})
    with pytest.raises(ConnectorError) as failure:
        fetch_all(connector(fake))
    assert "invalid header Secret=***" in str(failure.value)
    assert fake.secret not in str(failure.value)


# --------------------------------------------------------------------------- misbehaving server


def test_429_with_retry_after_is_honoured():
    fake = FakeAutotask(companies=2, devices_per_company=300)
    fake.fail_page(429, entity="ConfigurationItems", page=2, headers={"Retry-After": "7"},
                   body={"errors": ["Rate limit exceeded"]})
    sleeps = Sleeps()
    items, _ = fetch_all(connector(fake, sleeps))
    assert 7.0 in sleeps
    assert sum(i.type is ResourceType.DEVICE for i in items) == 600
    assert len([r for r in fake.requests if r.path.endswith("/ConfigurationItems/query/next")]) == 2


def test_a_500_then_success_is_retried():
    fake = FakeAutotask()
    fake.fail_page(500, entity="CompanyLocations", page=1, body={"errors": ["Object reference not set"]})
    items, _ = fetch_all(connector(fake))
    assert sum(i.type is ResourceType.SITE for i in items) == 6


def test_a_page_that_is_not_json_is_a_clear_error():
    fake = FakeAutotask(companies=2, devices_per_company=300)
    fake.fail_page(200, entity="ConfigurationItems", page=2, body='{"items": [{"id": 5010',
                   headers={"Content-Type": "application/json"})
    with pytest.raises(ConnectorError) as failure:
        fetch_all(connector(fake))
    message = str(failure.value)
    assert message.startswith(f"{INTEGRATION}: GET ")
    assert "/ConfigurationItems/query/next" in message and "not JSON" in message


def test_a_page_without_items_is_a_clear_error():
    fake = FakeAutotask()
    fake.fail_page(200, entity="Contacts", page=1, body={"pageDetails": {"count": 0, "nextPageUrl": None}},
              headers={"Content-Type": "application/json"})
    with pytest.raises(ConnectorError, match=r"Autotask answered page 1 of Contacts without an items list"):
        fetch_all(connector(fake))


def test_malformed_rows_are_skipped_with_warnings_and_orphans_kept():
    fake = FakeAutotask(companies=2)
    fake.entities["Companies"].append({"id": 29_690_000, "companyName": "  "})
    rows = [
        {"id": 5_000_000, "companyID": 0, "referenceTitle": "GOOD-PC"},
        {"companyID": 0, "referenceTitle": "NO-ID-PC"},
        {"id": "5000001", "companyID": 0, "referenceTitle": "STRING-ID-PC"},
        {"id": 5_900_000, "companyID": 0, "referenceTitle": None, "serialNumber": ""},
        {"id": 5_900_001, "companyID": 0, "referenceTitle": None, "rmmDeviceAuditHostname": "RMM-HOST-1"},
        {"id": 5_900_002, "companyID": 424242, "referenceTitle": "NEW-COMPANY-PC"},
        "not an object",
    ]
    fake.fail_page(200, entity="ConfigurationItems", page=1, headers={"Content-Type": "application/json"},
                   body={"items": rows, "pageDetails": {"count": len(rows), "requestCount": 500,
                                                        "prevPageUrl": None, "nextPageUrl": None}})
    items, pages = fetch_all(connector(fake))
    warnings = [w for p in pages for w in p.warnings]

    assert "skipped companies id 29690000: it has no companyName" in warnings
    assert "skipped devices row 2 of the page: it has no numeric id" in warnings
    assert "skipped devices id 5000001: it has no numeric id" in warnings
    assert any(w.startswith("skipped devices id 5900000: it has no referenceTitle") for w in warnings)
    assert "skipped devices row 7 of the page: it is a JSON str, not an object" in warnings
    by_id = {i.external_id: i for i in items if i.type is ResourceType.DEVICE}
    assert set(by_id) == {"5000000", "5900001", "5900002"}
    assert by_id["5900001"].name == "RMM-HOST-1"
    # A device of a company created after the companies pass is kept, without a remote company.
    assert by_id["5900002"].remote_company is None
    assert any("'NEW-COMPANY-PC'" in w and "company 424242" in w for w in warnings)
    assert sum(i.type is ResourceType.CLIENT for i in items) == 2


# --------------------------------------------------------------------------- over a real socket


def test_full_fetch_with_zone_lookup_over_a_real_loopback_socket(serve, caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeAutotask(companies=2, devices_per_company=260)
    base_url = serve(fake)
    # Real sockets, but no real waiting: the rate limiter's and Retry-After's sleeps are recorded.
    conn = AutotaskConnector(INTEGRATION, settings(fake), sleep=Sleeps())
    conn.zone_lookup_url = f"{base_url}/atservicesrest/v1.0/zoneInformation"
    fake.fail_page(429, entity="ConfigurationItems", page=2, headers={"Retry-After": "0"})
    items, pages = fetch_all(conn)
    assert Counter(i.type for i in items) == {
        ResourceType.CLIENT: 2, ResourceType.SITE: 4, ResourceType.DEVICE: 520, ResourceType.CONTACT: 4}
    assert [len(p.items) for p in pages if p.entity == "devices"] == [500, 20]
    assert fake.secret not in caplog.text


def test_wrong_secret_over_a_real_loopback_socket(serve):
    fake = FakeAutotask()
    base_url = serve(fake)
    conn = AutotaskConnector(INTEGRATION, settings(fake, secret="nope-nope-nope",
                                                   zone_url=f"{base_url}/ATServicesRest/"), sleep=Sleeps())
    with pytest.raises(AuthenticationError, match=f"authentication failed for {INTEGRATION}") as failure:
        fetch_all(conn)
    assert "nope-nope-nope" not in str(failure.value)


# --------------------------------------------------------------------------- registration


def test_registered_and_configurable():
    assert registry.load("autotask") is AutotaskConnector
    assert {s.name for s in settings_schema_for("autotask")} == {"username", "integration_code", "secret",
                                                                 "zone_url", "company_types", "include_inactive"}
    config = parse_config("""
        [[integrations]]
        name = "Autotask"
        kind = "autotask"
        username = "sync-api@msp.example"
        integration_code = "env:AUTOTASK_INTEGRATION_CODE"
        secret = "env:AUTOTASK_SECRET"
    """)
    assert config.integration("Autotask").settings["secret"] == "env:AUTOTASK_SECRET"
    secrets = {s.name for s in settings_schema_for("autotask") if s.secret}
    assert secrets == {"secret", "integration_code"}


def test_the_fake_pages_like_autotask():
    """The fake itself: 500 a page, count/requestCount, and a next URL that pages statelessly."""
    fake = FakeAutotask(companies=1, devices_per_company=501)
    conn = connector(fake)
    with conn:
        first = list(conn.fetch())
    page_bodies = [r for r in fake.requests if "/ConfigurationItems/query" in r.path]
    assert [r.method for r in page_bodies] == ["POST", "POST", "GET"]
    assert json.loads(page_bodies[2].query["paging"])["lastId"] == 5_000_499
    assert [len(p.items) for p in first if p.entity == "devices"] == [500, 1]


# --------------------------------------------------------------------------- keys, scope, deletions


def test_configuration_items_carry_serial_and_the_rmm_audit_and_contacts_their_email():
    fake = FakeAutotask(companies=2, devices_per_company=2, contacts_per_company=2)
    items, _ = fetch_all(connector(fake))
    devices = {i.external_id: i for i in items if i.type is ResourceType.DEVICE}
    audited, plain = devices["5010000"], devices["5010001"]
    assert audited.keys.serial == "SN00100000"
    assert audited.keys.hostname == "c001-ws-000.corp.local"  # as audited: the core strips the domain
    assert audited.keys.macs == ("00:50:56:01:00:00", "0a:00:27:00:00:00")
    assert audited.keys.xrefs == ("datto_rmm:device:9c2d4b1e-0001-4000-8000-000000000000",)
    assert (plain.keys.serial, plain.keys.macs, plain.keys.hostname, plain.keys.xrefs) == ("SN00100001", (), None, ())
    contact = next(i for i in items if i.type is ResourceType.CONTACT)
    assert contact.keys.email == "p0@c000.example"


def test_by_default_only_active_customers_and_their_active_items_sync():
    fake = FakeAutotask(companies=2, out_of_scope=True)
    items, _ = fetch_all(connector(fake))
    assert len(items) == fake.item_count()
    entity = {ResourceType.CLIENT: "Companies", ResourceType.SITE: "CompanyLocations",
              ResourceType.DEVICE: "ConfigurationItems", ResourceType.CONTACT: "Contacts"}
    assert not {(entity[i.type], int(i.external_id)) for i in items} & fake.out_of_scope
    serials = {i.keys.serial for i in items if i.type is ResourceType.DEVICE}
    assert {"To Be Filled By O.E.M.", "System Serial Number", "N/A"} <= serials  # copied as sent
    assert {"op": "eq", "field": "isActive", "value": True} in bodies(fake, "ConfigurationItems")[0]["filter"]


def test_scope_settings_choose_company_types_and_inactive_rows():
    fake = FakeAutotask(companies=1, out_of_scope=True)
    items, _ = fetch_all(connector(fake, company_types=["customer", "Vendor", "3"], include_inactive=True))
    clients = {i.name for i in items if i.type is ResourceType.CLIENT}
    assert clients == {"Fake MSP (owner)", "Other 2", "Other 3", "Other 4"}  # prospect, vendor, inactive customer
    assert {"OTHER-2", "OTHER-3", "RETIRED-0"} <= {i.name for i in items}
    with pytest.raises(ConfigError, match="unknown company type 'Clients'; use Customer, Lead"):
        connector(fake, company_types=["Clients"])


def test_live_ids_list_what_is_in_scope_asking_for_ids_alone():
    fake = FakeAutotask(companies=2, out_of_scope=True)
    items, _ = fetch_all(connector(fake))
    conn = connector(fake)
    with conn:
        listed = {}
        for page in conn.live_ids():
            listed.setdefault(page.type, set()).update(page.ids)
    expected = {}
    for i in items:
        expected.setdefault(i.type, set()).add(i.external_id)
    assert listed == expected
    assert bodies(fake, "Contacts")[-1]["IncludeFields"] == ["id", "companyID"]


def test_an_item_deleted_between_two_incremental_syncs_is_marked_removed_after_the_second(store):
    from syncview.services.sync import sync_connector
    from tests.helpers import rows

    fake = FakeAutotask(companies=2, out_of_scope=True)
    assert sync_connector(store, connector(fake)).full
    assert not sync_connector(store, connector(fake)).counts.removed
    gone = fake.entities["ConfigurationItems"].pop(0)
    fake.entities["Contacts"][0]["isActive"] = 0  # made inactive: out of scope from now on

    report = sync_connector(store, connector(fake))

    assert not report.full and report.counts.removed == 2
    assert rows(store, "SELECT type, external_id FROM resource WHERE deleted_remotely = 1 ORDER BY type") == [
        ("contact", str(fake.entities["Contacts"][0]["id"])), ("device", str(gone["id"]))]


# --------------------------------------------------------------------------- the database's own count


def test_usage_is_the_database_s_count_of_every_integration_s_requests_this_hour():
    fake = FakeAutotask()
    fake.other_requests = 4_200  # the RMM, the backup tool and the rest, on the same database
    with connector(fake) as conn:
        # Its own requests count too: the zone lookup and this one.
        assert conn.usage() == "the database has used 4,202 of its 10,000 requests this hour"
        fake.other_requests = 6_000
        assert conn.usage() == ("the database has used 6,003 of its 10,000 requests this hour "
                                "(from half on, Autotask slows every integration of the database down)")
    assert [r.path for r in fake.requests if "Threshold" in r.path] == ["/ATServicesRest/V1.0/ThresholdInformation"] * 2


@pytest.mark.parametrize("answer", [
    {"externalRequestThreshold": 10_000},  # no count
    {"externalRequestThreshold": "10000", "requestThresholdTimeframe": 60, "currentTimeframeRequestCount": 3},
    {"externalRequestThreshold": 0, "requestThresholdTimeframe": 60, "currentTimeframeRequestCount": 3},
])
def test_a_count_autotask_does_not_give_plainly_is_no_usage_and_no_error(answer):
    fake = FakeAutotask()
    fake._threshold = lambda: Response.json(answer)
    with connector(fake) as conn:
        assert conn.usage() is None


def test_a_failing_count_is_no_usage_and_no_error():
    fake = FakeAutotask()
    fake.fail(500, path="ThresholdInformation", times=10)
    with connector(fake) as conn:
        assert conn.usage() is None
