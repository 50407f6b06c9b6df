"""Matching rules (what a sync links automatically) and re-match candidates (what an operator picks from).

The rules are exact and never guess. An item already linked keeps its record (an operator's
re-match is never undone), an excluded one is skipped; any other item is tried, within its
client, against the integration's rules in order (``match_on``, by default cross-reference
id, serial, MAC, e-mail, then name). A rule links only when exactly one record in scope has
the item's key and no stronger key of the two disagrees:

- two records with the key leave the item Not Synced ("2 records share serial ABC123");
- the one record with the key already linked to another item of the integration leaves it
  Not Synced too (the key says it is that record, which is taken);
- a stronger key that disagrees beats a weaker one that agrees: same host name but a
  different real serial is a replaced machine, Not Synced, not a link.

A record's keys are those of the resources linked to it (whichever integration they came
from) and those it was created from (``record_key``). Values several items of one
integration share are no identity of any of them (:func:`shared_values`); placeholders never
get this far (:mod:`syncview.identity`). Similarity only ranks candidates for a person to
choose from and never links anything on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


from syncview.domain import MatchedOn, ReasonKind, ResourceType, SyncStatus, normalise_name
from syncview.identity import NO_KEYS, KeyKind, Keys, describe
from syncview.services import queries
from syncview.services.similarity import number_difference, rank
from syncview.store import RawCursor, Store, raw_connection


class Decision(StrEnum):
    KEEP = "keep"  # already linked: a sync never undoes a link
    SKIP = "skip"  # excluded by an operator
    LINK = "link"  # exactly one record in scope has the item's key, and no stronger key disagrees
    CREATE = "create"  # the integration creates missing records
    NOT_SYNCED = "not_synced"


class Rule(StrEnum):
    """A matching rule: the identity key it compares (``name``: the name, or a device's host name)."""

    XREF = "xref"
    SERIAL = "serial"
    MAC = "mac"
    EMAIL = "email"
    NAME = "name"


_KIND_OF = {kind._value_: kind for kind in KeyKind}
# Members looked up once: an enum member's lookup costs as much as a rule's test, per item.
_NAME = Rule.NAME
_HOST = KeyKind.HOST
_MATCHED, _EXCLUDED = SyncStatus.MATCHED, SyncStatus.EXCLUDED
_CLIENT = ResourceType.CLIENT
_MATCHED_ON = {rule: MatchedOn(rule.value) for rule in Rule}
#: The key kind each keyed rule compares (the name rule compares names).
_KINDS = {Rule(kind.value): kind for kind in KeyKind if kind.value in Rule._value2member_map_}

#: The rules and their order unless an integration's ``match_on`` says otherwise.
DEFAULT_RULES: tuple[Rule, ...] = tuple(Rule)


@dataclass(slots=True)  # not frozen: one per item, and a frozen __init__ costs 4x
class MatchInput:
    """What the rules need to know of one resource."""

    type: ResourceType
    client_id: int | None
    name_norm: str
    status: SyncStatus
    record_id: int | None
    #: identity keys, normalised, placeholders and shared values left out
    keys: Keys = NO_KEYS
    #: values left out and why ("serial 'Default string' is a placeholder"), for the reason
    notes: tuple[str, ...] = ()
    #: the resource's name as shown, for the reasons other items are given
    name: str = ""

    def name_forms(self) -> frozenset[str]:
        """What the name rule compares: the normalised name, and a device's host name."""
        return frozenset({self.name_norm, *self.keys.get(_HOST)})


@dataclass(slots=True)  # not frozen: one per item, and a frozen __init__ costs 4x
class Outcome:
    decision: Decision
    record_id: int | None = None
    reason: str = ""
    #: for LINK the rule that linked, for CREATE "created"
    matched_on: MatchedOn | None = None
    #: for NOT_SYNCED why, in a word
    kind: ReasonKind | None = None


@dataclass(slots=True)  # not frozen: one per item, and a frozen __init__ costs 4x
class RecordInfo:
    """A local record as the rules see it."""

    id: int
    type: str
    client_id: int | None
    name: str
    name_norm: str
    keys: Keys = NO_KEYS


def scope_of(type_: str, client_id: int | None) -> tuple[str, int | None]:
    """Where an item looks for records: its type, within its client; a client item among all
    client records (the client is what is being matched)."""
    return (type_, None if type_ == ResourceType.CLIENT.value else client_id)


@dataclass(slots=True)
class Records:
    """The records some items may link to, indexed the ways the rules look them up.

    ``taken`` holds the records a resource of the integration being matched links (record id
    -> that resource's name); :func:`decide` adds the records it links, so two items of one
    sync never take the same record.
    """

    info: dict[int, RecordInfo] = field(default_factory=dict)
    #: (scope, kind, value) -> record ids
    by_key: dict[tuple[tuple[str, int | None], str, str], set[int]] = field(default_factory=dict)
    #: (scope, name form) -> record ids; forms are the normalised name and host names
    by_name: dict[tuple[tuple[str, int | None], str], set[int]] = field(default_factory=dict)
    taken: dict[int, str] = field(default_factory=dict)

    def add(self, record: RecordInfo) -> None:
        self.info[record.id] = record
        scope = scope_of(record.type, record.client_id)
        for kind, value in record.keys.pairs():
            self.by_key.setdefault((scope, kind, value), set()).add(record.id)
        for form in {record.name_norm, *record.keys.get(KeyKind.HOST)}:
            self.by_name.setdefault((scope, form), set()).add(record.id)

    def candidates(self, inp: MatchInput, rule: Rule, scope: tuple[str, int | None] | None = None) -> set[int]:
        """The records in the input's scope that share the rule's key with it (``scope``, if the
        caller has it, saves working it out again).

        An item with several values of a key (MACs) may share one with several records (a
        virtual adapter's) and another with one record only: when every value that singles
        out a record singles out the same one, that record is the candidate."""
        if scope is None:
            scope = scope_of(inp.type._value_, inp.client_id)
        found: set[int] = set()
        if rule is _NAME:
            hit = self.by_name.get((scope, inp.name_norm))
            if hit:
                found |= hit
            for form in inp.keys.values.get(_HOST, ()):
                hit = self.by_name.get((scope, form))
                if hit:
                    found |= hit
            return found
        values = inp.keys.values.get(_KINDS[rule])
        if not values:
            return found
        kind = rule._value_
        if len(values) == 1:
            for value in values:
                hit = self.by_key.get((scope, kind, value))
                if hit:
                    found |= hit
            return found
        singled: set[int] = set()
        for value in values:
            hit = self.by_key.get((scope, kind, value))
            if hit:
                found |= hit
                if len(hit) == 1:
                    singled |= hit
        return singled if len(found) > 1 and len(singled) == 1 else found


def conflict(inp: MatchInput, record: RecordInfo, stronger: Sequence[Rule]) -> str | None:
    """The first stronger key on which the item and the record disagree, said in words."""
    for rule in stronger:
        if rule is _NAME:
            continue
        kind = _KINDS[rule]
        mine, theirs = inp.keys.values.get(kind), record.keys.values.get(kind)
        if not mine or not theirs:
            continue
        if kind is KeyKind.XREF:
            # Cross-references disagree only within one product's namespace (kind:type:).
            spaces = {x.rsplit(":", 1)[0] for x in mine} & {x.rsplit(":", 1)[0] for x in theirs}
            for space in sorted(spaces):
                a = {x for x in mine if x.startswith(space + ":")}
                b = {x for x in theirs if x.startswith(space + ":")}
                if not a & b:
                    return f"{kind.label} {', '.join(sorted(a))} differs from its {', '.join(sorted(b))}"
            continue
        if not mine & theirs:
            return f"{kind.label} {', '.join(sorted(mine))} differs from its {', '.join(sorted(theirs))}"
    return None


def _key_words(inp: MatchInput, rule: Rule, record_ids: Iterable[int], records: Records) -> str:
    if rule is Rule.NAME:
        return f"name {inp.name_norm!r}"
    kind = KeyKind(rule.value)
    shared: set[str] = set()
    for record_id in record_ids:
        shared |= records.info[record_id].keys.get(kind) & inp.keys.get(kind)
    return describe(kind, ", ".join(sorted(shared or inp.keys.get(kind))))


#: What a disagreeing stronger key most likely means, by type.
_CONFLICT_GUESS = {ResourceType.DEVICE: " (replaced hardware?)", ResourceType.CONTACT: " (another person, or a new address?)"}


def _conflict_reason(resource: MatchInput, what: str, record: RecordInfo, differs: str) -> str:
    return f"same {what} as record {record.name!r} but {differs}{_CONFLICT_GUESS.get(resource.type, '')}"


def decide(resource: MatchInput, records: Records, *, create_missing: bool,
           rules: Sequence[Rule] = DEFAULT_RULES) -> Outcome:
    """Apply the matching rules to one resource.

    ``records`` is updated: a record linked here is marked taken, so two resources of one
    sync never take the same record.
    """
    if resource.status is _MATCHED and resource.record_id is not None:
        return Outcome(Decision.KEEP, resource.record_id)
    if resource.status is _EXCLUDED:
        return Outcome(Decision.SKIP, reason="excluded by an operator")
    type_ = resource.type._value_
    if resource.client_id is None and resource.type is not _CLIENT:
        # Only a client record can be created without a client to file it under.
        return Outcome(Decision.NOT_SYNCED, reason="its remote company matches no local client",
                       kind=ReasonKind.NO_CLIENT)
    tried: list[Rule] = []
    #: why the record of its name, taken by another item, is not this one (a stronger key disagrees)
    elsewhere: str | None = None
    scope = (type_, None if resource.type is _CLIENT else resource.client_id)
    for rule in rules:
        found = records.candidates(resource, rule, scope)
        if not found:
            tried.append(rule)
            continue
        if len(found) > 1:
            if rule is _NAME:
                return Outcome(Decision.NOT_SYNCED, reason=f"{len(found)} {type_} records are named like it",
                               kind=ReasonKind.AMBIGUOUS)
            return Outcome(Decision.NOT_SYNCED, kind=ReasonKind.AMBIGUOUS,
                           reason=f"{len(found)} records share {_key_words(resource, rule, found, records)}")
        (record_id,) = found
        record = records.info[record_id]
        holder = records.taken.get(record_id)
        if holder is not None:
            if rule is _NAME:
                # A name is no identity: the record of that name is someone else's, so this
                # item simply has none yet (as before identity keys). Should a stronger key say
                # that record is another machine (person), that is the reason it stays Not Synced
                # (new hardware under the old host name, the old machine still linked).
                differs = conflict(resource, record, tried)
                if differs is not None:
                    elsewhere = _conflict_reason(resource, "name", record, differs)
                tried.append(rule)
                continue
            return Outcome(Decision.NOT_SYNCED, kind=ReasonKind.TAKEN,
                           reason=f"{_key_words(resource, rule, found, records)} is on record {record.name!r}, "
                                  f"already matched to {holder!r}")
        differs = conflict(resource, record, tried)
        if differs is not None:
            what = "name" if rule is _NAME else _key_words(resource, rule, found, records)
            return Outcome(Decision.NOT_SYNCED, kind=ReasonKind.CONFLICT,
                           reason=_conflict_reason(resource, what, record, differs))
        records.taken[record_id] = resource.name or resource.name_norm
        return Outcome(Decision.LINK, record_id, matched_on=_MATCHED_ON[rule])
    if create_missing:
        return Outcome(Decision.CREATE, matched_on=MatchedOn.CREATED)
    if elsewhere is not None:
        return Outcome(Decision.NOT_SYNCED, kind=ReasonKind.CONFLICT, reason=elsewhere)
    # The cross-reference every item has (its own) is not worth a mention.
    had = [KeyKind(rule.value).label for rule in rules
           if rule not in (Rule.NAME, Rule.XREF) and resource.keys.get(KeyKind(rule.value))]
    if not had:
        reason = f"no unlinked {type_} record of that name"
    else:
        reason = f"no unlinked {type_} record has its {', '.join(had)} or name"
    if resource.notes:
        reason += "; " + "; ".join(resource.notes)
    return Outcome(Decision.NOT_SYNCED, reason=reason, kind=ReasonKind.NO_MATCH)


# --------------------------------------------------------------------------- the records, in bulk

_KEYED_RULES = tuple(rule for rule in Rule if rule is not Rule.NAME)


def _json(values: Iterable[Any]) -> str:
    # Lists go to SQLite as one JSON parameter read by json_each: no limit on their length.
    return json.dumps(sorted(values), separators=(",", ":"))


def _counts(cursor: RawCursor, integration_id: int, kind: str, values: Iterable[str],
            excluding: str = "[]") -> RawCursor:
    """(value, live items of the integration carrying it) for key values of one kind, leaving
    out the resources whose ids ``excluding`` lists (as JSON)."""
    found: RawCursor = cursor.execute(
        "SELECT k.value, count(*) FROM resource_key k JOIN resource r ON r.id = k.resource_id"
        " WHERE k.kind = ? AND k.value IN (SELECT value FROM json_each(?)) AND r.integration_id = ?"
        " AND r.deleted_remotely = 0 AND k.resource_id NOT IN (SELECT value FROM json_each(?))"
        " GROUP BY k.value", (kind, _json(values), integration_id, excluding))
    return found


#: Carriers from which a shared value is "on more than" this many items: a sync that found a value
#: this widely shared counts it no more for the rest of its run (it identifies nothing either
#: way, and counting a virtual adapter's MAC on 100,000 devices for every page made a 1M sync
#: quadratic); it would take this many carriers dropping it within one run to be wrong, and the
#: next sync counts afresh.
MANY_CARRIERS = 1000


def shared_values(cursor: RawCursor, integration_id: int, page: Sequence[tuple[int | None, Keys]],
                  outside: dict[tuple[str, str], int] | None = None,
                  popular: set[tuple[str, str]] | None = None) -> dict[tuple[str, str], int]:
    """Key values more than one live item of the integration carries: (kind, value) -> items.

    ``page`` holds the items being synced, each with its stored resource id (None when new)
    and its keys now; their stored keys are left out of the count, being replaced. A serial
    on two items of one product identifies neither (a cloned image, a default nobody listed);
    a MAC on several is a virtual adapter. Host names are left to the name rule. ``outside``,
    if given, gains the values stored items outside the page carry, with how many carry them
    (the sync engine learns from it which earlier link a page shows to rest on a shared value).
    ``popular``, if given, holds the values found on :data:`MANY_CARRIERS` items or more (a
    run's pages share it): they are not counted again, and it gains those found now.
    """
    counts: dict[tuple[str, str], int] = {}
    wanted: dict[str, set[str]] = {}
    host = _HOST._value_
    for _, keys in page:
        if not keys:
            continue
        for kind, value in keys.pairs():
            if kind == host:
                continue
            counts[(kind, value)] = counts.get((kind, value), 0) + 1
            wanted.setdefault(kind, set()).add(value)
    ids = _json(rid for rid, _ in page if rid is not None)
    known = popular or set()
    for kind, values in wanted.items():
        asked = [value for value in values if (kind, value) not in known] if known else values
        if not asked:
            continue
        for value, n in _counts(cursor, integration_id, kind, asked, ids):
            counts[(kind, value)] += n
            if outside is not None:
                outside[(kind, value)] = n
            if popular is not None and n >= MANY_CARRIERS:
                popular.add((kind, value))
    for key in known & counts.keys() if known else ():
        counts[key] += MANY_CARRIERS
    return {key: n for key, n in counts.items() if n > 1}


def key_linked_carriers(cursor: RawCursor, integration_id: int, values: Iterable[tuple[str, str]]) -> set[int]:
    """The live resources of the integration that carry one of these (kind, value) keys and are
    linked on that kind of key: those whose link may rest on the value."""
    by_kind: dict[str, set[str]] = {}
    for kind, value in values:
        by_kind.setdefault(kind, set()).add(value)
    found: set[int] = set()
    for kind, wanted in by_kind.items():
        found.update(rid for (rid,) in cursor.execute(
            "SELECT k.resource_id FROM resource_key k JOIN resource r ON r.id = k.resource_id"
            " WHERE k.kind = ? AND k.value IN (SELECT value FROM json_each(?)) AND r.integration_id = ?"
            " AND r.status = 'matched' AND r.matched_on = k.kind AND r.deleted_remotely = 0",
            (kind, _json(wanted), integration_id)))
    return found


def guessed_links(cursor: RawCursor, integration_id: int, resource_ids: Sequence[int]) -> dict[int, str]:
    """Of these resources, linked on an identity key, those whose link rests only on values that
    several live items of the integration carry (and so identify none of them), with the reason.

    A link rests on the values of its key the resource and its record share (the record's from
    its other resources and its own keys): a machine linked on its own MAC is not suspect for
    also carrying a virtual adapter's MAC that many do.
    """
    mine: dict[int, tuple[int, str, set[str]]] = {}
    for resource_id, record_id, kind, value in cursor.execute(
        "SELECT r.id, r.record_id, r.matched_on, k.value FROM resource r CROSS JOIN resource_key k"
        " WHERE r.id IN (SELECT value FROM json_each(?)) AND r.status = 'matched' AND k.resource_id = r.id"
        " AND k.kind = r.matched_on", (_json(resource_ids),)
    ):
        mine.setdefault(resource_id, (record_id, kind, set()))[2].add(value)
    if not mine:
        return {}
    # The keys the records hold besides through these resources: their other resources' and their own.
    records = _json(record_id for record_id, _, _ in mine.values())
    held: dict[int, list[tuple[int, str, str]]] = {}
    for record_id, other_id, kind, value in cursor.execute(
        "SELECT x.record_id, x.id, o.kind, o.value FROM resource x CROSS JOIN resource_key o"
        " WHERE x.record_id IN (SELECT value FROM json_each(?)) AND o.resource_id = x.id"
        " UNION ALL SELECT record_id, 0, kind, value FROM record_key WHERE record_id IN (SELECT value FROM json_each(?))",
        (records, records)
    ):
        held.setdefault(record_id, []).append((other_id, kind, value))
    theirs: dict[int, set[str]] = {}
    for resource_id, (record_id, kind, _) in mine.items():
        for other_id, other_kind, value in held.get(record_id, ()):
            if other_id != resource_id and other_kind == kind:
                theirs.setdefault(resource_id, set()).add(value)
    resting: dict[int, tuple[str, set[str]]] = {}
    wanted: dict[str, set[str]] = {}
    for resource_id, (_, kind, values) in mine.items():
        common = values & theirs.get(resource_id, set())
        if common:
            resting[resource_id] = (kind, common)
            wanted.setdefault(kind, set()).update(common)
    counts = {(kind, value): n for kind, values in wanted.items()
              for value, n in _counts(cursor, integration_id, kind, values)}
    guessed = {}
    for resource_id, (kind, common) in resting.items():
        if all(counts.get((kind, value), 0) > 1 for value in common):
            value = min(common)
            guessed[resource_id] = _identifies_none(kind, value, counts[(kind, value)])
    return guessed


def without_shared(keys: Keys, shared: Mapping[tuple[str, str], int]) -> tuple[Keys, tuple[str, ...]]:
    """An item's keys less the values :func:`shared_values` found, and a note for each."""
    notes = []
    for kind, value in keys.pairs():
        n = shared.get((kind, value))
        if n:
            keys = keys.without(KeyKind(kind), value)
            notes.append(_identifies_none(kind, value, n))
    return keys, tuple(notes)


def _identifies_none(kind: str, value: str, carriers: int) -> str:
    """Why a key value on ``carriers`` items of one integration links none of them."""
    many = f"more than {MANY_CARRIERS:,}" if carriers > MANY_CARRIERS else f"{carriers:,}"
    return f"{describe(KeyKind(kind), value)} is on {many} items of this integration, so it identifies none of them"


def load_records(cursor: RawCursor, integration_id: int, inputs: Sequence[MatchInput],
                 rules: Sequence[Rule] = DEFAULT_RULES) -> Records:
    """The records ``inputs`` may link to, each with its keys, and those the integration has taken.

    A handful of statements whatever the number of inputs: one per key kind and one for
    names to find candidates, then their details, keys and links (``cursor`` is a DB-API
    cursor, the sync engine's own inside its page transaction).
    """
    records = Records()
    ids: set[int] = set()
    # One pass over the inputs: their key values by kind, and the (scope, name form) pairs.
    wanted: dict[KeyKind, set[str]] = {}
    names: set[tuple[tuple[str, int | None], str]] = set()
    host_kind = _HOST
    for inp in inputs:
        type_ = inp.type._value_
        scope = (type_, None if type_ == "client" else inp.client_id)
        names.add((scope, inp.name_norm))
        if inp.keys:
            for key_kind, held in inp.keys.values.items():
                got = wanted.get(key_kind)
                if got is None:
                    wanted[key_kind] = set(held)
                else:
                    got |= held
                if key_kind is host_kind:
                    names.update((scope, form) for form in held)
    for rule in rules:
        if rule is Rule.NAME:
            continue
        found = wanted.get(_KINDS[rule])
        if found and rule is Rule.XREF:
            triples = json.dumps([x.split(":", 2) for x in sorted(found) if x.count(":") >= 2])
            ids.update(rid for (rid,) in cursor.execute(_BY_XREF, (triples, _json(found), _json(found))))
        elif found:
            ids.update(rid for (rid,) in cursor.execute(_BY_KEY, (rule.value, _json(found)) * 2))
    if Rule.NAME in rules:
        client_names = [form for (type_, _), form in names if type_ == "client"]
        scoped = [[type_, client_id, form] for (type_, client_id), form in names if type_ != "client"]
        if client_names:
            ids.update(rid for (rid,) in cursor.execute(
                "SELECT id FROM record WHERE type = 'client' AND name_norm IN (SELECT value FROM json_each(?))",
                (_json(client_names),)))
        if scoped:
            ids.update(rid for (rid,) in cursor.execute(
                "SELECT r.id FROM json_each(?) k JOIN record r ON r.type = json_extract(k.value, '$[0]')"
                " AND r.client_id = json_extract(k.value, '$[1]') AND r.name_norm = json_extract(k.value, '$[2]')",
                (json.dumps(scoped),)))
        hosts = {form for (type_, _), form in names if type_ == "device"}
        if hosts:
            ids.update(rid for (rid,) in cursor.execute(_BY_KEY, (KeyKind.HOST.value, _json(hosts)) * 2))
    if not ids:
        return records
    id_list = _json(ids)
    # The candidates' keys come as (record, kind, value) rows: grouped by record and kind as they
    # come, then indexed straight from the groups (no key set built and taken apart per record).
    keys: dict[int, dict[str, set[str]]] = {}
    for record_id, kind, value in cursor.execute(queries.KEYS_OF_RECORDS, (id_list,) * 3):
        kinds = keys.get(record_id)
        if kinds is None:
            keys[record_id] = {kind: {value}}
        elif kind in kinds:
            kinds[kind].add(value)
        else:
            kinds[kind] = {value}
    info, by_key, by_name = records.info, records.by_key, records.by_name
    host = KeyKind.HOST._value_
    for record_id, type_, client_id, name, name_norm in cursor.execute(
        "SELECT id, type, client_id, name, name_norm FROM record WHERE id IN (SELECT value FROM json_each(?))",
        (id_list,)
    ):
        scope = (type_, None if type_ == "client" else client_id)
        kinds = keys.get(record_id)
        if not kinds:
            info[record_id] = RecordInfo(record_id, type_, client_id, name, name_norm)
            by_name.setdefault((scope, name_norm), set()).add(record_id)
            continue
        info[record_id] = RecordInfo(record_id, type_, client_id, name, name_norm,
                                     Keys({_KIND_OF[kind]: frozenset(values) for kind, values in kinds.items()}))
        for kind, values in kinds.items():
            for value in values:
                by_key.setdefault((scope, kind, value), set()).add(record_id)
        by_name.setdefault((scope, name_norm), set()).add(record_id)
        for form in kinds.get(host, ()):
            by_name.setdefault((scope, form), set()).add(record_id)
    # The unary + keeps SQLite on ix_resource_record rather than scanning the integration.
    for record_id, name in cursor.execute(
        "SELECT record_id, name FROM resource WHERE record_id IN (SELECT value FROM json_each(?))"
        " AND +integration_id = ?", (id_list, integration_id)
    ):
        records.taken[record_id] = name
    return records


def records_for(store: Store, integration_id: int, inputs: Sequence[MatchInput],
                rules: Sequence[Rule] = DEFAULT_RULES) -> Records:
    """:func:`load_records` on a read of ``store`` (the sync engine calls it in its own transaction)."""
    with store.read() as conn:
        cursor = raw_connection(conn).cursor()
        try:
            return load_records(cursor, integration_id, inputs, rules)
        finally:
            cursor.close()


#: Records holding a key (kind, values as JSON; the two parameters twice): through the
#: resources linked to them, and their own keys. UNION ALL (here and below): the ids go into a
#: set, so SQLite need not sort them to drop duplicates.
_BY_KEY = (
    "SELECT r.record_id FROM resource_key k JOIN resource r ON r.id = k.resource_id"
    " WHERE k.kind = ? AND k.value IN (SELECT value FROM json_each(?)) AND r.record_id IS NOT NULL"
    " UNION ALL SELECT record_id FROM record_key WHERE kind = ? AND value IN (SELECT value FROM json_each(?))"
)
#: Records holding cross-references: the first parameter is [kind, type, external id] triples as
#: JSON, the other two the cross-references as JSON. A resource's own cross-reference (kind:type:
#: external id) is not stored: it is its integration's kind, its type and its external id, found
#: by the unique (integration, type, external id) index. CROSS JOIN keeps SQLite on that order.
_BY_XREF = (
    "SELECT r.record_id FROM json_each(?) x CROSS JOIN integration i CROSS JOIN resource r"
    " WHERE i.kind = json_extract(x.value, '$[0]') AND r.integration_id = i.id"
    " AND r.type = json_extract(x.value, '$[1]') AND r.external_id = json_extract(x.value, '$[2]')"
    " AND r.record_id IS NOT NULL"
    " UNION ALL SELECT r.record_id FROM resource_key k JOIN resource r ON r.id = k.resource_id"
    " WHERE k.kind = 'xref' AND k.value IN (SELECT value FROM json_each(?)) AND r.record_id IS NOT NULL"
    " UNION ALL SELECT record_id FROM record_key WHERE kind = 'xref' AND value IN (SELECT value FROM json_each(?))"
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A local record an operator may re-match a resource to."""

    record: queries.RecordRow
    score: float
    #: the resource of the same integration already linked to it (id, name), if any
    linked_to: tuple[int, str] | None
    #: the type of the resource being re-matched
    for_type: ResourceType
    #: how its name differs in a number from the resource's ("353 vs 133"), when ranked by that name
    number_difference: str | None = None

    @property
    def refusal(self) -> str | None:
        """Why re-matching to this record would be refused, in words; None when it would not."""
        if self.record.type is not self.for_type:
            return f"a {self.record.type.value} record, not a {self.for_type.value}"
        if self.linked_to is not None:
            return f"already matched to {self.linked_to[1]}"
        return None


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
    ranks by it; otherwise they rank by similarity to the resource's own name, those whose
    numbers differ from it last. Records another resource of the integration is linked to
    are listed too, with :attr:`Candidate.refusal` saying why they cannot be picked.
    """
    resource = queries.get_resource(store, resource_id)
    client_id = None if all_clients else resource.client_id
    records = queries.find_records(store, resource.type, client_id=client_id, text=search)
    if not records and not all_clients and not search:
        records = queries.find_records(store, resource.type)
    by_id = {r.id: r for r in records if r.id != resource.record_id}
    # The operator's typing ranks by similarity alone; the resource's own name respects numbers.
    ranked = rank(search or resource.name, {rid: r.name for rid, r in by_id.items()}, limit=limit,
                  numbers=not search)
    linked = queries.linked_resources(store, resource.integration_id, [rid for rid, _ in ranked])
    return [Candidate(by_id[rid], score, linked.get(rid), resource.type,
                      None if search else number_difference(resource.name, by_id[rid].name))
            for rid, score in ranked]


