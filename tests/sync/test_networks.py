"""Nodes over the ``Network`` interface: the same node, its links carried by memory pairs
instead of TCP (what a broker link will be beside the local network)."""

from __future__ import annotations

import random

from sync.admission import HandshakeSlots
from sync.transport import Faults, MemoryNetwork
from tests.sync.mesh import host_node, newcomer, running, until
from tests.sync.people import add, texts

ANNE, BOB, CARL = "10.0.0.1", "10.0.0.2", "10.0.0.3"


async def test_three_laptops_join_and_write_over_memory_links() -> None:
    net = MemoryNetwork()
    anne, _, _ = host_node(network=net.at(ANNE), listen_host=ANNE)
    bob, _, _ = newcomer("Bob", network=net.at(BOB), listen_host=BOB)
    carl, _, _ = newcomer("Carl", network=net.at(CARL), listen_host=CARL)
    async with running(anne, bob, carl):
        for node, name in ((bob, "Bob"), (carl, "Carl")):
            node.join(ANNE, anne.port, tag=anne.tag)
            await until(lambda n=node: n.session is not None, what=f"{name} admitted")
            assert node.session is not None
            node.session.join(name)
            node.local_changed()
        # Carl learns Bob's address from Anne and links to him directly: a full mesh.
        await until(lambda: len(bob.peers) == len(carl.peers) == 2, what="the full mesh")
        for node, text in ((anne, "from Anne"), (bob, "from Bob"), (carl, "from Carl")):
            assert node.session is not None
            add(node.session, text)
            node.local_changed()
        expected = {"from Anne", "from Bob", "from Carl"}
        await until(lambda: texts(anne.session) == texts(bob.session)
                    == texts(carl.session) == expected, what="every item everywhere")
        # Everything crossed as encrypted frames: no text in any frame body.
        for mine, theirs in net.pairs:
            for body in (*mine.sent, *theirs.sent):
                assert b"from Anne" not in body and b"Bob" not in body


async def test_a_cut_link_heals_and_what_was_written_meanwhile_arrives() -> None:
    net = MemoryNetwork()
    anne, _, _ = host_node(network=net.at(ANNE), listen_host=ANNE)
    bob, _, _ = newcomer("Bob", network=net.at(BOB), listen_host=BOB)
    async with running(anne, bob):
        bob.join(ANNE, anne.port, tag=anne.tag)
        await until(lambda: bob.session is not None, what="Bob admitted")
        assert bob.session is not None and anne.session is not None
        for mine, _theirs in net.pairs:
            mine.cut()  # the wifi drops
        add(anne.session, "written while apart")
        anne.local_changed()
        await until(lambda: "written while apart" in texts(bob.session),
                    what="the item after the link came back")
        assert len(net.pairs) >= 2  # Bob dialled again


async def test_lost_frames_kill_a_link_and_the_next_one_repairs_everything() -> None:
    """Frames are in order on a link: one lost breaks the channel's counters, the link is
    dropped, and the exchange of the next link brings what was lost."""
    faults = Faults(drop=0.05, rng=random.Random(11))
    net = MemoryNetwork(faults)
    # A lost last frame, or a lost handshake frame, is noticed in a moment, not seconds.
    quick: dict[str, object] = {"ping_interval": 0.1, "dead_after": 0.5,
                                "handshake_timeout": 1.0}
    anne, _, _ = host_node(network=net.at(ANNE), listen_host=ANNE,
                           slots=HandshakeSlots(first_message=0.5, finish=1.0), **quick)
    bob, _, _ = newcomer("Bob", network=net.at(BOB), listen_host=BOB, **quick)
    async with running(anne, bob):
        bob.join(ANNE, anne.port, tag=anne.tag)
        await until(lambda: bob.session is not None, timeout=30, what="Bob admitted")
        assert bob.session is not None and anne.session is not None
        for n in range(40):  # one push at a time, each its own frames
            writer = anne if n % 2 else bob
            assert writer.session is not None
            add(writer.session, f"item {n}")
            writer.local_changed()
            await until(lambda w=writer, n=n: f"item {n}" in texts(
                (bob if w is anne else anne).session), timeout=30, what=f"item {n}")
        await until(lambda: len(texts(anne.session)) == len(texts(bob.session)) == 40,
                    timeout=30, what="all 40 items on both laptops")
        assert len(net.pairs) > 1  # losses did break links, and they were made again
