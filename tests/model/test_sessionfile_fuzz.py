"""The session file loader on random, truncated and mutated files: only ``SessionFileError``.

A session file comes from disk, a USB stick or an e-mail: anything can be in
it. Fed random bytes, every truncation and random mutations of real session
files (a small one, and a large one whose columns Automerge compresses),
``parse_session_bytes`` and ``load`` either return a document that opens as a
session, or raise ``SessionFileError`` with a message, and nothing else.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from model import sessionfile
from model.protocols import builtin_protocols
from model.session import Session
from tests.conftest import open_to_all
from tests.replicas import FakeClock
from tests.sync.test_hostile_input import mutated


def _real_file(items: int) -> bytes:
    clock = FakeClock()
    session = Session.create(title="Le cas de Claire",
                             protocol=open_to_all(builtin_protocols()["codev"]),
                             name="Anne", clock=clock)
    other = Session(session.doc.fork(), clock=clock)
    other.join("Bob")
    session.merge(other.doc)
    session.start()
    for i in range(items):
        clock.advance(3)
        session.add_item(["question", "advice", "action", "learning"][i % 4],
                         f"Élément {i} : qu'as-tu déjà essayé avec l'équipe ?")
        if i % 25 == 24:
            session.advance()
    return session.save()


SMALL = _real_file(4)
LARGE = _real_file(120)  # large enough for compressed columns
REAL = [SMALL, LARGE]
files = (st.binary(max_size=400)
         | st.binary(max_size=200).map(lambda b: sessionfile.AUTOMERGE_MAGIC + b)
         | mutated(REAL)
         | st.sampled_from(REAL).flatmap(
             lambda f: st.integers(min_value=0, max_value=len(f) - 1).map(lambda n: f[:n])))


def _opens(data: bytes) -> str:
    try:
        doc = sessionfile.parse_session_bytes(data, "fuzz.cercle")
    except sessionfile.SessionFileError as exc:
        assert exc.problem and str(exc).startswith("fuzz.cercle: ")
        return "refused"
    # What loads must open: the typed read never raises on a document that loads.
    snapshot = Session(doc).snapshot
    assert snapshot.info.id
    return "loaded"


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=files)
@example(data=b"")
@example(data=sessionfile.AUTOMERGE_MAGIC)
@example(data=SMALL)
@example(data=LARGE[:-1])
def test_parse_session_bytes_raises_only_session_file_errors(data: bytes) -> None:
    event(_opens(data))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=files)
def test_load_raises_only_session_file_errors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.cercle"
        path.write_bytes(data)
        try:
            loaded = sessionfile.load(path)
        except sessionfile.SessionFileError as exc:
            assert exc.path == path
            return
        assert Session(loaded.doc).snapshot.info.id


def test_every_truncation_of_a_real_file_is_refused_cleanly() -> None:
    for real in REAL:
        outcomes = {_opens(real[:size]) for size in range(len(real))}
        assert outcomes == {"refused"}, "a truncated file loaded"
