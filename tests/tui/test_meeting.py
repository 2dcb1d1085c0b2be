"""Hosting through tui.meeting: the join code a facilitator chooses or kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from model import sessionfile
from model.keys import Identity
from model.protocols import builtin_protocols
from model.session import Session
from sync.codes import chosen_code
from tui import identity
from tui.meeting import MeetingError, host


def _hostable(tmp_path: Path) -> tuple[Session, Path]:
    session = Session.create(title="Atelier", protocol=builtin_protocols()["codev"], name="Anne",
                             identity=Identity.generate())
    path = tmp_path / "atelier.cercle"
    sessionfile.save(path, session.doc)
    return session, path


async def test_a_weak_code_asked_for_is_refused_before_the_session_opens(
        tmp_path: Path) -> None:
    session, path = _hostable(tmp_path)
    with pytest.raises(MeetingError, match="too easy to guess") as caught:
        await host(session, path, code="111-111", advertise=False, interface="127.0.0.1")
    assert caught.value.kind == "weak-code"
    assert identity.hosting(session.snapshot.info.id) is None  # nothing kept


async def test_a_weak_code_kept_by_an_older_cercle_is_replaced(tmp_path: Path) -> None:
    session, path = _hostable(tmp_path)
    session_id = session.snapshot.info.id
    identity.remember_hosting(session_id, 0, "aaaaaa")
    meeting = await host(session, path, advertise=False, interface="127.0.0.1")
    try:
        code = meeting.node.code
        assert code != "aaaaaa" and chosen_code(code) == code
        assert identity.hosting(session_id) == (meeting.node.port, code)
    finally:
        await meeting.close()


async def test_a_good_code_kept_from_last_time_is_hosted_again(tmp_path: Path) -> None:
    session, path = _hostable(tmp_path)
    identity.remember_hosting(session.snapshot.info.id, 0, "blue-heron-7")
    meeting = await host(session, path, advertise=False, interface="127.0.0.1")
    try:
        assert meeting.node.code == "blue-heron-7"
    finally:
        await meeting.close()


async def test_a_new_code_is_kept_so_a_restarted_host_comes_back_with_it(
        tmp_path: Path) -> None:
    """Changed by hand in the lobby, or by itself after repeated wrong codes: the code the
    room was last given is the one a host restarted after a crash announces."""
    session, path = _hostable(tmp_path)
    session_id = session.snapshot.info.id
    meeting = await host(session, path, advertise=False, interface="127.0.0.1")
    try:
        meeting.node.rotate_code("blue-heron-7")
        assert identity.hosting(session_id) == (meeting.node.port, "blue-heron-7")
        automatic = meeting.node.rotate_code(reason="guessing")
        assert identity.hosting(session_id) == (meeting.node.port, automatic)
    finally:
        await meeting.close()
    again = await host(session, path, advertise=False, interface="127.0.0.1")
    try:
        assert again.node.code == automatic
    finally:
        await again.close()


# -- the label -------------------------------------------------------------------------------
async def test_a_session_is_announced_as_cercle_and_its_facilitator_by_default(
        tmp_path: Path) -> None:
    """Never the group's name, which defaults to the first session's title (a case, maybe):
    a label is public."""
    session = Session.create(title="Le cas de Sophie", protocol=builtin_protocols()["codev"],
                             name="Anne", identity=Identity.generate())
    path = tmp_path / "sophie.cercle"
    sessionfile.save(path, session.doc)  # (this computer never announced the group)
    nxt = Session.continue_from(path, name="Anne", identity=Identity.generate())
    assert nxt.snapshot.info.group.name == "Le cas de Sophie"
    path2 = tmp_path / "next.cercle"
    sessionfile.save(path2, nxt.doc)
    meeting = await host(nxt, path2, advertise=False, interface="127.0.0.1")
    try:
        assert meeting.label == "Cercle · Anne"
    finally:
        await meeting.close()


async def test_the_groups_next_meeting_is_announced_as_the_last_one_was(
        tmp_path: Path) -> None:
    session, path = _hostable(tmp_path)
    meeting = await host(session, path, label="Codev Lyon", advertise=False,
                         interface="127.0.0.1")
    await meeting.close()
    nxt = Session.continue_from(path, name="Anne", identity=Identity.generate())
    path2 = tmp_path / "next.cercle"
    sessionfile.save(path2, nxt.doc)
    meeting = await host(nxt, path2, advertise=False, interface="127.0.0.1")
    try:
        assert meeting.label == "Codev Lyon"  # kept for the group, from this computer
    finally:
        await meeting.close()
    meeting = await host(nxt, path2, label="Codev Lyon, salle 2", advertise=False,
                         interface="127.0.0.1")
    try:
        assert meeting.label == "Codev Lyon, salle 2"  # what is asked for wins, and is kept
        assert identity.kept_label(nxt.snapshot.info.group.id) == "Codev Lyon, salle 2"
    finally:
        await meeting.close()


# -- refusals --------------------------------------------------------------------------------
async def test_a_refusal_says_whether_it_was_the_code(tmp_path: Path) -> None:
    """A wrong code is told as such; a laptop that does not let newcomers in (a participant's,
    not the host's) is another refusal, which the app words differently (it said "the join
    code is not right" for both)."""
    from tests.sync.mesh import LOOPBACK, host_node, joined, newcomer, running
    from tui.meeting import Target, join

    anne, _, _ = host_node()
    bob, _, _ = newcomer("Bob")
    async with running(anne, bob):
        await joined(bob, anne, "Bob")
        with pytest.raises(MeetingError) as wrong:
            await join(Target((LOOPBACK,), anne.port, anne.tag), name="Eve", code="0000-0000",
                       file=tmp_path / "eve.cercle", interface=LOOPBACK, timeout=20)
        assert wrong.value.kind == "wrong-code"
        with pytest.raises(MeetingError) as other:
            await join(Target((LOOPBACK,), bob.port, anne.tag), name="Carl",
                       code=anne.code, file=tmp_path / "carl.cercle", interface=LOOPBACK,
                       timeout=20)
        assert other.value.kind == "refused" and "join through the host" in str(other.value)
