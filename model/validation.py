"""Which changes from other laptops a replica takes: the write rules and the limits.

A change arrives signed by its author (checked by the network layer before this). This
module judges what it writes, before anything is applied:

**Write rules** (``WriteRules``), the same for everyone and independent of roles or of
what else the replica holds, so every honest replica takes or refuses a change alike and
a refusal never splits the session:

- the root of the document, and everything the creator made (the session and the
  protocol), are the creator's;
- in the shared maps ``participants`` and ``control``, a laptop writes only the key equal
  to its own id; in ``items`` it adds only keys that start with its own id (so nobody can
  shadow someone else's item), and deletes only its own;
- anywhere else, a laptop writes only in objects it created (an object's id names its
  creator).

Who may do what *now* (the facilitator moves the phase, the client marks a question
answered) depends on roles, and is checked when the document is read (``model.control``,
``model.snapshot``): a value written by someone without the role does not count, and
nobody can overwrite or delete what someone else wrote.

**Limits** (``Ledger``): a change is at most ``MAX_CHANGE_BYTES`` once inflated and
``MAX_CHANGE_OPS`` ops, adds at most ``MAX_ITEMS_PER_CHANGE`` items; each author holds at
most ``MAX_ITEMS_PER_AUTHOR`` items at once (those it added less those it deleted: the
keys under its prefix, which only it writes) and writes at most ``MAX_BYTES_PER_AUTHOR``
bytes of changes in the whole session. An author's totals are counted over its own
changes in order, which every replica holds alike, so every replica refuses the same
change (and, an author's changes forming a chain, everything that author writes after
it). The creator's totals are not capped (the
facilitator's laptop scripts the session; a hostile creator owns the session anyway).

How fast an author adds items (``MAX_ITEMS_PER_MINUTE``) is not judged here: a change
carries no time every replica agrees on (this binding writes 0 in every change), and a
refusal that depends on when a change arrived would split honest replicas. The network
layer brakes a link that brings more than that instead (``sync.core``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from automerge.core import ROOT, Document, ObjType

from model.authorship import parse_op_id
from model.changes import (
    ACTION_DELETE,
    ROOT_OBJ,
    DecodedChange,
    ObjId,
    obj_id_of,
    write_runs,
)
from model.reading import child
from model.schema import K_CONTROL, K_ITEMS, K_PARTICIPANTS

__all__ = [
    "ITEM_PREFIX",
    "MAX_BYTES_PER_AUTHOR",
    "MAX_CHANGE_BYTES",
    "MAX_CHANGE_OPS",
    "MAX_ITEMS_PER_AUTHOR",
    "MAX_ITEMS_PER_CHANGE",
    "MAX_ITEMS_PER_MINUTE",
    "Ledger",
    "Refused",
    "WriteRules",
]

MAX_CHANGE_BYTES: Final = 512 * 1024
MAX_CHANGE_OPS: Final = 50_000  # a character typed is one op: 200 items of 200 characters
MAX_ITEMS_PER_CHANGE: Final = 200  # a script's batch of adds (tui.headless.SCRIPT_BATCH)
MAX_ITEMS_PER_MINUTE: Final = 1_200  # a brake on links (sync.core), never a refusal
MAX_ITEMS_PER_AUTHOR: Final = 5_000
MAX_BYTES_PER_AUTHOR: Final = 4 * 1024 * 1024
ITEM_PREFIX: Final = 32  # hex characters of the author's id that start each of its item keys

_MAKE_MAP: Final = 0
_MAKE_LIST: Final = 2


class Refused(ValueError):
    """A change breaks a write rule or a limit; ``culprit`` is its author (who signed it)."""

    def __init__(self, culprit: bytes, reason: str) -> None:
        super().__init__(reason)
        self.culprit = culprit
        self.reason = reason


@dataclass(frozen=True)
class WriteRules:
    """The write rules of one session (see the module's docstring)."""

    creator: bytes
    shared: dict[ObjId, str]  # the shared maps' object ids -> their root key

    @classmethod
    def of(cls, doc: Document, creator: bytes) -> WriteRules:
        """The rules for ``doc``, whose creator (the session id proves it) is ``creator``."""
        shared: dict[ObjId, str] = {}
        for key in (K_PARTICIPANTS, K_ITEMS, K_CONTROL):
            obj = child(doc, ROOT, key, ObjType.Map)
            op = parse_op_id(obj) if obj is not None else None
            if obj is not None and op is not None and op.actor == creator.hex():
                shared[obj_id_of(obj)] = key
        return cls(creator, shared)

    def check(self, change: DecodedChange) -> int:
        """Raise ``Refused`` unless ``change`` keeps the rules and the per-change limits;
        how it changes its author's count of items (those it adds less those it
        deletes)."""
        author = change.actor
        if change.size > MAX_CHANGE_BYTES:
            raise Refused(author, f"a change of {change.size} bytes (at most "
                                  f"{MAX_CHANGE_BYTES})")
        own = author.hex()
        ops = items = added = 0
        for run in write_runs(change):
            ops += run.size
            if ops > MAX_CHANGE_OPS:
                raise Refused(author, f"a change of more than {MAX_CHANGE_OPS} operations")
            if run.obj == ROOT_OBJ:
                if author != self.creator:
                    raise Refused(author, "writes the root of the session (the creator's)")
                continue
            section = self.shared.get(run.obj)
            if section is None:
                if run.obj[1] != author:
                    raise Refused(author, "writes into someone else's data")
                continue
            key = run.key
            if key is None:
                raise Refused(author, f"writes a position in the shared {section} map")
            if run.pred - {author}:
                raise Refused(author, f"overwrites or deletes someone else's {section} entry")
            if run.action == ACTION_DELETE:
                if not run.pred:
                    raise Refused(author, "deletes nothing")
                if section == K_ITEMS:
                    items -= run.size
            elif section == K_ITEMS:
                if run.action != _MAKE_MAP:
                    raise Refused(author, "writes something other than an item in the items")
                if not run.pred:  # a new key (over one of its own keys, the count stays)
                    items += run.size
                    added += run.size
            elif run.action != (_MAKE_LIST if section == K_CONTROL else _MAKE_MAP):
                raise Refused(author, f"writes something else than its own {section} entry")
            if section == K_ITEMS:
                if not (key.startswith(own[:ITEM_PREFIX]) and len(key) <= 64):
                    raise Refused(author, "adds an item under a key that is not its own")
            elif key != own:
                raise Refused(author, f"writes someone else's {section} entry")
        if added > MAX_ITEMS_PER_CHANGE:
            raise Refused(author, f"adds {added} items at once (at most {MAX_ITEMS_PER_CHANGE})")
        return items


class StoredChange(Protocol):
    """What the binding's ``Document.get_changes`` gives for each change."""

    actor_id: bytes
    seq: int
    hash: bytes
    raw_bytes: bytes


@dataclass
class _Author:
    seq: int = 0
    items: int = 0
    size: int = 0

    def copy(self) -> _Author:
        return _Author(self.seq, self.items, self.size)

    def add(self, size: int, items: int) -> None:
        self.seq += 1
        self.items += items
        self.size += size


class Ledger:
    """Every change a replica holds, per author in order, with each author's totals.

    ``known`` holds every change hash; ``seqs()`` how many changes of each author (what a
    ``Have`` says); ``hash_at(author, seq)`` and ``place(hash)`` go between a change's hash
    and its place in its author's sequence. ``judge`` sorts the next changes into those
    within the limits and those refused.
    """

    def __init__(self, creator: bytes = b"") -> None:
        self.creator = creator
        self.known: set[bytes] = set()
        self._authors: dict[bytes, _Author] = {}
        self._hashes: dict[bytes, list[bytes]] = {}  # author -> hashes by seq - 1
        self._places: dict[bytes, tuple[bytes, int]] = {}

    def seq(self, author: bytes) -> int:
        entry = self._authors.get(author)
        return entry.seq if entry is not None else 0

    def seqs(self) -> dict[bytes, int]:
        return {author: entry.seq for author, entry in self._authors.items()}

    def hash_at(self, author: bytes, seq: int) -> bytes | None:
        hashes = self._hashes.get(author)
        if hashes is None or not 1 <= seq <= len(hashes):
            return None
        return hashes[seq - 1]

    def place(self, change_hash: bytes) -> tuple[bytes, int] | None:
        """The author and seq of a change held, or None."""
        return self._places.get(change_hash)

    def _admit(self, entry: _Author, change: DecodedChange, items: int) -> None:
        author = change.actor
        if change.seq != entry.seq + 1:
            if change.seq <= entry.seq:
                raise Refused(author, f"sent two different changes numbered {change.seq}")
            raise Refused(author, f"skipped from change {entry.seq} to {change.seq}")
        if author == self.creator:
            return
        if entry.items + items > MAX_ITEMS_PER_AUTHOR:
            raise Refused(author, f"more than {MAX_ITEMS_PER_AUTHOR} items in the session")
        if entry.size + change.size > MAX_BYTES_PER_AUTHOR:
            raise Refused(author, f"more than {MAX_BYTES_PER_AUTHOR // 1024} KiB of changes")

    def judge(self, entries: Iterable[tuple[DecodedChange, int]]
              ) -> tuple[list[DecodedChange], list[tuple[DecodedChange, Refused]]]:
        """Sort the next changes (each with the items it adds, in an order where each comes
        after what it depends on) into those within the limits and those refused; a change
        that depends on a refused one is left out of both. Nothing is recorded."""
        trial: dict[bytes, _Author] = {}
        accepted: list[DecodedChange] = []
        refused: list[tuple[DecodedChange, Refused]] = []
        bad: set[bytes] = set()
        for change, items in entries:
            if bad.intersection(change.deps):
                bad.add(change.hash)
                continue
            state = trial.get(change.actor)
            if state is None:
                held = self._authors.get(change.actor)
                state = held.copy() if held is not None else _Author()
            try:
                self._admit(state, change, items)
            except Refused as reason:
                refused.append((change, reason))
                bad.add(change.hash)
                continue
            state.add(change.size, items)
            trial[change.actor] = state
            accepted.append(change)
        return accepted, refused

    def record(self, author: bytes, seq: int, change_hash: bytes, *, size: int = 0,
               items: int = 0) -> None:
        """Note a change the replica now holds (applied, or made here); one noted already is
        left as it is."""
        if change_hash in self.known:
            return
        entry = self._authors.setdefault(author, _Author())
        if seq != entry.seq + 1:
            raise ValueError(f"change {seq} of an author who has {entry.seq}")
        entry.add(size, items)
        self._hashes.setdefault(author, []).append(change_hash)
        self._places[change_hash] = (author, seq)
        self.known.add(change_hash)

    def record_change(self, change: DecodedChange, items: int) -> None:
        self.record(change.actor, change.seq, change.hash, size=change.size, items=items)

    @classmethod
    def of(cls, doc: Document, rules: WriteRules | None) -> Ledger:
        """The ledger of everything ``doc`` holds: every change's place (read once) and
        each author's items (counted from the keys of the items map)."""
        ledger = cls(rules.creator if rules is not None else b"")
        ledger.extend(doc.get_changes([]))
        ledger.count_items(doc)
        return ledger

    def extend(self, changes: Iterable[StoredChange]) -> None:
        """Record ``changes`` (the binding's changes of a document, in causal order); call
        ``count_items`` after, for the items they added or deleted."""
        for change in changes:
            self.record(change.actor_id, change.seq, change.hash, size=len(change.raw_bytes))

    def count_items(self, doc: Document) -> None:
        """Set each author's count of items from ``doc``: the keys under its prefix in the
        items map, which only that author writes (``WriteRules``), so the count is what its
        changes in order add up to, on every replica alike."""
        entries = child(doc, ROOT, K_ITEMS, ObjType.Map)
        held: dict[str, int] = {}
        for key in doc.keys(entries) if entries is not None else ():
            held[key[:ITEM_PREFIX]] = held.get(key[:ITEM_PREFIX], 0) + 1
        for author, entry in self._authors.items():
            entry.items = held.get(author.hex()[:ITEM_PREFIX], 0)
