"""Who gets a handshake and how many code guesses: sans-IO, on a fake clock."""

from __future__ import annotations

import pytest

from sync.admission import AdmissionGate, HandshakeSlots


def test_wrong_codes_are_a_handful_a_minute_for_the_whole_session() -> None:
    """However many addresses a guesser uses, each try waits for a token: over ten minutes
    the session takes burst + 6 a minute, never more."""
    gate = AdmissionGate(burst=3, per_minute=6.0, rotate_after=10_000)
    guesses = 0
    now = 0.0
    address = 0
    while now < 600.0:
        address += 1  # a fresh address for every try
        ip = f"10.0.{address // 250}.{address % 250}"
        if gate.request(ip, now) == 0.0:
            gate.finished(ip, now, "wrong")
            guesses += 1
        now += 0.05  # twenty tries a second
    assert guesses <= 3 + 6 * 10


def test_a_guesser_that_comes_back_when_told_gets_six_a_minute() -> None:
    gate = AdmissionGate(burst=3, per_minute=6.0, rotate_after=10_000)
    guesses, now, back = 0, 0.0, 0.0
    while now < 600.0:
        if now >= back:
            wait = gate.request("10.0.0.9", now)
            if wait == 0.0:
                gate.finished("10.0.0.9", now, "wrong")
                guesses += 1
            else:
                back = now + wait
        now += 0.05
    # Its own growing wait (after three wrong codes) slows it further, down to one a minute.
    assert 10 <= guesses <= 3 + 6 * 10


def test_a_right_code_gives_its_token_back() -> None:
    gate = AdmissionGate(burst=1, per_minute=1.0)
    assert gate.request("a", 0.0) == 0.0
    gate.finished("a", 0.0, "right")
    assert gate.request("b", 0.0) == 0.0  # not spent on a guess


def test_an_attempt_that_never_confirmed_is_not_a_guess() -> None:
    gate = AdmissionGate(burst=1, per_minute=1.0)
    assert gate.request("a", 0.0) == 0.0
    gate.finished("a", 1.0, "abandoned")
    assert gate.wrong_total == 0
    assert gate.request("a", 1.0) == 0.0


def test_one_attempt_at_a_time_per_address() -> None:
    gate = AdmissionGate()
    assert gate.request("a", 0.0) == 0.0
    assert gate.request("a", 0.0) > 0.0
    gate.finished("a", 0.1, "wrong")
    assert gate.request("a", 0.2) == 0.0


def test_a_busy_gate_says_when_to_come_back() -> None:
    gate = AdmissionGate(burst=1, per_minute=6.0)
    assert gate.request("a", 0.0) == 0.0
    gate.finished("a", 0.0, "wrong")
    wait = gate.request("b", 0.0)
    assert wait == pytest.approx(10.0)  # one token every ten seconds
    assert gate.request("b", 10.0) == 0.0


def test_a_room_joining_at_once_is_in_within_seconds() -> None:
    """Twelve people type the right code at the same moment. Only three attempts run at
    once, but each right code gives its token back: the others are told to come back in a
    second, not after a refill of ten seconds each."""
    gate = AdmissionGate(burst=3, per_minute=6.0)
    people = {f"10.0.0.{i}": 0.0 for i in range(12)}  # address -> when it asks next
    joined: dict[str, float] = {}
    running: dict[str, float] = {}  # address -> when its handshake ends (0.3 s each)
    now = 0.0
    while len(joined) < len(people) and now < 120.0:
        for ip, end in list(running.items()):
            if now >= end:
                gate.finished(ip, now, "right")
                joined[ip] = now
                del running[ip]
        for ip, back in people.items():
            if ip in joined or ip in running or now < back:
                continue
            wait = gate.request(ip, now)
            if wait == 0.0:
                running[ip] = now + 0.3
            else:
                people[ip] = now + wait
        now = round(now + 0.05, 2)
    assert len(joined) == 12
    assert max(joined.values()) <= 5.0, sorted(joined.values())
    assert gate.wrong_total == 0


def test_a_guesser_cannot_keep_a_newcomer_out() -> None:
    """A guesser from five addresses tries as fast as it can; a newcomer who comes back when
    told gets in after at most one attempt per guessing address, not after all of them."""
    gate = AdmissionGate(burst=1, per_minute=6.0)
    guessers = [f"10.0.0.{i}" for i in range(5)]
    now = 0.0
    newcomer_back_at: float | None = None
    while now < 300.0:
        for ip in guessers:
            if gate.request(ip, now) == 0.0:
                gate.finished(ip, now, "wrong")
        if newcomer_back_at is None or now >= newcomer_back_at:
            wait = gate.request("10.0.1.99", now)
            if wait == 0.0:
                gate.finished("10.0.1.99", now, "right")
                break
            newcomer_back_at = now + wait
        now += 0.1
    else:
        pytest.fail("the newcomer never got in")
    assert now <= 5 * 10.0 + 0.5


def test_a_newcomer_goes_before_addresses_that_guessed_wrong() -> None:
    gate = AdmissionGate(burst=1, per_minute=6.0)
    for i in range(5):  # each guessed wrong once already
        now = i * 10.0
        assert gate.request(f"10.0.0.{i}", now) == 0.0
        gate.finished(f"10.0.0.{i}", now, "wrong")
    now = 41.0
    for i in range(5):
        assert gate.request(f"10.0.0.{i}", now) > 0
    wait = gate.request("10.0.1.99", now)
    assert wait > 0
    for i in range(5):  # the guessers are back first, and asking all the time
        assert gate.request(f"10.0.0.{i}", now + wait) > 0
    assert gate.request("10.0.1.99", now + wait) == 0.0


def test_repeated_wrong_codes_ask_for_a_new_code() -> None:
    gate = AdmissionGate(burst=50, per_minute=600.0, rotate_after=3)
    results = []
    for i in range(3):
        gate.request(f"a{i}", float(i))
        results.append(gate.finished(f"a{i}", float(i), "wrong"))
    assert results == [False, False, True]
    gate.rotated()
    assert gate.wrong_since_rotation == 0 and gate.wrong_total == 3


def test_an_address_that_keeps_failing_waits_longer_on_its_own() -> None:
    gate = AdmissionGate(burst=100, per_minute=6000.0)
    for _ in range(3):
        assert gate.request("a", 0.0) == 0.0
        gate.finished("a", 0.0, "wrong")
    assert gate.request("a", 0.0) == pytest.approx(1.0)
    assert gate.request("b", 0.0) == 0.0


def test_gate_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        AdmissionGate(burst=0)


# -- handshake slots ---------------------------------------------------------------------
def test_silent_connections_from_a_few_addresses_cannot_fill_the_listener() -> None:
    """Eight addresses each holding their slots, re-opening as fast as they are dropped: a
    newcomer from another address still gets a slot, at once."""
    slots = HandshakeSlots(per_address=4, total=32)
    for i in range(8):
        for _ in range(4):
            slot, evicted = slots.open(f"10.0.0.{i}", 0.0)
            assert slot is not None and evicted is None
    assert len(slots) == 32
    slot, evicted = slots.open("10.0.1.5", 0.1)
    assert slot is not None and evicted is not None
    assert evicted.address.startswith("10.0.0.")
    # The attackers re-open: each new one from an address holding the most takes that
    # address's own oldest slot, never the newcomer's.
    for i in range(8):
        _, dropped = slots.open(f"10.0.0.{i}", 0.2)
        assert dropped is None or dropped.address != "10.0.1.5"
    assert slots.held("10.0.1.5") == 1


def test_an_address_holds_at_most_its_share() -> None:
    slots = HandshakeSlots(per_address=2, total=10)
    assert slots.open("a", 0.0)[0] is not None
    assert slots.open("a", 0.0)[0] is not None
    assert slots.open("a", 0.0) == (None, None)


def test_a_closed_handshake_frees_its_slot() -> None:
    slots = HandshakeSlots(per_address=1, total=4)
    slot, _ = slots.open("a", 0.0)
    assert slot is not None and slots.open("a", 0.0) == (None, None)
    slots.spoke(slot)
    slots.close(slot)
    slots.close(slot)  # twice is harmless
    assert len(slots) == 0 and slots.held("a") == 0
    assert slots.open("a", 1.0)[0] is not None


