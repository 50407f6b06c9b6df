"""Concurrent fetching against the fakes on real loopback sockets, each answer delayed: every item
arrives, in order where order matters, with more than one request in flight, and the fake never
sees more than the documented limits allow (it counts, and answers 429 beyond them)."""

from __future__ import annotations

import pytest

from syncview.connectors.autotask import AutotaskConnector
from syncview.connectors.connectwise import ConnectWiseConnector
from syncview.connectors.datto_rmm import DattoRmmConnector
from syncview.connectors.halopsa import HaloPsaConnector
from syncview.connectors.limits import Limiter, Limits
from syncview.domain import ResourceType
from tests.connectors.fakes.autotask import FakeAutotask
from tests.connectors.fakes.connectwise import FakeConnectWise
from tests.connectors.fakes.datto_rmm import FakeDattoRmm
from tests.connectors.fakes.halopsa import FakeHaloPsa
from tests.connectors.fakes.wsgi import Limits as FakeLimits
from tests.connectors.fakes.wsgi import Meter

LATENCY = 0.02


def fetched(conn) -> list:
    with conn:
        return [page for page in conn.fetch()]


def test_datto_pages_come_at_once_in_order_within_its_limits(serve):
    fake = FakeDattoRmm(sites=300, devices_per_site=9)  # 2 site pages, 11 device pages
    fake.latency = LATENCY
    pages = fetched(DattoRmmConnector("Datto", {"api_url": serve(fake), "api_key": fake.api_key,
                                                "api_secret": fake.api_secret}))
    assert [p.entity for p in pages] == ["sites"] * 2 + ["devices"] * 11  # sites first: devices need them
    devices = [i.external_id for p in pages for i in p.items if i.type is ResourceType.DEVICE]
    assert devices == [d["uid"] for d in fake.live_devices()]  # every one, in the product's order
    assert fake.meter.violations == []
    assert 1 < fake.meter.most_in_flight <= 10


def test_datto_rate_is_never_passed_in_any_window(serve):
    fake = FakeDattoRmm(sites=100, devices_per_site=9)  # 1 + 4 pages and a token
    fake.latency = LATENCY
    # Datto's rule at a scale a test can wait for: 4 requests a second, the limiter allowed 3.
    fake.meter = Meter(FakeLimits(rate=4, window=1.0))
    conn = DattoRmmConnector("Datto", {"api_url": serve(fake), "api_key": fake.api_key,
                                       "api_secret": fake.api_secret})
    conn.http.limiter = Limiter(Limits(rate=3, window=1.0, concurrency=10))
    pages = fetched(conn)
    assert sum(len(p.items) for p in pages) == 100 * 2 + len(fake.live_devices())
    assert fake.meter.violations == [] and fake.meter.most_in_window <= 3


def autotask_fake() -> FakeAutotask:
    """A database of 40 companies whose entities each span several pages, answering slowly."""
    fake = FakeAutotask(companies=40, locations_per_company=1, devices_per_company=30, contacts_per_company=30,
                        page_size=50)
    fake.latency = LATENCY
    return fake


def test_autotask_never_passes_three_at_once_per_entity(serve):
    fake = autotask_fake()
    url = serve(fake)
    pages = fetched(AutotaskConnector("Autotask", {"username": fake.username, "integration_code": fake.integration_code,
                                                   "secret": fake.secret, "zone_url": f"{url}/ATServicesRest/"}))
    entities = [p.entity for p in pages]
    assert entities == sorted(entities, key=["companies", "sites", "devices", "contacts"].index)
    assert sum(len(p.items) for p in pages) == fake.item_count()
    assert fake.meter.violations == []
    assert fake.meter.most_per_endpoint <= 3 and fake.meter.most_in_flight > 1  # entities at once


def test_connectwise_lists_pages_and_sites_at_once_in_order(serve):
    fake = FakeConnectWise(companies=30, configurations_per_company=40, contacts_per_company=3)
    fake.latency = LATENCY
    fake.meter = Meter(FakeLimits(concurrency=4))
    pages = fetched(ConnectWiseConnector("CW", {"site": serve(fake), "company_id": fake.company_id,
                                                "public_key": fake.public_key, "private_key": fake.private_key,
                                                "client_id": fake.client_id, "page_size": 100}))
    entities = [p.entity for p in pages]
    assert entities == sorted(entities, key=["companies", "sites", "configurations", "contacts"].index)
    configurations = [i.external_id for p in pages for i in p.items if i.type is ResourceType.DEVICE]
    assert configurations == sorted(configurations, key=int) and len(configurations) == 30 * 40
    assert sum(len(p.items) for p in pages) == fake.item_count()
    assert fake.meter.violations == [] and fake.meter.most_in_flight == 4


@pytest.mark.parametrize("page_size", [7, 100])
def test_halo_pages_come_at_once_whole_and_in_order(serve, page_size):
    fake = FakeHaloPsa(clients=40, assets_per_client=5, users_per_client=3)
    fake.latency = LATENCY
    fake.meter = Meter(FakeLimits(concurrency=4))
    pages = fetched(HaloPsaConnector("Halo", {"resource_server": f"{serve(fake)}/api", "client_id": fake.client_id,
                                              "client_secret": fake.client_secret, "tenant": fake.tenant,
                                              "page_size": page_size}))
    entities = [p.entity for p in pages]
    assert entities == sorted(entities, key=["clients", "sites", "assets", "users"].index)
    assets = [int(i.external_id) for p in pages for i in p.items if i.type is ResourceType.DEVICE]
    assert assets == sorted(assets) and len(assets) == 40 * 5
    assert sum(len(p.items) for p in pages) == fake.item_count()
    assert fake.meter.violations == [] and fake.meter.most_in_flight <= 4


def _two_autotask_integrations_at_once(fake: FakeAutotask, url: str, first: dict, second: dict) -> list[list]:
    """Two Autotask integrations (two names, their own settings over the fake's) fetching at once."""
    import threading

    def settings(extra: dict) -> dict:
        return {"username": fake.username, "integration_code": fake.integration_code, "secret": fake.secret,
                "zone_url": f"{url}/ATServicesRest/", **extra}

    connectors = [AutotaskConnector(f"Autotask {n}", settings(extra)) for n, extra in enumerate((first, second))]
    results: list[list] = [[], []]
    threads = [threading.Thread(target=lambda n=n: results[n].extend(fetched(connectors[n]))) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_integrations_of_one_autotask_user_share_its_three_at_once(serve):
    # Autotask counts per database and per integration code, not per syncview integration: two
    # integrations of one API user (with other scopes, say) share one limiter.
    fake = autotask_fake()
    results = _two_autotask_integrations_at_once(fake, serve(fake), {}, {"include_inactive": True})
    assert sum(len(p.items) for p in results[0]) == fake.item_count()
    assert sum(len(p.items) for p in results[1]) >= fake.item_count()
    assert fake.meter.violations == [] and fake.meter.most_per_endpoint <= 3


def test_two_integrations_given_one_rate_account_share_it_and_without_it_do_not(serve):
    fake = autotask_fake()
    url = serve(fake)
    shared = {"rate_account": "acme-autotask"}
    results = _two_autotask_integrations_at_once(fake, url, shared, shared)
    assert [sum(len(p.items) for p in pages) for pages in results] == [fake.item_count()] * 2
    assert fake.meter.violations == [] and fake.meter.most_per_endpoint <= 3
    # The control: two accounts named apart each keep 3 at once, so the fake sees more.
    fake.meter = Meter(fake.limits)
    _two_autotask_integrations_at_once(fake, url, {"rate_account": "one"}, {"rate_account": "two"})
    assert fake.meter.most_per_endpoint > 3
    fake.meter = Meter(fake.limits)  # the breach was the point: the fixture checks the meter at the end
