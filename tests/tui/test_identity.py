"""The identity store: this computer's private key per session, kept private."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from model import sessionfile
from model.keys import Identity
from model.protocols import builtin_protocols
from model.session import Session
from tui import identity
from tui.paths import data_dir


def test_a_key_is_kept_per_session_and_read_back() -> None:
    mine = Identity.generate()
    identity.remember("a" * 32, mine)
    kept = identity.identity_for("a" * 32)
    assert kept is not None and kept.to_bytes() == mine.to_bytes()
    assert identity.identity_for("b" * 32) is None


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_the_keys_are_private() -> None:
    identity.remember("c" * 32, Identity.generate())
    folder = identity.keys_dir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (key,) = folder.iterdir()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_a_session_id_that_is_no_file_name_is_not_kept() -> None:
    identity.remember("../../etc/passwd", Identity.generate())
    assert identity.identity_for("../../etc/passwd") is None
    assert list(identity.keys_dir().iterdir()) == []


def test_an_older_store_of_actors_without_keys_is_ignored() -> None:
    (data_dir() / "identities.json").write_text(json.dumps({"d" * 32: "ab" * 16}))
    assert identity.identity_for("d" * 32) is None
    assert identity.earlier("d" * 32) is None


def test_earlier_gives_the_key_the_file_and_the_document(tmp_path: os.PathLike[str]) -> None:
    session = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Anne")
    sid = session.snapshot.info.id
    path = data_dir() / "t.cercle"
    sessionfile.save(path, session.doc)
    identity.remember(sid, session.identity, path)
    found = identity.earlier(sid)
    assert found is not None
    kept, where, doc = found
    assert kept.actor == session.actor and where == path
    assert Session(doc, identity=kept).is_facilitator
