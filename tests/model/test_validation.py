"""Which changes from other laptops a replica takes: decoding, write rules, limits."""

from __future__ import annotations

import zlib

import pytest
from automerge.core import ROOT, Document, ObjType, ScalarType
from hypothesis import given, settings
from hypothesis import strategies as st

from model import ops
from model.changes import (
    CHUNK_COMPRESSED,
    MAGIC,
    ChangeFormatError,
    decode_change,
    write_runs,
)
from model.keys import Identity
from model.protocols import builtin_protocols
from model.reading import child
from model.validation import (
    MAX_CHANGE_BYTES,
    MAX_ITEMS_PER_AUTHOR,
    MAX_ITEMS_PER_CHANGE,
    Ledger,
    Refused,
    WriteRules,
)

BIG = 1 << 20


def last(doc: Document) -> tuple[bytes, bytes]:
    change = doc.get_last_local_change()
    assert change is not None
    return change.bytes, change.raw_bytes


@pytest.fixture
def session() -> tuple[Document, bytes, bytes]:
    """A session document, its creator and a member (who joined)."""
    MEMBERS.clear()
    anne, bob = Identity.generate(), Identity.generate()
    MEMBERS.update({anne.actor: anne, bob.actor: bob})
    doc = ops.create_session(identity=anne, title="T", protocol=builtin_protocols()["codev"],
                             name="Anne", now=0)
    doc.set_actor(bob.actor)
    ops.join(doc, actor=bob.actor, name="Bob", now=1)
    return doc, anne.actor, bob.actor


MEMBERS: dict[bytes, Identity] = {}


# -- decoding -----------------------------------------------------------------------------
def test_both_encodings_of_a_change_decode_to_what_the_binding_says() -> None:
    doc = Document(Identity.generate().actor)
    with doc.transaction() as tx:
        text = tx.put_object(ROOT, "t", ObjType.Text)
        tx.splice_text(text, 0, 0, "long enough to be compressed " * 30)  # type: ignore[attr-defined]
    change = doc.get_changes([])[0]
    assert change.bytes[8] == CHUNK_COMPRESSED and change.raw_bytes != change.bytes
    for data in (change.bytes, change.raw_bytes):
        decoded = decode_change(data, max_size=BIG)
        assert decoded.hash == change.hash and decoded.actor == change.actor_id
        assert decoded.seq == change.seq and list(decoded.deps) == change.deps
        assert decoded.body == change.raw_bytes and decoded.data == data


@pytest.mark.parametrize("damage", ["checksum", "trailing", "truncated", "type", "magic"])
def test_a_damaged_change_is_refused(session: tuple[Document, bytes, bytes],
                                     damage: str) -> None:
    doc, _, _ = session
    _, raw = last(doc)
    data = {"checksum": raw[:4] + bytes(4) + raw[8:], "trailing": raw + b"\x00",
            "truncated": raw[:-1], "type": raw[:8] + b"\x00" + raw[9:],
            "magic": b"\x00" + raw[1:]}[damage]
    with pytest.raises(ChangeFormatError):
        decode_change(data, max_size=BIG)


def test_a_whole_document_is_not_a_change(session: tuple[Document, bytes, bytes]) -> None:
    with pytest.raises(ChangeFormatError, match="not a change"):
        decode_change(session[0].save(), max_size=BIG)


def test_a_small_compressed_change_cannot_make_us_hold_a_large_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    doc = Document(Identity.generate().actor)
    with doc.transaction() as tx:
        tx.put(ROOT, "big", ScalarType.Str, "x" * 5_000_000)
    compressed = doc.get_changes([])[0].bytes
    assert len(compressed) < 50_000
    inflated: list[int] = []
    real = zlib.decompressobj

    class Spy:  # zlib's inflater, counting what it hands back
        def __init__(self, wbits: int) -> None:
            self._inflater = real(wbits)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self._inflater.decompress(data, max_length)
            inflated.append(len(out))
            return out

        @property
        def unconsumed_tail(self) -> bytes:
            return self._inflater.unconsumed_tail

        @property
        def eof(self) -> bool:
            return self._inflater.eof

    monkeypatch.setattr(zlib, "decompressobj", Spy)
    with pytest.raises(ChangeFormatError, match="inflates past"):
        decode_change(compressed, max_size=512 * 1024)
    assert inflated and sum(inflated) <= 512 * 1024 + 1  # never the 5 MB


def test_a_compressed_chunk_that_is_not_deflate_is_refused() -> None:
    body = b"not deflate at all"
    data = MAGIC + bytes(4) + bytes((CHUNK_COMPRESSED, len(body))) + body
    with pytest.raises(ChangeFormatError, match="does not inflate"):
        decode_change(data, max_size=BIG)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_any_damaged_byte_is_refused_cleanly(position: int, value: int) -> None:
    doc = Document(b"\x07" * 32)
    with doc.transaction() as tx:
        items = tx.put_object(ROOT, "items", ObjType.Map)
        tx.put(items, "k", ScalarType.Str, "v")
    raw = doc.get_changes([])[0].raw_bytes
    index = position % len(raw)
    damaged = raw[:index] + bytes((value,)) + raw[index + 1:]
    try:
        decoded = decode_change(damaged, max_size=BIG)
        list(write_runs(decoded))
    except ChangeFormatError:
        return
    assert damaged == raw  # only an undamaged change decodes


def test_write_runs_name_the_object_key_action_and_overwritten_authors(
        session: tuple[Document, bytes, bytes]) -> None:
    doc, _creator, member = session
    person = child(doc, child(doc, ROOT, "participants", ObjType.Map), member.hex(),
                   ObjType.Map)
    with doc.transaction() as tx:
        tx.put(person, "name", ScalarType.Str, "Bobby")
    _, raw = last(doc)
    [run] = list(write_runs(decode_change(raw, max_size=BIG)))
    assert run.key == "name" and run.action == 1 and run.obj[1] == member
    assert run.pred == {member}


# -- write rules ----------------------------------------------------------------------------
def judge(doc: Document, creator: bytes) -> int:
    _, raw = last(doc)
    return WriteRules.of(doc, creator).check(decode_change(raw, max_size=BIG))


def test_honest_writes_keep_the_rules(session: tuple[Document, bytes, bytes]) -> None:
    doc, creator, member = session
    rules = WriteRules.of(doc, creator)
    for change in doc.get_changes([]):
        rules.check(decode_change(change.raw_bytes, max_size=BIG))
    item = ops.add_item(doc, actor=member, kind="question", text="Why?", phase=0, now=2)
    assert judge(doc, creator) == 1
    ops.edit_item(doc, item, "Why not?")
    judge(doc, creator)
    ops.append_control(doc, identity=MEMBERS[member], session_id="0" * 32, type="start",
                       now=3)
    judge(doc, creator)  # her own log (the reader ignores it: she is not facilitator)
    ops.set_participant_fields(doc, actor=member, vote=item)
    judge(doc, creator)
    ops.delete_item(doc, item)
    judge(doc, creator)


@pytest.mark.parametrize("write, reason", [
    ("root", "root of the session"),
    ("session", "someone else's data"),
    ("someone's item", "someone else's data"),
    ("item under another key", "not its own"),
    ("other participant", "someone else's participants"),
    ("other log", "someone else's control"),
    ("delete another's item", "overwrites or deletes someone else's"),
    ("scalar in items", "other than an item"),
])
def test_writes_into_what_is_not_yours_are_refused(
        session: tuple[Document, bytes, bytes], write: str, reason: str) -> None:
    doc, creator, member = session
    doc.set_actor(creator)
    anne_item = ops.add_item(doc, actor=creator, kind="question", text="Anne's", phase=0,
                             now=2)
    doc.set_actor(member)
    sections = {key: child(doc, ROOT, key, ObjType.Map)
                for key in ("session", "items", "participants", "control")}
    anne_obj = child(doc, sections["items"], anne_item, ObjType.Map)
    with doc.transaction() as tx:
        match write:
            case "root":
                tx.put(ROOT, "title", ScalarType.Str, "mine")
            case "session":
                tx.put(sections["session"], "title", ScalarType.Str, "mine")
            case "someone's item":
                tx.put(anne_obj, "kind", ScalarType.Str, "advice")
            case "item under another key":
                tx.put_object(sections["items"], creator.hex()[:32] + "2" * 16, ObjType.Map)
            case "other participant":
                tx.put_object(sections["participants"], creator.hex(), ObjType.Map)
            case "other log":
                tx.put_object(sections["control"], creator.hex(), ObjType.List)
            case "delete another's item":
                tx.delete(sections["items"], anne_item)
            case "scalar in items":
                tx.put(sections["items"], member.hex()[:32] + "3" * 16, ScalarType.Str, "x")
    with pytest.raises(Refused, match=reason) as info:
        judge(doc, creator)
    assert info.value.culprit == member


def test_the_creator_writes_the_root(session: tuple[Document, bytes, bytes]) -> None:
    doc, creator, _ = session
    doc.set_actor(creator)
    with doc.transaction() as tx:
        tx.put(ROOT, "note", ScalarType.Str, "hers")
    judge(doc, creator)


def test_too_many_items_in_one_change(session: tuple[Document, bytes, bytes]) -> None:
    doc, creator, member = session
    ops.add_items(doc, actor=member, phase=0, now=5,
                  entries=[("question", f"q{i}", False)
                           for i in range(MAX_ITEMS_PER_CHANGE + 1)])
    with pytest.raises(Refused):  # by key (not prefixed) or by count: refused either way
        judge(doc, creator)


# -- limits ----------------------------------------------------------------------------
def change_of(doc: Document, actor: bytes, items: int, at_ms: int) -> tuple[object, int]:
    doc.set_actor(actor)
    entries = child(doc, ROOT, "items", ObjType.Map)
    with doc.transaction() as tx:
        for _ in range(items):
            tx.put_object(entries, actor.hex()[:32] + Identity.generate().me[:16], ObjType.Map)
    _, raw = last(doc)
    decoded = decode_change(raw, max_size=BIG)
    return decoded, items


def test_an_author_is_held_to_its_own_sequence(session: tuple[Document, bytes, bytes]) -> None:
    doc, creator, member = session
    ledger = Ledger.of(doc, WriteRules.of(doc, creator))
    first, n = change_of(doc, member, 1, 0)
    second, m = change_of(doc, member, 1, 0)
    accepted, refused = ledger.judge([(second, m)])  # type: ignore[list-item]
    assert not accepted and "skipped" in refused[0][1].reason
    accepted, refused = ledger.judge([(first, n), (second, m)])  # type: ignore[list-item]
    assert len(accepted) == 2 and not refused
    for change in accepted:
        ledger.record_change(change, 1)
    assert ledger.seq(member) == second.seq  # type: ignore[attr-defined]
    again, _ = ledger.judge([(first, n)])  # type: ignore[list-item]
    assert not again


def test_the_creator_is_not_capped() -> None:
    creator = b"c" * 32
    ledger = Ledger(creator)
    doc = Document(creator)
    with doc.transaction() as tx:
        tx.put_object(ROOT, "items", ObjType.Map)
    for c in doc.get_changes([]):
        ledger.record(c.actor_id, c.seq, c.hash)
    batch = [change_of(doc, creator, 200, 0) for _ in range(MAX_ITEMS_PER_AUTHOR // 200 + 2)]
    accepted, refused = ledger.judge(batch)  # type: ignore[arg-type]
    assert not refused and len(accepted) == len(batch)


def test_a_change_depending_on_a_refused_one_is_left_out() -> None:
    ledger = Ledger(b"c" * 32)
    doc = Document(b"m" * 32)
    with doc.transaction() as tx:
        tx.put_object(ROOT, "items", ObjType.Map)
    skipped, _ = change_of(doc, b"m" * 32, 1, 0)  # never recorded: a gap
    gap, n = change_of(doc, b"m" * 32, 1, 0)
    after, m = change_of(doc, b"m" * 32, 1, 0)
    accepted, refused = ledger.judge([(gap, n), (after, m)])  # type: ignore[list-item]
    assert not accepted and len(refused) == 1
    assert skipped


def test_an_author_counts_the_items_it_holds_alike_live_and_from_the_document(
        session: tuple[Document, bytes, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    """Items are counted as the keys under the author's prefix (added less deleted): a
    laptop that followed each change and one that counts a document it was given agree,
    so both refuse the same next change."""
    from model import validation

    monkeypatch.setattr(validation, "MAX_ITEMS_PER_AUTHOR", 4)
    doc, creator, member = session
    rules = WriteRules.of(doc, creator)
    live = Ledger.of(doc, rules)
    doc.set_actor(member)
    entries = child(doc, ROOT, "items", ObjType.Map)
    keys = [member.hex()[:32] + f"{n:016x}" for n in range(4)]
    with doc.transaction() as tx:
        for key in keys:
            tx.put_object(entries, key, ObjType.Map)
    with doc.transaction() as tx:
        tx.delete(entries, keys[0])
        tx.delete(entries, keys[1])
    deltas = []
    for raw in (c.raw_bytes for c in doc.get_changes([]) if c.actor_id == member
                and c.hash not in live.known):
        change = decode_change(raw, max_size=BIG)
        deltas.append(rules.check(change))
        accepted, refused = live.judge([(change, deltas[-1])])
        assert accepted and not refused
        live.record_change(change, deltas[-1])
    assert deltas == [4, -2]
    given = Ledger.of(doc, rules)  # a joiner, from the document
    other = Document.load(doc.save())
    three, n = change_of(doc, member, 3, 0)  # 2 held + 3 > 4
    two, m = change_of(other, member, 2, 0)  # or instead, 2 + 2 = 4: fine
    for ledger in (live, given):
        assert ledger.judge([(three, n)])[1][0][1].reason == "more than 4 items in the session"  # type: ignore[list-item]
        assert ledger.judge([(two, m)])[0]  # type: ignore[list-item]


# -- what a laptop refuses itself, so that no one else has to --------------------------------
def test_a_long_run_of_adds_is_cut_into_changes_every_laptop_takes() -> None:
    from model.session import Session
    from tests.conftest import open_to_all

    anne = Session.create(title="T", protocol=open_to_all(builtin_protocols()["codev"]),
                          name="Anne")
    bob = Session(anne.doc.fork(), identity=Identity.generate())
    bob.join("Bob")
    heads = bob.doc.get_heads()
    bob.add_items([("note", f"note {i}") for i in range(450)])
    bob.add_items([("note", "x" * 2000)] * 30)
    rules = WriteRules.of(bob.doc, anne.actor)
    changes = [c for c in bob.doc.get_changes(heads) if c.actor_id == bob.actor]
    assert len(changes) >= 3 + 2
    for change in changes:  # none too big, none with too many items
        rules.check(decode_change(change.raw_bytes, max_size=MAX_CHANGE_BYTES))
    assert len(bob.snapshot.items) == 480


def test_past_its_share_a_participant_is_told_before_writing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from model import session as session_module
    from model.rules import NotAllowed
    from model.session import Session
    from tests.conftest import open_to_all

    monkeypatch.setattr(session_module, "MAX_ITEMS_PER_AUTHOR", 5)
    anne = Session.create(title="T", protocol=open_to_all(builtin_protocols()["codev"]),
                          name="Anne")
    bob = Session(anne.doc.fork(), identity=Identity.generate())
    bob.join("Bob")
    bob.add_items([("note", f"n{i}") for i in range(5)])
    with pytest.raises(NotAllowed, match="at most 5 items"):
        bob.add_item("note", "one too many")
    anne.add_items([("note", f"a{i}") for i in range(6)])  # the creator is not capped
