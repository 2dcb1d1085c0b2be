"""The small sans-IO machines of replication, each on a fake clock: saving, changes
waiting for what they depend on, redial delays, and what signed heads prove."""

from __future__ import annotations

import pytest

from model.changes import DecodedChange
from sync.coverage import Node, covered
from sync.dialing import DialBackoff
from sync.pending import PendingPool, Waiting
from sync.saving import SavePolicy


# -- saving ---------------------------------------------------------------------------------
def test_local_changes_are_saved_a_moment_later_in_one_go() -> None:
    policy = SavePolicy(local_batch=0.002)
    policy.local(10.0)
    policy.local(10.001)
    assert policy.wake_at() == pytest.approx(10.002)
    assert not policy.due(10.0019) and policy.due(10.002)
    policy.saved(True, 10.002)
    assert policy.wake_at() is None and not policy.pending


def test_received_changes_wait_for_a_pause_but_not_forever() -> None:
    policy = SavePolicy(quiet=1.0, within=5.0)
    for t in range(0, 10):  # a change every half second, for five seconds
        policy.received(t * 0.5)
        assert policy.wake_at() == pytest.approx(min(t * 0.5 + 1.0, 5.0))
    assert policy.due(5.0)


def test_a_failed_save_is_tried_again_and_local_changes_wait_for_it() -> None:
    policy = SavePolicy(retry=1.0)
    policy.local(0.0)
    policy.saved(False, 0.01)
    assert policy.failing and policy.unsaved_local
    assert policy.wake_at() == pytest.approx(1.01)
    policy.local(0.5)  # more changes meanwhile: still only at the retry
    assert policy.wake_at() == pytest.approx(1.01)
    policy.saved(True, 1.01)
    assert not policy.failing and not policy.unsaved_local


# -- changes waiting for what they depend on ---------------------------------------------------
def change(name: str, *deps: str, size: int = 10) -> DecodedChange:
    return DecodedChange(data=name.encode(), hash=name.encode().ljust(32, b"."),
                         actor=b"a" * 32, seq=1, start_op=1, time=0, actors=(b"a" * 32,),
                         deps=tuple(d.encode().ljust(32, b".") for d in deps),
                         body=bytes(size))


def waiting(c: DecodedChange, at: float = 0.0) -> Waiting:
    return Waiting(c, 0, None, 1, at)


def test_changes_leave_the_pool_after_what_they_depend_on() -> None:
    pool = PendingPool()
    a, b, c = change("a", "base"), change("b", "a"), change("c", "b", "a")
    pool.add([waiting(c), waiting(b)])
    assert pool.release({b"base".ljust(32, b".")}) == []
    pool.add([waiting(a)])
    released = pool.release({b"base".ljust(32, b".")})
    assert [w.change for w in released] == [a, b, c]
    assert len(pool) == 0


def test_a_missing_dependency_is_asked_for_then_given_up() -> None:
    pool = PendingPool(ask_after=1.0, drop_after=3.0)
    pool.add([waiting(change("x", "never"), at=10.0)])
    assert pool.wake_at() == 11.0
    assert pool.tick(10.9) == (False, [])
    ask, dropped = pool.tick(11.0)
    assert ask and dropped == []
    assert pool.wake_at() == 13.0
    assert pool.tick(12.0) == (False, [])  # asked once only
    ask, dropped = pool.tick(13.0)
    assert not ask and [w.change.data for w in dropped] == [b"x"]
    assert len(pool) == 0 and pool.wake_at() is None


def test_the_pool_is_bounded_and_drops_the_oldest() -> None:
    pool = PendingPool(max_changes=2, max_bytes=1000)
    dropped = pool.add([waiting(change("a", "z"), 1.0), waiting(change("b", "z"), 2.0),
                        waiting(change("c", "z"), 3.0)])
    assert [w.change.data for w in dropped] == [b"a"]
    dropped = pool.add([waiting(change("d", "z", size=2000), 4.0)])
    assert len(pool) == 0 and len(dropped) == 3


def test_dependents_are_found_transitively() -> None:
    pool = PendingPool()
    pool.add([waiting(change("b", "a")), waiting(change("c", "b")), waiting(change("d", "z"))])
    found = pool.dependents(b"a".ljust(32, b"."))
    assert sorted(found) == [b"b".ljust(32, b"."), b"c".ljust(32, b".")]


# -- redialling ----------------------------------------------------------------------------
def test_redial_delays_double_up_to_a_bound_and_reset_on_success() -> None:
    backoff = DialBackoff(first=0.2, most=5.0)
    assert [backoff.failed() for _ in range(7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    backoff.succeeded()
    assert backoff.failed() == 0.2
    assert not backoff.gave_up


def test_an_address_from_another_laptop_is_given_up() -> None:
    backoff = DialBackoff(give_up_after=3)
    for _ in range(3):
        backoff.failed()
    assert backoff.gave_up


# -- what signed heads prove -------------------------------------------------------------------
X, Y = b"x" * 32, b"y" * 32


def h(name: str) -> bytes:
    return name.encode().ljust(32, b".")


def test_a_head_proves_its_authors_earlier_changes_through_others() -> None:
    nodes = [Node(h("x5"), X, (h("held"),)), Node(h("y3"), Y, (h("x5"),)),
             Node(h("x6"), X, (h("y3"),))]
    proven = covered(nodes, {X: [h("x6")]}, lambda c: c == h("held"))
    assert proven == {h("x5"), h("x6")}  # y3 is on the way, proven by nobody here


def test_a_head_proves_nothing_of_another_authors_forgery() -> None:
    """Mallory signs a change of hers that depends on a change she made up under Anne's
    name: her signature proves her change, not the forgery."""
    nodes = [Node(h("forged"), X, ()), Node(h("m1"), Y, (h("forged"),))]
    proven = covered(nodes, {Y: [h("m1")]}, lambda _: False)
    assert proven == {h("m1")}


def test_a_forged_change_beside_the_genuine_chain_is_not_proven() -> None:
    nodes = [Node(h("x5-real"), X, ()), Node(h("x5-fake"), X, ()),
             Node(h("x6"), X, (h("x5-real"),))]
    assert covered(nodes, {X: [h("x6")]}, lambda _: False) == {h("x5-real"), h("x6")}


def test_the_walk_stops_at_what_is_held() -> None:
    nodes = [Node(h("x1"), X, ()), Node(h("x2"), X, (h("x1"),))]
    assert covered(nodes, {X: [h("x2")]}, lambda c: c == h("x1")) == {h("x2")}
