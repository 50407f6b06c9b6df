"""Re-match proposals: for each resource the record an operator would most likely link it to,
whether it is safe to accept without looking, and why.

Two faces use them: the bulk Re-match preview of marked resources, and Suggested
matches (Not Synced resources with a close record). A record that shares an identity key
with the resource (cross-reference, serial, MAC, e-mail: :mod:`syncview.services.matching`)
ranks first, scored 100, whatever its name; the others are ranked by number-aware
similarity (:mod:`syncview.services.similarity`). A proposal is *pre-selected* only when
nothing about it is in doubt: the only record sharing the key (one no other item of the
integration carries), or the same name once spelt the same way with its numbers equal and
the only such record; wanted by no other resource, enabled, and no stronger key of the two
disagreeing. Every other proposal is still shown, unticked, with the reason beside it, so
that one keystroke accepting every pre-selected row never links a wrong pair.
Accepting is :func:`syncview.services.bulk.rematch`: one transaction, one undo.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, exists, literal_column, select

from syncview.domain import ResourceType, SyncStatus, normalise_name
from syncview.identity import KeyKind, Keys, describe
from syncview.services import bulk, queries
from syncview.services.bulk import BulkResult, Marks, marks_clause
from syncview.services.matching import (
    DEFAULT_RULES,
    MatchInput,
    RecordInfo,
    Rule,
    conflict,
    load_records,
    shared_values,
    without_shared,
)
from syncview.services.queries import ResourceFilter
from syncview.services.similarity import Ranker, number_difference, similarity_key
from syncview.store import Store, raw_connection
from syncview.store.models import client_table, record_table, resource_table

R = resource_table.c
REC = record_table.c
CL = client_table.c

#: A suggestion is a Not Synced resource whose best free candidate scores at least this (0-100).
SUGGEST_THRESHOLD = 85.0
#: Two candidates closer than this (in score points) are too close to choose between unseen.
MARGIN = 3.0
#: Candidates ranked per resource when proposing; the best one no other resource took wins.
_RANKED = 5
#: Resources ranked per chunk of :func:`propose_iter` (a screen shows each chunk as it comes).
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Proposal:
    """A resource and the record a bulk re-match would link it to (None: no candidate; skipped)."""

    resource_id: int
    resource_name: str
    type: ResourceType
    version: int
    client_name: str | None
    current_record: str | None
    record_id: int | None = None
    record_name: str | None = None
    score: float = 0.0
    #: the proposed record's client (a resource whose company is unmatched has none of its own)
    record_client: str | None = None
    #: the next best free candidates (id, name, score), for the operator to pick from
    others: tuple[tuple[int, str, float], ...] = field(default=(), compare=False)
    #: safe to accept unseen: ticked when the review opens, accepted by ``suggestions --accept``
    preselected: bool = False
    #: why it is (or is not) pre-selected, in words: "same name", "name differs in a number: 353 vs 133"
    reason: str = ""


@dataclass(slots=True)
class _Target:
    id: int
    type: str
    integration_id: int
    client_id: int | None
    name: str
    version: int
    record_id: int | None
    client_name: str | None
    record_name: str | None
    remote_company: str | None


@dataclass(frozen=True, slots=True)
class _Free:
    """A record free to propose: its name, client's name and whether it is disabled."""

    name: str
    client_name: str | None
    disabled: bool


#: The rules that compare identity keys, strongest first (the name is what similarity ranks).
_KEYED = tuple(rule for rule in DEFAULT_RULES if rule is not Rule.NAME)
#: What a shared identity key scores: more than any name says.
KEY_SCORE = 100.0


@dataclass(slots=True)
class _Keyed:
    """What the identity keys say about a chunk of resources (see :func:`_keyed`)."""

    #: resource id -> its keys as the rules see them (less the values several items carry)
    inputs: dict[int, MatchInput] = field(default_factory=dict)
    #: resource id -> {record id: the key they share, in words}, in the rules' order
    shares: dict[int, dict[int, str]] = field(default_factory=dict)
    #: the records concerned, with their keys, to check that no stronger key disagrees
    records: dict[int, RecordInfo] = field(default_factory=dict)


def _keyed(conn: Connection, targets: Sequence[_Target]) -> _Keyed:
    """The free records of each resource's type (in its client; any client when its company is
    unmatched) that share an identity key with it, as the matching rules compare keys: values
    several items of its integration carry identify none of them and are left out."""
    found = _Keyed()
    if not targets:
        return found
    cursor = raw_connection(conn).cursor()
    try:
        stored: dict[int, list[tuple[str, str]]] = {}
        for resource_id, kind, value in cursor.execute(
            "SELECT resource_id, kind, value FROM resource_key WHERE resource_id IN (SELECT value FROM json_each(?))"
            " AND kind != 'host'", (json.dumps([t.id for t in targets]),)
        ):
            stored.setdefault(resource_id, []).append((kind, value))
        groups: dict[int, list[_Target]] = {}
        for target in targets:
            if target.id in stored:  # one without keys is left to its name
                groups.setdefault(target.integration_id, []).append(target)
        for integration_id, group in groups.items():
            # Its stored keys; not its own cross-reference, which two integrations of one kind share.
            page = [(t.id, Keys.from_pairs(stored.get(t.id, ()))) for t in group]
            shared = shared_values(cursor, integration_id, page)
            inputs = []
            for target, (_, keys) in zip(group, page, strict=True):
                keys, _notes = without_shared(keys, shared)
                inp = MatchInput(ResourceType(target.type), target.client_id, normalise_name(target.name),
                                 SyncStatus.NOT_SYNCED, None, keys, (), target.name)
                found.inputs[target.id] = inp
                inputs.append(inp)
            records = load_records(cursor, integration_id, inputs, _KEYED)
            found.records.update(records.info)
            holders: dict[tuple[str, str], list[int]] = {}
            for record in records.info.values():
                for pair in record.keys.pairs():
                    holders.setdefault(pair, []).append(record.id)
            for target in group:
                inp = found.inputs[target.id]
                shares: dict[int, str] = {}
                for rule in _KEYED:
                    kind = KeyKind(rule.value)
                    for value in sorted(inp.keys.get(kind)):
                        for record_id in holders.get((kind.value, value), ()):
                            record = records.info[record_id]
                            if (record.type != target.type or record_id in records.taken
                                    or record_id == target.record_id
                                    or (target.client_id is not None and target.type != ResourceType.CLIENT.value
                                        and record.client_id != target.client_id)):
                                continue
                            shares.setdefault(record_id, describe(kind, value))
                if shares:
                    found.shares[target.id] = shares
        # The name candidates' keys are read when they are proposed (:func:`_with_keys`).
    finally:
        cursor.close()
    return found


def _with_keys(conn: Connection, keyed: _Keyed, record_ids: Iterable[int]) -> None:
    """Read the keys of the records not read yet into ``keyed.records``."""
    missing = sorted({rid for rid in record_ids if rid not in keyed.records})
    if not missing:
        return
    ids = json.dumps(missing)
    pairs: dict[int, list[tuple[str, str]]] = {}
    for record_id, kind, value in raw_connection(conn).execute(queries.KEYS_OF_RECORDS, (ids, ids, ids)):
        pairs.setdefault(record_id, []).append((kind, value))
    for record_id in missing:
        keyed.records[record_id] = RecordInfo(record_id, "", None, "", "", Keys.from_pairs(pairs.get(record_id, ())))


def _free_records(conn: Connection, record_ids: Iterable[int]) -> dict[int, _Free]:
    ids = sorted(set(record_ids))
    if not ids:
        return {}
    query = (select(REC.id, REC.name, CL.name, REC.disabled)
             .select_from(record_table.outerjoin(client_table, CL.id == REC.client_id)).where(REC.id.in_(ids)))
    return {rid: _Free(name, client_name, bool(disabled)) for rid, name, client_name, disabled in conn.execute(query)}


def _targets(conn: Connection, clause: ColumnElement[bool]) -> list[_Target]:
    current = record_table.alias("current")
    query = (
        select(R.id, R.type, R.integration_id, R.client_id, R.name, R.version, R.record_id, CL.name,
               current.c.name, R.remote_company)
        .select_from(resource_table.outerjoin(client_table, CL.id == R.client_id)
                     .outerjoin(current, current.c.id == R.record_id))
        .where(clause).order_by(R.id)
    )
    return [_Target(*cast("tuple[Any, ...]", row)) for row in conn.execute(query)]


def _records(conn: Connection, type_: str, client_id: int | None, integration_id: int) -> dict[int, _Free]:
    """Records a resource of ``type_`` and client may be re-matched to, as the Re-match dialog
    offers them (its client's; all of the type if that has none), free in this integration."""
    # Probed per record through ix_resource_record (the unary + keeps SQLite on it, as in
    # matching.load_free_records), not a list of every linked record built per group.
    linked = exists().where(R.record_id == REC.id, literal_column("+resource.integration_id") == integration_id)

    def of(client: int | None) -> dict[int, _Free]:
        query = (select(REC.id, REC.name, CL.name, REC.disabled)
                 .select_from(record_table.outerjoin(client_table, CL.id == REC.client_id))
                 .where(REC.type == type_, ~linked))
        if client is not None:
            query = query.where(REC.client_id == client)
        rows = conn.execute(query.order_by(REC.name_norm, REC.id).limit(5000)).all()
        return {rid: _Free(name, client_name, bool(disabled)) for rid, name, client_name, disabled in rows}

    found = of(client_id)
    if not found and client_id is not None:
        found = of(None)
    return found


def propose(store: Store, marks: Marks) -> list[Proposal]:
    """For each marked resource, the best-ranked free record of its type (and client), by the
    Re-match dialog's similarity; no two resources get the same record (the better score wins)."""
    return [proposal for chunk, _done, _total in propose_iter(store, marks) for proposal in chunk]


def propose_iter(store: Store, marks: Marks, *, chunk: int = CHUNK) -> Iterator[tuple[list[Proposal], int, int]]:
    """:func:`propose` a chunk at a time: yields (proposals, resources done, resources in all).

    Resources with a client come first, client by client, so their (cheap) proposals arrive
    at once; those without one (their company is unmatched) are ranked against every record
    of their type, the slow part at a million resources, and come last. A record proposed in
    an earlier chunk is not proposed again.
    """
    with store.read() as conn:
        targets = _targets(conn, marks_clause(marks))
    targets.sort(key=lambda t: (t.client_id is None, t.integration_id, t.client_id or 0, t.type, t.id))
    taken: set[int] = set()
    group: tuple[object, ...] | None = None
    records: dict[int, _Free] = {}
    ranker = Ranker({})
    for start in range(0, len(targets), chunk):
        part = targets[start:start + chunk]
        ranked: dict[int, list[tuple[int, float]]] = {}
        free: dict[int, _Free] = {}
        with store.read() as conn:
            keyed = _keyed(conn, part)
            for target in part:
                if (target.type, target.client_id, target.integration_id) != group:
                    group = (target.type, target.client_id, target.integration_id)
                    records = _records(conn, *group)
                    ranker = Ranker({rid: record.name for rid, record in records.items()})
                # A record sharing an identity key comes first, whatever its name.
                shares = keyed.shares.get(target.id, {})
                by_key = [(rid, KEY_SCORE) for rid in shares]
                if records:
                    # Equal names score 100, the best there is: no need to score the whole group
                    # (re-matching thousands of included resources to their old records).
                    found = [(rid, 100.0) for rid in ranker.equal(target.name)[:_RANKED]]
                    by_name = found or ranker.rank(target.name, limit=_RANKED)
                    free.update((rid, records[rid]) for rid, _ in by_name)
                else:
                    by_name = []
                if by_key or by_name:
                    ranked[target.id] = by_key + [c for c in by_name if c[0] not in shares][:max(0, _RANKED - len(by_key))]
            free.update(_free_records(conn, [rid for shares in keyed.shares.values() for rid in shares
                                             if rid not in free]))
            _with_keys(conn, keyed, [rid for found in ranked.values() for rid, _ in found[:1]])
        yield _assign(part, ranked, free, taken, keyed), start + len(part), len(targets)


def _assign(targets: Sequence[_Target], ranked: dict[int, list[tuple[int, float]]],
            free: dict[int, _Free], taken: set[int], keyed: _Keyed | None = None) -> list[Proposal]:
    """Greedy by score: the resource with the best candidate takes it, the next takes its best
    untaken one, and so on (``taken`` holds, and gains, the records already proposed); then
    each proposal is judged. Proposals come back in the resources' order."""
    keyed = keyed or _Keyed()
    chosen: dict[int, tuple[int, float]] = {}
    # Best first; among equal scores, a shared key before an equal name.
    order = sorted(targets, key=lambda t: (-(ranked.get(t.id) or [(0, 0.0)])[0][1], t.id not in keyed.shares))
    for target in order:
        for candidate in ranked.get(target.id, []):
            if candidate[0] not in taken:
                taken.add(candidate[0])
                chosen[target.id] = candidate
                break
    # A record that is the best candidate of two resources, by scores too close to tell, is a
    # guess for either: (record id) -> [(score, resource id)] of the resources it is best for.
    best_for: dict[int, list[tuple[float, int]]] = {}
    for target in targets:
        if ranked.get(target.id):
            rid, score = ranked[target.id][0]
            best_for.setdefault(rid, []).append((score, target.id))
    names = {t.id: t.name for t in targets}
    proposals = []
    for target in targets:
        pick = chosen.get(target.id)
        candidates = [(rid, free[rid].name, score) for rid, score in ranked.get(target.id, [])]
        others = tuple(c for c in candidates if pick is None or c[0] != pick[0])
        if pick is None:
            proposals.append(Proposal(target.id, target.name, ResourceType(target.type), target.version,
                                      target.client_name, target.record_name, others=others,
                                      reason="no candidate left" if candidates else "no candidate"))
            continue
        record = free[pick[0]]
        rival = next((names[other] for score, other in best_for.get(pick[0], ())
                      if other != target.id and score > pick[1] - MARGIN), None)
        # A resource whose company is unmatched was ranked against every client's records: the
        # record's client must be its company, spelt some way, or the same name is a coincidence.
        elsewhere = None
        if (target.client_id is None and target.type != ResourceType.CLIENT.value
                and similarity_key(record.client_name or "") != similarity_key(target.remote_company or "")):
            elsewhere = record.client_name or "no client"
        shares = keyed.shares.get(target.id, {})
        key = shares.get(pick[0])
        inp, info = keyed.inputs.get(target.id), keyed.records.get(pick[0])
        disagrees = None
        if inp is not None and info is not None:
            # The keys stronger than the one they share (all of them, for a name) must not disagree.
            stronger = _KEYED[:next((i for i, rule in enumerate(_KEYED) if key and key.startswith(
                KeyKind(rule.value).label + " ")), len(_KEYED))]
            disagrees = conflict(inp, info, stronger)
        preselected, reason = judge(target.name, (pick[0], record.name, pick[1]), candidates,
                                    disabled=record.disabled, rival=rival, elsewhere=elsewhere, key=key,
                                    sharing=len(shares), disagrees=disagrees)
        proposals.append(Proposal(
            target.id, target.name, ResourceType(target.type), target.version, target.client_name,
            target.record_name, pick[0], record.name, pick[1], record.client_name, others, preselected, reason))
    return proposals


def judge(name: str, pick: tuple[int, str, float], candidates: Sequence[tuple[int, str, float]], *,
          disabled: bool = False, rival: str | None = None, elsewhere: str | None = None,
          key: str | None = None, sharing: int = 0, disagrees: str | None = None) -> tuple[bool, str]:
    """Whether proposing ``pick`` (id, name, score) for a resource named ``name`` is safe to accept
    unseen, and why, given every candidate ranked for it (best first), ``rival`` (another
    resource whose best candidate it is too), ``elsewhere`` (the record's client, when it is
    not the resource's company), ``key`` (the identity key the two share, in words, if any),
    ``sharing`` (how many free records share a key with the resource) and ``disagrees`` (a
    stronger key on which they differ, in words). The first doubt found is the reason."""
    _rid, record_name, score = pick
    if disabled:
        return False, "record is disabled"
    if disagrees is not None:
        return False, f"same {key or 'name'}, but {disagrees}"
    if key is not None:
        # An identity key says more than any name (or company spelling): the record is the
        # resource's if it is the only one with the key, and no other resource wants it.
        if sharing > 1:
            return False, f"{key}, and {sharing - 1} more record{'s' if sharing > 2 else ''} share its keys"
        if candidates and candidates[0][0] != pick[0]:
            return False, f"its best candidate {candidates[0][1]} went to another resource"
        if rival is not None:
            return False, f"{key}, also the best candidate for {rival}"
        return True, f"same {key}"
    if elsewhere is not None:
        return False, f"record is in another client: {elsewhere}"
    difference = number_difference(name, record_name)
    if difference:
        return False, f"name differs in a number: {difference}"
    if candidates and candidates[0][0] != pick[0]:
        return False, f"its best candidate {candidates[0][1]} went to another resource"
    close = [c for c in candidates if c[0] != pick[0] and c[2] > score - MARGIN
             and number_difference(name, c[1]) is None]
    if close:
        return False, f"{len(close) + 1} candidates within {MARGIN:.0f} points"
    if rival is not None:
        return False, f"also the best candidate for {rival}"
    if score < 100:
        return False, "similar name, not the same"
    return True, "same name" if normalise_name(name) == normalise_name(record_name) else "same name, spelt differently"


def suggestions(store: Store, integration_id: int, *, client_id: int | None = None,
                threshold: float = SUGGEST_THRESHOLD) -> list[Proposal]:
    """Not Synced resources of an integration (and client) whose best free candidate scores at
    least ``threshold``, best first."""
    found = [p for chunk, _done, _total in suggestions_iter(store, integration_id, client_id=client_id,
                                                             threshold=threshold) for p in chunk]
    return sorted(found, key=order)


def order(proposal: Proposal) -> tuple[float, bool, str, int]:
    """How proposals are listed: best score first, the pre-selected first among equal scores, then by name."""
    return (-proposal.score, not proposal.preselected, proposal.resource_name.casefold(), proposal.resource_id)


def suggestions_iter(store: Store, integration_id: int, *, client_id: int | None = None,
                     threshold: float = SUGGEST_THRESHOLD) -> Iterator[tuple[list[Proposal], int, int]]:
    """:func:`suggestions` a chunk at a time, as :func:`propose_iter` (each chunk best first)."""
    flt = ResourceFilter(integration_id, client_id, status=SyncStatus.NOT_SYNCED)
    for chunk, done, total in propose_iter(store, Marks((flt,))):
        kept = [p for p in chunk if p.record_id is not None and p.score >= threshold]
        yield sorted(kept, key=order), done, total


def accept_preselected(store: Store, found: Iterable[Proposal], *, operator: str | None = None) -> BulkResult | None:
    """Accept the pre-selected proposals among ``found`` as one bulk re-match (one transaction,
    one audited batch, one undo); None, and nothing written, when none is pre-selected.

    Refused whole, as :func:`~syncview.services.bulk.rematch` is, when a resource changed since
    the proposals were read."""
    chosen = [p for p in found if p.preselected]
    return bulk.rematch(store, chosen, operator=operator) if chosen else None
