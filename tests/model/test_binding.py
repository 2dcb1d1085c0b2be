"""What Cercle assumes of the Automerge binding beyond its documentation (``model.binding``).

Each test states one assumption on the pinned ``automerge==0.2.0.dev4``; after
an upgrade, a failure here names what to change in ``model/binding.py``.
"""

from __future__ import annotations

import random

import pytest
from automerge.core import ROOT, Document, ObjType, ScalarType

from model import binding
from model.keys import Identity


def _doc() -> tuple[Document, bytes]:
    actor = Identity.generate().actor
    return Document(actor), actor


def test_transactions_have_the_private_transaction_type() -> None:
    doc, _ = _doc()
    with doc.transaction() as tx:
        assert isinstance(tx, binding.Transaction)


def test_splice_text_exists_though_the_stubs_miss_it() -> None:
    doc, _ = _doc()
    with doc.transaction() as tx:
        text = tx.put_object(ROOT, "text", ObjType.Text)
        binding.splice_text(tx, text, 0, 0, "Bonjour Anne")
        binding.splice_text(tx, text, 8, 4, "Bob")
    assert doc.text(text) == "Bonjour Bob"


def test_fork_at_gives_the_document_as_it_was() -> None:
    doc, _ = _doc()
    with doc.transaction() as tx:
        tx.put(ROOT, "a", ScalarType.Int, 1)
    then = doc.get_heads()
    with doc.transaction() as tx:
        tx.put(ROOT, "a", ScalarType.Int, 2)
    past = binding.fork_at(doc, then)
    assert past.get(ROOT, "a")[0] == (ScalarType.Int, 1)  # type: ignore[index]
    assert doc.get(ROOT, "a")[0] == (ScalarType.Int, 2)  # type: ignore[index]
    with pytest.raises(ValueError, match="cannot be rebuilt"):  # the binding's bare Exception
        binding.fork_at(doc, [bytes(32)])


class PanicException(BaseException):  # what pyo3 raises, and cannot be imported
    pass


def test_a_panic_while_forking_becomes_a_value_error() -> None:
    """Seen on files where someone evaluated the session (``MissingOps``)."""

    class Panicking:
        def fork_at(self, heads: list[bytes]) -> None:
            raise PanicException("called `Result::unwrap()` on an `Err` value: MissingOps")

    with pytest.raises(ValueError, match="MissingOps"):
        binding.fork_at(Panicking(), [bytes(32)])  # type: ignore[arg-type]


def test_forking_lets_other_base_exceptions_through() -> None:
    class Interrupted:
        def fork_at(self, heads: list[bytes]) -> None:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        binding.fork_at(Interrupted(), [bytes(32)])  # type: ignore[arg-type]


def test_a_panic_is_recognised_by_its_class_name() -> None:
    assert binding.is_rust_panic(PanicException("MissingOps"))
    assert not binding.is_rust_panic(ValueError("bad"))
    assert not issubclass(PanicException, Exception)  # why it needs catching apart


def test_op_ids_name_the_writer_and_a_lamport_counter() -> None:
    doc, actor = _doc()  # a 32-byte actor: an Ed25519 public key
    with doc.transaction() as tx:
        tx.put(ROOT, "app", ScalarType.Str, "cercle")
        obj = tx.put_object(ROOT, "session", ObjType.Map)
    assert binding.op_id_parts(doc.get(ROOT, "app")[1]) == (1, actor)  # type: ignore[index]
    assert binding.op_id_parts(obj) == (2, actor)
    assert binding.op_id_parts(ROOT) is None
    assert binding.op_id_parts(b"\x10\x40short") is None
    other = Document(Identity.generate().actor)
    other.merge(doc)  # another document, another actor table: still decodes
    assert binding.op_id_parts(other.get(ROOT, "session")[1]) == (2, actor)  # type: ignore[index]
    assert doc.get_changes([])[0].actor_id == actor
    assert binding.written_by(obj, actor)
    assert not binding.written_by(obj, Identity.generate().actor)
    assert not binding.written_by(ROOT, actor)


def test_keys_and_values_list_a_map_in_the_same_order() -> None:
    doc, _ = _doc()
    keys = [f"{random.random():.12f}" for _ in range(200)]
    with doc.transaction() as tx:
        obj = tx.put_object(ROOT, "m", ObjType.Map)
        for n, key in enumerate(keys):
            tx.put(obj, key, ScalarType.Int, n)
    got = binding.entries(doc, obj)
    assert set(got) == set(keys)
    assert all(got[key] == doc.get(obj, key) for key in keys)


def test_a_patch_reads_as_its_path() -> None:
    doc, _ = _doc()
    with doc.transaction() as tx:
        items = tx.put_object(ROOT, "items", ObjType.Map)
        item = tx.put_object(items, "abc", ObjType.Map)
        text = tx.put_object(item, "text", ObjType.Text)
    before = doc.get_heads()
    with doc.transaction() as tx:
        binding.splice_text(tx, text, 0, 0, "x")
        tx.put(items, "new", ScalarType.Str, "y")
        tx.put(ROOT, "format", ScalarType.Int, 3)
    locations = [binding.patch_location(patch) for patch in doc.diff(before, doc.get_heads())]
    found = sorted((tuple(loc[0]), loc[1]) for loc in locations if loc is not None)
    assert found == [((), "format"), (("items",), "new"), (("items", "abc", "text"), None)]
    assert binding.patch_location("garbage") is None


def test_an_overwritten_object_stays_readable_and_the_past_too() -> None:
    """``model.founding`` reads the root as the first change wrote it."""
    doc, _ = _doc()
    with doc.transaction() as tx:
        first = tx.put_object(ROOT, "session", ObjType.Map)
        tx.put(first, "id", ScalarType.Str, "original")
    genesis = doc.get_heads()
    with doc.transaction() as tx:
        tx.put_object(ROOT, "session", ObjType.Map)
    assert doc.get(ROOT, "session")[1] != first  # type: ignore[index]
    assert doc.get(ROOT, "session", genesis)[1] == first  # type: ignore[index]
    assert doc.get(first, "id")[0] == (ScalarType.Str, "original")  # type: ignore[index]


def test_changes_have_a_class_only_the_stubs_name() -> None:
    doc, _ = _doc()
    with doc.transaction() as tx:
        tx.put(ROOT, "a", ScalarType.Int, 1)
    (change,) = doc.get_changes([])
    assert type(change).__name__ == "Change" and change.deps == []
    import automerge._automerge as native

    assert not hasattr(native, "Change")  # hence the TYPE_CHECKING import in model.binding


def test_putting_an_equal_value_writes_nothing() -> None:
    """Why ``ops.set_mark`` deletes before it puts: the latest mark must be a new op."""
    doc, _ = _doc()
    with doc.transaction() as tx:
        tx.put(ROOT, "answered", ScalarType.Boolean, True)
    first = doc.get(ROOT, "answered")[1]  # type: ignore[index]
    heads = doc.get_heads()
    with doc.transaction() as tx:
        tx.put(ROOT, "answered", ScalarType.Boolean, True)
    assert doc.get_heads() == heads and doc.get(ROOT, "answered")[1] == first  # type: ignore[index]


def test_changes_go_in_through_a_sync_message_the_binding_reads_back_unchanged() -> None:
    """The binding has no way to apply changes but a sync message: one with no heads, needs
    or haves, only changes, taken with a throwaway state, applies them."""
    from automerge.core import ROOT, Document, Message, ScalarType

    from model.binding import apply_changes, changes_message

    doc = Document(b"\xaa" * 32)
    for key in ("a", "b"):
        with doc.transaction() as tx:
            tx.put(ROOT, key, ScalarType.Str, key * 200)  # long enough to be compressed
    changes = [change.bytes for change in doc.get_changes([])]
    raw = changes_message(changes)
    assert Message.decode(raw).encode() == raw
    assert changes_message([]) == bytes([0x42, 0, 0, 0, 0])
    other = Document(b"\xbb" * 32)
    apply_changes(other, changes)
    assert other.get_heads() == doc.get_heads()
