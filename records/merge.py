"""The merge rules of the sync engine, as pure functions (no ORM, no Django): docs/sync-protocol.md, "How
fields merge".

Every value here is in wire (JSON) form. A mutation is merged against its *effective base*: the record as the
device knew it when the edit was made, i.e. the version it was based on with that device's own later edits laid
on top (effective_base). Against that base, each field the mutation carries is decided by its policy:

- nobody else changed the field since the base: the device's value is stored as sent;
- the device did not change it (its value equals the base): the newer stored value stays;
- both changed it: counts add every side's increment (identical increments included), sets and lists merge
  three-way, text merges three-way (only overlapping edits are kept side by side, marked), a status move applies
  if the state machine allows it from the current status, and anything else keeps the stored value and records
  the device's value as a conflict.
"""

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from merge3 import Merge3

SCALAR, SET, LIST, COUNTS, TEXT, STATUS = "scalar", "set", "list", "counts", "text", "status"
MERGE_SEPARATOR = "\n\n--- merged edit ---\n"

# What a merged mutation's answer says happened (docs/sync-protocol.md, "Answer").
APPLIED, MERGED, CONFLICT, UNCHANGED = "applied", "merged", "conflict", "unchanged"


@dataclass(frozen=True)
class FieldConflict:
    """A field both sides changed where the stored value stays: `mine` goes to a conflict record."""

    name: str
    policy: str
    base: Any
    theirs: Any
    mine: Any


@dataclass
class Merge:
    """The outcome of merging one mutation.

    values: the fields whose stored value changes, with the value to store.
    merged: fields sent whose stored value is now not the value sent (combined with, or kept from, other edits).
    conflicts: fields where the stored value stays and the sent one is kept as a conflict record.
    """

    values: dict[str, Any] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    conflicts: list[FieldConflict] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.conflicts:
            return CONFLICT
        if self.merged:
            return MERGED
        return APPLIED if self.values else UNCHANGED


def effective_base(base: Mapping[str, Any] | None, own_edits: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The record as the device knew it: `base` (its base version's values) with the fields of its own edits
    applied since that version laid on top, in the order it made them. A device's earlier edits are never
    "someone else's change" to its later ones."""
    edits = list(own_edits)
    if base is None and not edits:
        return None
    known = dict(base or {})
    for edit in edits:
        known.update(edit)
    return known


def merge_record(
    policies: Mapping[str, str],
    transitions: Mapping[str, Mapping[Any, Iterable[Any]]],
    base: Mapping[str, Any] | None,
    current: Mapping[str, Any],
    incoming: Mapping[str, Any],
) -> Merge:
    """Decide each incoming field against the current values and the effective base.

    base None: the edit was made on the current version (nothing to merge: every value is stored as sent).
    """
    outcome = Merge()
    for name, mine in incoming.items():
        theirs = current.get(name)
        b = theirs if base is None else base.get(name)
        policy = policies[name]
        result, conflict = merge_field(policy, transitions.get(name, {}), b, theirs, mine)
        if conflict:
            outcome.conflicts.append(FieldConflict(name, policy, b, theirs, mine))
            continue
        if result != theirs:
            outcome.values[name] = result
        if result != mine:
            outcome.merged.append(name)
    return outcome


def merge_field(
    policy: str, transitions: Mapping[Any, Iterable[Any]], base: Any, theirs: Any, mine: Any
) -> tuple[Any, bool]:
    """One field: (value to store, is a conflict). On a conflict the stored value stays."""
    if base == theirs:  # nobody else changed it since the device's base
        return mine, False
    if base == mine:  # the device did not change it: the newer stored value stays
        return theirs, False
    if policy == COUNTS:  # identical increments still add up
        return merge_counts(base, theirs, mine), False
    if mine == theirs:
        return theirs, False
    if policy in (SET, LIST):
        return merge_items(base, theirs, mine), False
    if policy == TEXT:
        return merge_text(base, theirs, mine), False
    if policy == STATUS and mine in set(transitions.get(theirs, ())):
        return mine, False
    return theirs, True


def merge_counts(base: Any, theirs: Any, mine: Any) -> dict[str, int]:
    """{code: count}: the stored counts plus the device's increments since its base. A count never goes below
    zero; zero counts are left out."""
    base, theirs, mine = base or {}, theirs or {}, mine or {}
    out = {}
    for key in sorted(set(base) | set(theirs) | set(mine)):
        value = theirs.get(key, 0) + mine.get(key, 0) - base.get(key, 0)
        if value > 0:
            out[key] = value
    return out


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def merge_items(base: Any, theirs: Any, mine: Any) -> list[Any]:
    """Three-way merge of lists as sets of whole items: what either side added is kept (once), what either side
    removed is gone. Stored order first, then the device's additions in its order."""
    base_keys = {_key(x) for x in base or []}
    their_keys = {_key(x) for x in theirs or []}
    my_keys = {_key(x) for x in mine or []}
    removed = (base_keys - their_keys) | (base_keys - my_keys)
    result, seen = [], set()
    for item in list(theirs or []) + list(mine or []):
        k = _key(item)
        if k in seen or k in removed:
            continue
        seen.add(k)
        result.append(item)
    return result


# Sentences (or lines), each with the white space before it: an edit of one sentence merges with an edit of
# another; two edits of the same sentence keep both versions of it.
_SENTENCES = re.compile(r"\s*[^.!?\s][^.!?\n]*[.!?]*|\s*[.!?]+|\s+")


def sentences(text: str) -> list[str]:
    """The text cut into sentences; joined again they give the text back exactly."""
    parts = _SENTENCES.findall(text)
    return parts if "".join(parts) == text else [text]


class _Sentence(str):
    """A sentence that matches another with the same words whatever white space comes before it (a merge puts
    a passage after MERGE_SEPARATOR on a line of its own), so text merged once merges cleanly again."""

    def __eq__(self, other: object) -> bool:
        return self.strip() == str(other).strip()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.strip())


def _cut(text: str) -> list[_Sentence]:
    return [_Sentence(part) for part in sentences(text)]


def merge_text(base: Any, theirs: Any, mine: Any) -> str:
    """Three-way merge of free text, sentence by sentence: both sides' edits are kept and the text they share
    appears once, as stored. Where both changed the same passage, both versions of it are kept, the stored one
    first, separated by MERGE_SEPARATOR."""
    base, theirs, mine = base or "", theirs or "", mine or ""
    if theirs == base or mine == theirs:
        return str(mine)
    if mine == base:
        return str(theirs)
    z, a, b = _cut(base), _cut(theirs), _cut(mine)
    parts, iz, ia, ib = [], 0, 0, 0
    # Passages all three share (sync regions) are kept as stored, white space included; what lies between them
    # is decided side by side. The last sync region is empty and ends all three texts.
    for zmatch, zend, amatch, aend, bmatch, bend in Merge3(z, a, b).find_sync_regions():
        parts.append(_between(z[iz:zmatch], a[ia:amatch], b[ib:bmatch]))
        parts.append("".join(a[amatch:aend]))
        iz, ia, ib = zend, aend, bend
    return "".join(parts)


def _between(base: list[_Sentence], theirs: list[_Sentence], mine: list[_Sentence]) -> str:
    stored, sent = "".join(theirs), "".join(mine)
    if theirs == mine or mine == base:
        return stored
    if theirs == base:
        return sent
    if not stored.strip():
        return sent
    if not sent.strip():
        return stored
    return stored.rstrip() + MERGE_SEPARATOR + sent.lstrip()
