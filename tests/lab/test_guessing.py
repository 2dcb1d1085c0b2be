"""Scenario 11 — a stranger guessing the join code of a ten-laptop session.

Ten laptops hold one session (the facilitator's and nine others, each listening). A
stranger on the same network, without the code, attacks all ten at once, several
connections to each, as fast as the laptops answer (``tests.lab.stranger siege``): first
as the cheating client of the trust issue, which hung up as soon as the host's answer told
whether its guess was right (and so was never counted); then as a plain guesser that sends
its confirmation every time.

Pass criteria:
- the cheating client learns nothing: not one guess answered;
- the plain guesser gets at most 10 guesses answered a minute, for the whole session
  (only the facilitator's laptop takes the code; it answers a handful a minute and tells
  every other attempt to come back later), measured over the run;
- meanwhile a newcomer with the right code joins, and the session goes on;
- the facilitator is told of each wrong code.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.lab.peers import Lab, burst

pytestmark = pytest.mark.lab

LAPTOPS = 10
SIEGE = 75  # seconds of each attack


def test_guessing(make_lab: Callable[[int], Lab], figure: Callable[[str, object], None]) -> None:
    lab = make_lab(LAPTOPS + 2)
    *laptops, newcomer_host, stranger = lab.hosts
    anne = lab.host_session(laptops[0], "Anne", title="Dix portables")
    people = [anne] + [lab.join(host, f"P{i}", anne, wait=False)
                       for i, host in enumerate(laptops[1:], start=1)]
    for proc in people[1:]:
        lab.synced(proc, 120)
    lab.converge(people, 60, "ten laptops in a full mesh", peers=LAPTOPS - 1)
    targets = [f"{p.address}:{p.port}" for p in people]

    cheat = lab.tool("cheater", stranger, "stranger", "siege", "--targets", *targets,
                     "--seconds", str(SIEGE), "--parallel", "3", "--cheat")
    cheated = lab.expect(cheat, "siege", SIEGE + 60)
    lab.note(f"cheating client: {cheated}")
    assert cheated["answered"] == 0, cheated

    mark = anne.mark()
    guesser = lab.tool("guesser", stranger, "stranger", "siege", "--targets", *targets,
                       "--seconds", str(SIEGE), "--parallel", "3", "--seed", "2")
    joined_at = time.monotonic()
    late = lab.join(newcomer_host, "Late", anne, timeout=90)  # during the siege
    joined_in = time.monotonic() - joined_at
    guessed = lab.expect(guesser, "siege", SIEGE + 60)
    lab.note(f"plain guesser: {guessed}")
    assert guessed["per_minute"] <= 10, guessed
    told = [e for e in anne.all("auth-failure", start=mark)]
    assert len(told) == guessed["answered"], (len(told), guessed)

    people.append(late)
    burst(late, ["add note après le siège"])
    lab.converge(people, 60, "the session after the siege", items=1)
    figure("cheating client (hangs up once an answer could tell): guesses answered",
           cheated["answered"])
    figure("attempts the cheating client made", cheated["attempts"])
    figure("plain guesser against 10 laptops: guesses answered per minute",
           guessed["per_minute"])
    figure("plain guesser: attempts / answered", f"{guessed['attempts']} / "
                                                 f"{guessed['answered']}")
    figure("a newcomer with the code joined during the siege (s)", f"{joined_in:.1f}")
    lab.stop(people)
