"""A deterministic, believable MSP for demos, tests and benchmarks.

One seed gives the same clients, sites, devices and contacts every time: a PSA
(ConnectWise Manage) and an RMM (Datto RMM) each see their share of them, the
local documentation holds records for most, and the differences are the ones
operators really meet: a PSA company spelled "Acme Corporation, Inc." where the
documentation says "ACME Corp", a re-imaged workstation whose hostname changed,
a departed employee, a lab machine nobody wants synced.

This module only describes the world; :mod:`syncview.services.seed` writes it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from syncview.domain import ResourceType, SyncStatus

PSA = "ConnectWise Manage"
RMM = "Datto RMM"
#: Integration name -> flavour of the demo connector.
INTEGRATIONS = {PSA: "psa", RMM: "rmm"}
DEFAULT_RESOURCES = 5_000

_PREFIXES = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Cyberdyne",
    "Soylent", "Tyrell", "Wonka", "Pied Piper", "Dunder Mifflin", "Oscorp", "Massive Dynamic",
    "Monarch", "Nakatomi", "Blue Sun", "Gekko", "Sterling Cooper", "Prestige", "Bluth", "Kramerica",
    "Wernham Hogg", "Aperture", "Black Mesa", "Contoso", "Fabrikam", "Northwind", "Tailspin",
    "Litware", "Adventure Works", "Wide World", "Proseware", "Lucerne", "Alpine Ski", "Coho",
    "Fourth Coffee", "Margie's", "Trey", "Woodgrove", "Humongous", "Bellows", "Krusty", "Duff",
    "Frobozz", "Zorg", "Weyland", "Yoyodyne", "Virtucon", "Spacely", "Cogswell", "Gringotts",
    "Ollivander", "Tessier Ashpool", "Sirius", "Ajax", "Mom's", "Rekall",
)
_TRADES = (
    "Dental", "Logistics", "Law Group", "Holdings", "Manufacturing", "Realty", "Family Clinic",
    "Partners", "Engineering", "Foods", "Accounting", "Architects", "Veterinary", "Insurance",
    "Credit Union", "Construction", "Pharmacy", "Hotels", "Freight", "Media", "Consulting",
    "Dermatology", "Auto Group", "Marine", "Bakery", "Schools", "Pediatrics", "Optics", "Labs", "Energy",
)
_SUFFIXES = ("Corp", "Inc.", "LLC", "Ltd", "")
#: How a PSA mis-spells a documented client name: the documented suffix -> the PSA's.
_PSA_SUFFIX = {"Corp": "Corporation, Inc.", "Inc.": "Incorporated", "LLC": "L.L.C. Holdings", "Ltd": "Limited", "": "Group"}
_SITES = ("HQ", "Main Office", "Warehouse", "Downtown", "North Branch", "Data Center", "Clinic 2", "Remote")
_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kira", "Liam",
          "Mei", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wes", "Yara", "Zoe")
_LAST = ("Alvarez", "Brown", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
         "Kowalski", "Lopez", "Muller", "Nguyen", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Usman",
         "Virtanen", "Walsh", "Xu", "Yilmaz", "Zhang")
_DEVICE_KINDS = (("WS", 55), ("LT", 30), ("SRV", 6), ("PRN", 5), ("FW", 2), ("NAS", 2))


@dataclass(slots=True)
class DemoRecord:
    """A local documentation record."""

    id: int
    type: ResourceType
    client_id: int
    name: str
    disabled: bool = False


@dataclass(slots=True)
class DemoResource:
    """A remote resource of one demo integration, and how the documentation stands for it."""

    integration: str
    type: ResourceType
    external_id: str
    name: str
    remote_company: str
    #: the local client it belongs to once matched; None while its company is unmatched
    client_id: int | None
    status: SyncStatus
    record_id: int | None
    #: seconds before the last sync that the resource was last seen (0 = in the last sync)
    stale_for: int = 0
    deleted_remotely: bool = False
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class DemoClient:
    """One client with its records and the resources both integrations hold for it."""

    id: int
    name: str
    records: list[DemoRecord]
    resources: list[DemoResource]


def client_count(resources: int) -> int:
    """How many clients an MSP with that many synced resources has."""
    return max(8, min(resources // 400, 3_000))


def _client_name(index: int) -> tuple[str, str]:
    """A unique client name and the short tag its hostnames start with."""
    prefix = _PREFIXES[index % len(_PREFIXES)]
    trade = _TRADES[(index // len(_PREFIXES)) % len(_TRADES)]
    round_ = index // (len(_PREFIXES) * len(_TRADES))
    suffix = _SUFFIXES[(index * 7) % len(_SUFFIXES)]
    letters = "".join(ch for ch in prefix.upper() if ch.isalpha())
    if index < len(_PREFIXES):
        return f"{prefix} {suffix}".strip(), letters[:6]
    tag = letters[:4] + "".join(ch for ch in trade.upper() if ch.isalpha())[:3] + (str(round_ + 1) if round_ else "")
    name = f"{prefix} {trade}" + (f" {round_ + 1}" if round_ else "")
    return f"{name} {suffix}".strip(), tag


def _budgets(total: int, clients: int, rng: random.Random) -> list[int]:
    """Split ``total`` resources over clients, unevenly as real MSPs are, summing exactly."""
    weights = [rng.paretovariate(2.5) for _ in range(clients)]
    # Every client has at least its two client resources (one per integration).
    scale = (total - 2 * clients) / sum(weights)
    budgets = [2 + int(w * scale) for w in weights]
    for i in range(total - sum(budgets)):
        budgets[i % clients] += 1
    return budgets


class _ClientBuilder:
    """Builds one client's records and resources from its share of the budget."""

    def __init__(self, world: "DemoWorld", client_id: int, index: int, budget: int, rng: random.Random) -> None:
        self.world = world
        self.client_id = client_id
        self.index = index
        self.name, self.tag = _client_name(index)
        self.budget = budget
        self.rng = rng
        self.records: list[DemoRecord] = []
        self.resources: list[DemoResource] = []

    def record(self, type_: ResourceType, name: str, disabled: bool = False) -> DemoRecord:
        rec = DemoRecord(self.world.next_record_id(), type_, self.client_id, name, disabled)
        self.records.append(rec)
        return rec

    def resource(self, integration: str, type_: ResourceType, name: str, company: str, *,
                 status: SyncStatus, record: DemoRecord | None, client_known: bool = True,
                 payload: dict[str, Any] | None = None) -> DemoResource:
        ext = self.world.next_external_id(integration)
        res = DemoResource(integration, type_, str(ext), name, company,
                           self.client_id if client_known else None, status,
                           record.id if record else None, payload=payload or {})
        if self.rng.random() < 0.01:
            res.deleted_remotely = True
            res.stale_for = self.rng.randint(2, 20) * 86_400
        self.resources.append(res)
        return res

    def documented(self, integration: str, type_: ResourceType, name: str, company: str, *,
                   client_known: bool = True, payload: dict[str, Any] | None = None,
                   shared: DemoRecord | None = None) -> DemoResource:
        """A resource with its fate drawn: mostly matched, some not synced, a few excluded."""
        roll = self.rng.random()
        if not client_known:
            # Nothing under an unmatched company can be matched until the company is.
            if shared is None:
                self.record(type_, name)
            return self.resource(integration, type_, name, company, status=SyncStatus.NOT_SYNCED,
                                 record=None, client_known=False, payload=payload)
        # A record the RMM's copy links is free for the PSA, so the rules would link it: matched.
        if roll < 0.84 or (shared is not None and roll < 0.95):
            rec = shared or self.record(type_, name)
            return self.resource(integration, type_, name, company, status=SyncStatus.MATCHED,
                                 record=rec, payload=payload)
        if roll < 0.95:
            if shared is None and self.rng.random() < 0.7:
                self.record(type_, _variant(name, self.rng))  # documented under another spelling
            return self.resource(integration, type_, name, company, status=SyncStatus.NOT_SYNCED,
                                 record=None, payload=payload)
        if shared is None:
            self.record(type_, name, disabled=self.rng.random() < 0.5)
        return self.resource(integration, type_, name, company, status=SyncStatus.EXCLUDED,
                             record=None, payload=payload)

    def build(self) -> DemoClient:
        rng = self.rng
        client_record = self.record(ResourceType.CLIENT, self.name)
        # One client in eight is spelled differently in the PSA and was never re-matched.
        psa_variant = self.index % 8 == 0
        psa_company = _psa_spelling(self.name) if psa_variant else self.name
        self.resource(PSA, ResourceType.CLIENT, psa_company, psa_company,
                      status=SyncStatus.NOT_SYNCED if psa_variant else SyncStatus.MATCHED,
                      record=None if psa_variant else client_record, client_known=not psa_variant,
                      payload={"identifier": self.tag, "status": "Active"})
        self.resource(RMM, ResourceType.CLIENT, self.name, self.name, status=SyncStatus.MATCHED,
                      record=client_record, payload={"uid": f"{self.client_id:08x}-site"})
        remaining = max(0, self.budget - 2)
        sites = min(len(_SITES), max(1, remaining // 150 + 1), remaining)
        for i in range(sites):
            name = f"{self.name} - {_SITES[i]}"
            self.documented(PSA, ResourceType.SITE, name, psa_company, client_known=not psa_variant,
                            payload={"city": _SITES[i], "primaryAddressFlag": i == 0})
        remaining -= sites
        contacts = min(remaining, max(0, int(remaining * 0.12)))
        people: set[str] = set()
        for i in range(contacts):
            person = f"{_FIRST[rng.randrange(len(_FIRST))]} {_LAST[rng.randrange(len(_LAST))]}"
            if person in people:  # two people of one name in one client would match ambiguously
                person = f"{person} {i}"
            people.add(person)
            self.documented(PSA, ResourceType.CONTACT, person, psa_company, client_known=not psa_variant,
                            payload={"email": f"{person.lower().replace(' ', '.')}@{self.tag.lower()}.example",
                                     "inactiveFlag": False})
        remaining -= contacts
        # The RMM sees every managed device; the PSA holds about a third of them as configurations.
        serial = 0
        while remaining > 0:
            serial += 1
            kind = rng.choices([k for k, _ in _DEVICE_KINDS], [w for _, w in _DEVICE_KINDS])[0]
            hostname = f"{self.tag}-{kind}-{serial:03d}"
            payload = {"hostname": hostname, "deviceType": kind, "lastSeen": None}
            rmm = self.documented(RMM, ResourceType.DEVICE, hostname, self.name, payload=payload)
            remaining -= 1
            if remaining > 0 and rmm.record_id is not None and rng.random() < 0.3:
                shared = self.records[-1] if self.records[-1].id == rmm.record_id else None
                self.documented(PSA, ResourceType.DEVICE, hostname, psa_company, client_known=not psa_variant,
                                payload={"name": hostname, "type": {"name": kind}}, shared=shared)
                remaining -= 1
        return DemoClient(self.client_id, self.name, self.records, self.resources)


def _variant(name: str, rng: random.Random) -> str:
    """How documentation often spells a name slightly differently."""
    choice = rng.randrange(4)
    if choice == 0 and name[-3:].isdigit() and name[-3] == "0":
        return f"{name[:-3]}{int(name[-3:])}"  # ACME-WS-014 -> ACME-WS-14
    if choice == 1:
        return f"{name} (old)"
    if choice == 2:
        words = name.split()
        if " " in name:
            return f"{words[0][0]}. {' '.join(words[1:])}"  # Ana Brown -> A. Brown
        return f"{name.lower()}.corp.local"  # hostname -> FQDN
    return f"{name} 2"


def _psa_spelling(name: str) -> str:
    for suffix in sorted(_PSA_SUFFIX, key=len, reverse=True):
        if suffix and name.endswith(" " + suffix):
            return f"{name[: -len(suffix) - 1]} {_PSA_SUFFIX[suffix]}"
    return f"{name} {_PSA_SUFFIX['']}"


class DemoWorld:
    """The demo MSP for ``resources`` remote resources over both integrations (exactly)."""

    def __init__(self, resources: int = DEFAULT_RESOURCES, *, seed: int = 7,
                 first_client_id: int = 1, first_record_id: int = 1) -> None:
        if resources < 16:
            raise ValueError("the demo needs at least 16 resources")
        self.resources = resources
        self.seed = seed
        self.clients = client_count(resources)
        self._first_client_id = first_client_id
        self._record_id = first_record_id - 1
        self._external_ids = {name: 10_000 for name in INTEGRATIONS}

    def next_record_id(self) -> int:
        self._record_id += 1
        return self._record_id

    def next_external_id(self, integration: str) -> int:
        self._external_ids[integration] += 1
        return self._external_ids[integration]

    def __iter__(self) -> Iterator[DemoClient]:
        rng = random.Random(self.seed)
        budgets = _budgets(self.resources, self.clients, rng)
        for index, budget in enumerate(budgets):
            client_id = self._first_client_id + index
            yield _ClientBuilder(self, client_id, index, budget, rng).build()
