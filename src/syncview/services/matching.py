"""Matching rules (what a sync links automatically) and re-match candidates (what an operator picks from).

The rules are exact and conservative; similarity only ranks candidates for a
person to choose from and never links anything on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process
from sqlalchemy import exists, literal_column, select

from syncview.domain import ResourceType, SyncStatus, normalise_name
from syncview.services import queries
from syncview.store import Store
from syncview.store.models import record_table, resource_table

R = resource_table.c
REC = record_table.c


class Decision(StrEnum):
    KEEP = "keep"  # already linked: a sync never undoes a link
    SKIP = "skip"  # excluded by an operator
    LINK = "link"  # an unlinked record of the same type and client has the same name
    CREATE = "create"  # the integration creates missing records
    NOT_SYNCED = "not_synced"


@dataclass(frozen=True, slots=True)
class MatchInput:
    """What the rules need to know of one resource."""

    type: ResourceType
    client_id: int | None
    name_norm: str
    status: SyncStatus
    record_id: int | None


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Decision
    record_id: int | None = None
    reason: str = ""


#: Records free to link, by (type, client id, normalised name): ids not linked to any resource
#: of the integration being matched, lowest first.
FreeRecords = Mapping[tuple[str, int | None, str], list[int]]


def decide(resource: MatchInput, free: FreeRecords, *, create_missing: bool) -> Outcome:
    """Apply the matching rules to one resource.

    ``free`` is consumed: a record linked here is popped, so two resources of one
    sync never take the same record.
    """
    if resource.status is SyncStatus.MATCHED and resource.record_id is not None:
        return Outcome(Decision.KEEP, resource.record_id)
    if resource.status is SyncStatus.EXCLUDED:
        return Outcome(Decision.SKIP, reason="excluded by an operator")
    candidates = free.get(match_key(resource.type.value, resource.client_id, resource.name_norm))
    if candidates:
        return Outcome(Decision.LINK, candidates.pop(0))
    if resource.client_id is None and resource.type is not ResourceType.CLIENT:
        # Only a client record can be created without a client to file it under.
        return Outcome(Decision.NOT_SYNCED, reason="its remote company matches no local client")
    if create_missing:
        return Outcome(Decision.CREATE)
    return Outcome(Decision.NOT_SYNCED, reason=f"no unlinked {resource.type.value} record of that name")


_LEGAL_SUFFIXES = re.compile(
    r"\b(inc|incorporated|corp|corporation|co|company|llc|ltd|limited|plc|gmbh|ag|sa|bv|pty)\b"
)


def similarity_key(name: str) -> str:
    """A name reduced for similarity: normalised, legal-form words dropped."""
    return " ".join(_LEGAL_SUFFIXES.sub(" ", normalise_name(name)).split())


def rank(query: str, choices: Mapping[int, str], *, limit: int = 50) -> list[tuple[int, float]]:
    """Ids of ``choices`` most similar to ``query``, best first, with a 0-100 score."""
    return rank_many({0: query}, choices, limit=limit)[0]


def rank_many(
    queries_: Mapping[int, str], choices: Mapping[int, str], *, limit: int = 50
) -> dict[int, list[tuple[int, float]]]:
    """:func:`rank` for many queries against the same choices, keying the choices once."""
    keyed = {key: similarity_key(name) for key, name in choices.items()}
    ranked = {}
    for query_id, query in queries_.items():
        found = process.extract(similarity_key(query), keyed, scorer=fuzz.WRatio, limit=limit, processor=None)
        ranked[query_id] = [(key, round(score, 1)) for _, score, key in found]
    return ranked


@dataclass(frozen=True, slots=True)
class Candidate:
    """A local record an operator may re-match a resource to."""

    record: queries.RecordRow
    score: float
    #: the resource of the same integration already linked to it (id, name), if any
    linked_to: tuple[int, str] | None


def rematch_candidates(
    store: Store,
    resource_id: int,
    *,
    search: str = "",
    all_clients: bool = False,
    limit: int = 50,
) -> list[Candidate]:
    """Records of the resource's type (and client, unless ``all_clients``) ranked for re-matching.

    With ``search`` the operator's typing narrows the records to those containing it and
    ranks by it; otherwise they rank by similarity to the resource's own name.
    """
    resource = queries.get_resource(store, resource_id)
    client_id = None if all_clients else resource.client_id
    records = queries.find_records(store, resource.type, client_id=client_id, text=search)
    if not records and not all_clients and not search:
        records = queries.find_records(store, resource.type)
    by_id = {r.id: r for r in records if r.id != resource.record_id}
    ranked = rank(search or resource.name, {rid: r.name for rid, r in by_id.items()}, limit=limit)
    linked = queries.linked_resources(store, resource.integration_id, [rid for rid, _ in ranked])
    return [Candidate(by_id[rid], score, linked.get(rid)) for rid, score in ranked]


def match_key(type_: str, client_id: int | None, name_norm: str) -> tuple[str, int | None, str]:
    """Key under which a record and a resource match: a client record matches by name alone,
    since the client is what is being matched; every other type within its client."""
    return (type_, None if type_ == ResourceType.CLIENT.value else client_id, name_norm)


def free_records_index(rows: Iterable[tuple[int, str, int | None, str]]) -> FreeRecords:
    """Build :data:`FreeRecords` from (record id, type, client id, normalised name) rows."""
    index: dict[tuple[str, int | None, str], list[int]] = {}
    for record_id, type_, client_id, norm in sorted(rows):
        index.setdefault(match_key(type_, client_id, norm), []).append(record_id)
    return index


def load_free_records(store: Store, integration_id: int) -> FreeRecords:
    """:data:`FreeRecords` for an integration: enabled or not, every record no resource of it links to."""
    query = (
        select(REC.id, REC.type, REC.client_id, REC.name_norm)
        # The unary + keeps SQLite on ix_resource_record instead of scanning the integration
        # once per record (minutes at a million resources).
        .where(~exists().where(R.record_id == REC.id,
                               literal_column("+resource.integration_id") == integration_id))
    )
    with store.read() as conn:
        return free_records_index(conn.execute(query))
