"""The link drivers over a memory pair: a listener's handshake has a time to start and a
time to finish, so a silent or stalling connection does not hold its slot."""

from __future__ import annotations

import asyncio

import pytest

from model.keys import Identity
from sync.handshake import Anchor, Credentials, Initiator, Responder
from sync.link import LinkClosed, accept, dial
from sync.transport import memory_pair
from tests.sync.people import CODE, Person, creator


def _listener() -> tuple[Person, Anchor, Responder]:
    person, _session, anchor = creator()
    return person, anchor, Responder(anchor=anchor, credentials=Credentials(person.identity),
                                     code=CODE)


async def test_a_connection_that_never_speaks_is_dropped_after_the_first_message_time() -> None:
    _, _, machine = _listener()
    ours, _theirs = memory_pair()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(LinkClosed, match="never spoke"):
        await accept(ours, machine, first_message=0.2, finish=5.0)
    assert 0.2 <= loop.time() - started < 1.0


async def test_a_handshake_that_stalls_after_speaking_is_dropped_when_its_time_is_up() -> None:
    _, anchor, machine = _listener()
    ours, theirs = memory_pair()
    spoke: list[bool] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    listening = asyncio.ensure_future(accept(ours, machine, first_message=0.2, finish=0.6,
                                             on_first=lambda: spoke.append(True)))
    stalling = Initiator(identity=Identity.generate(), code=CODE, tag=anchor.tag)
    stalling.start()
    first, *_ = stalling.receive(await theirs.receive())  # its answer to the Offer...
    theirs.send_nowait(first)  # ...and then nothing more
    with pytest.raises(LinkClosed, match="timed out"):
        await listening
    assert spoke == [True] and 0.6 <= loop.time() - started < 1.5


async def test_a_newcomer_with_the_code_is_welcomed_over_a_memory_pair() -> None:
    person, anchor, machine = _listener()
    ours, theirs = memory_pair()
    bob = Identity.generate()
    listened, dialled = await asyncio.gather(
        accept(ours, machine), dial(theirs, Initiator(identity=bob, code=CODE, tag=anchor.tag)))
    assert dialled.peer == person.actor and listened.peer == bob.actor
