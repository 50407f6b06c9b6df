"""The shared limiter (connectors/limits.py): many threads, never a window over the rate, never more in flight."""

from __future__ import annotations

import threading
import time
from collections import deque

import pytest

from syncview.config import ConfigError, load_config
from syncview.connectors.limits import DEFAULT_LIMITS, Limiter, Limits, shared_limiter
from syncview.services.sync import build_connector


class Recorder:
    """Counts what holders of a slot do: how many at once (per endpoint), and when each slot was
    granted (the limiter's last reading of its clock in that thread: what it promises about)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.started: list[float] = []
        self.read = threading.local()

    def clock(self) -> float:
        self.read.last = time.monotonic()
        return self.read.last

    def request(self, limiter: Limiter, endpoint: str, seconds: float) -> None:
        with limiter.slot(endpoint):
            with self.lock:
                self.started.append(self.read.last)
                self.in_flight[endpoint] = self.in_flight.get(endpoint, 0) + 1
                self.most[endpoint] = max(self.most.get(endpoint, 0), self.in_flight[endpoint])
            time.sleep(seconds)
            with self.lock:
                self.in_flight[endpoint] -= 1


def most_in_any_window(times: list[float], window: float) -> int:
    """The most of ``times`` within any half-open window of ``window`` seconds."""
    most, inside = 0, deque()
    for moment in sorted(times):
        inside.append(moment)
        while inside[0] <= moment - window:
            inside.popleft()
        most = max(most, len(inside))
    return most


def run_threads(count: int, target) -> None:
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)


def test_no_window_ever_holds_more_than_the_rate_under_many_threads():
    limits = Limits(rate=10, window=0.5)
    recorder = Recorder()
    limiter = Limiter(limits, clock=recorder.clock)
    run_threads(16, lambda n: [recorder.request(limiter, "", 0.0) for _ in range(3)])  # 48 requests
    assert len(recorder.started) == 48
    assert most_in_any_window(recorder.started, limits.window) <= limits.rate
    # ...and the limit is what paces them: 48 at 10 per 0.5 s take at least 4 windows.
    assert max(recorder.started) - min(recorder.started) >= 4 * limits.window * 0.95


def test_no_more_requests_in_flight_than_the_concurrency_limit():
    recorder = Recorder()
    limiter = Limiter(Limits(concurrency=3), clock=recorder.clock)
    run_threads(12, lambda n: recorder.request(limiter, "", 0.05))
    assert recorder.most[""] == 3  # reached, never passed


def test_a_per_endpoint_limit_counts_each_endpoint_apart():
    recorder = Recorder()
    limiter = Limiter(Limits(concurrency=2, per_endpoint=True), clock=recorder.clock)
    run_threads(16, lambda n: recorder.request(limiter, f"entity{n % 2}", 0.05))
    assert recorder.most == {"entity0": 2, "entity1": 2}


def test_a_request_made_while_holding_a_slot_does_not_wait_for_a_second_one():
    # A token fetched from inside a request's auth flow: with every slot held, waiting would deadlock.
    limiter = Limiter(Limits(concurrency=1))
    done = threading.Event()

    def outer() -> None:
        with limiter.slot(), limiter.slot():
            done.set()

    thread = threading.Thread(target=outer)
    thread.start()
    thread.join(timeout=5)
    assert done.is_set()


def test_rate_waits_on_the_injected_clock():
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = Limiter(Limits(rate=2, window=60.0), clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    # two at once (the window allows a burst), then each waits for the oldest to leave the window
    assert [round(w) for w in waits] == [60, 60]
    assert now[0] == pytest.approx(120, abs=0.01)


def test_one_integration_shares_one_limiter_in_the_process():
    limits = DEFAULT_LIMITS["datto_rmm"]
    assert shared_limiter("Datto A", limits) is shared_limiter("Datto A", limits)
    assert shared_limiter("Datto A", limits) is not shared_limiter("Datto B", limits)


def test_defaults_stay_under_what_the_vendors_document():
    datto, autotask = DEFAULT_LIMITS["datto_rmm"], DEFAULT_LIMITS["autotask"]
    assert datto.window == 60 and datto.rate is not None and datto.rate < 0.9 * 600
    assert autotask.window == 3600 and autotask.rate is not None and autotask.rate <= 5_000
    assert (autotask.concurrency, autotask.per_endpoint) == (3, True)


def test_the_config_overrides_rate_and_concurrency_per_integration(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[[integrations]]\nname = "Datto"\nkind = "datto_rmm"\napi_url = "https://x.example"\n'
                    'api_key = "K"\napi_secret = "env:DATTO_SECRET"\nrate_limit = 120\nconcurrency = 2\n')
    integration = load_config(path).integrations[0]
    with build_connector(integration, environ={"DATTO_SECRET": "s"}) as connector:
        limits = connector.http.limits
    assert (limits.rate, limits.window, limits.concurrency) == (120, 60.0, 2)


@pytest.mark.parametrize("value", ["0", "2.5", '"four"', "true"])
def test_a_bad_concurrency_is_one_config_error(tmp_path, value):
    path = tmp_path / "config.toml"
    path.write_text(f'[[integrations]]\nname = "Demo"\nkind = "demo"\nconcurrency = {value}\n')
    with pytest.raises(ConfigError, match="concurrency must be a whole number of requests at once"):
        load_config(path)


# --------------------------------------------------------------------------- the account counted


INTEGRATIONS = '''
[[integrations]]
name = "Datto EU"
kind = "datto_rmm"
api_url = "https://merlot-api.centrastage.net/api/"
api_key = "K1"
api_secret = "env:S"

[[integrations]]
name = "Datto EU, with MACs"
kind = "datto_rmm"
api_url = "https://MERLOT-api.centrastage.net"
api_key = "K1"
api_secret = "env:S"
network_interfaces = true

[[integrations]]
name = "Datto other user"
kind = "datto_rmm"
api_url = "https://merlot-api.centrastage.net"
api_key = "K2"
api_secret = "env:S"

[[integrations]]
name = "Autotask devices"
kind = "autotask"
username = "Sync@Acme.example"
integration_code = "env:S"
secret = "env:S"

[[integrations]]
name = "Autotask contacts"
kind = "autotask"
username = "sync@acme.example"
integration_code = "env:S"
secret = "env:S"

[[integrations]]
name = "Autotask, another user of that database"
kind = "autotask"
username = "contacts@acme.example"
integration_code = "env:S"
secret = "env:S"
rate_account = "Autotask user sync@acme.example"

[[integrations]]
name = "ConnectWise"
kind = "connectwise"
site = "api-eu.myconnectwise.net"
company_id = "Acme"
public_key = "P"
private_key = "env:S"
client_id = "c"

[[integrations]]
name = "Halo"
kind = "halopsa"
resource_server = "https://acme.halopsa.com/api"
client_id = "c"
client_secret = "env:S"
tenant = "acme"
'''


def test_integrations_of_one_vendor_account_share_one_limiter_and_others_do_not(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(INTEGRATIONS)
    connectors = {i.name: build_connector(i, environ={"S": "s"}) for i in load_config(path).integrations}
    try:
        accounts = {name: connector.rate_account() for name, connector in connectors.items()}
        limiter = {name: connector.http.limiter for name, connector in connectors.items()}
    finally:
        for connector in connectors.values():
            connector.close()
    assert accounts == {
        "Datto EU": "Datto RMM API key K1 on merlot-api.centrastage.net",
        "Datto EU, with MACs": "Datto RMM API key K1 on merlot-api.centrastage.net",
        "Datto other user": "Datto RMM API key K2 on merlot-api.centrastage.net",
        "Autotask devices": "Autotask user sync@acme.example",
        "Autotask contacts": "Autotask user sync@acme.example",
        "Autotask, another user of that database": "Autotask user sync@acme.example",
        "ConnectWise": "ConnectWise company acme on api-eu.myconnectwise.net",
        "Halo": "HaloPSA acme.halopsa.com tenant acme",
    }
    assert limiter["Datto EU"] is limiter["Datto EU, with MACs"] is not limiter["Datto other user"]
    assert limiter["Autotask devices"] is limiter["Autotask contacts"] is limiter[
        "Autotask, another user of that database"]


def test_a_connector_that_cannot_tell_its_account_counts_by_its_integration():
    from syncview.connectors.demo import DemoConnector

    assert DemoConnector("Demo PSA", {}).rate_account() == "Demo PSA"
    assert DemoConnector("Demo PSA", {"rate_account": "shared"}).rate_account() == "shared"
