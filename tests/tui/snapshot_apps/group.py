"""The group's dialogs: choosing the case, the follow-up, the evaluation, the next meeting.

Anne facilitates, Bob and Chloé are consultants, all on their own replicas
with one fake clock set at noon (UTC), so dates read the same in every time
zone a test runs in. Actors are fixed too: the order of concurrent updates
(hence the status an action shows) depends on them.
"""

from __future__ import annotations

from model.keys import Identity
from model.protocols import builtin_protocols
from model.session import Session
from tests.replicas import FakeClock
from tests.tui.snapshot_apps.sessions import Group, finished
from tui.app import CercleApp, make_app

NOON = 1_768_478_400_000  # 2026-01-15 12:00 UTC
FOUR_WEEKS = 28 * 24 * 3600
ANNE, BOB, CHLOE = (Identity.from_bytes(bytes([n] * 32)) for n in (0xA0, 0xB0, 0xC0))


def _joins(session: Session, name: str, identity: Identity, clock: FakeClock) -> Session:
    clock.advance(1)
    other = Session(session.doc.fork(), identity=identity, clock=clock)
    other.join(name)
    return other


def _people(session: Session, clock: FakeClock) -> Group:
    people = Group(clock, session, _joins(session, "Bob", BOB, clock),
                   _joins(session, "Chloé", CHLOE, clock))
    people.sync()
    return people


def _next_meeting(previous: Session, title: str, clock: FakeClock) -> tuple[Group, dict[str, str]]:
    """Four weeks on, the group's next meeting, and its carried actions' ids by text."""
    clock.advance(FOUR_WEEKS)
    session = Session.continue_from(previous.doc, name="Anne", title=title, identity=ANNE,
                                    clock=clock)
    people = _people(session, clock)
    return people, {item.text: item.id for item in session.snapshot.items_of("action")}


def _app(people: Group, role: str, lang: str) -> CercleApp:
    room = people.room(role)
    return make_app(start="live", room=room, lang=lang, advertise=False, clock=room.clock)


def choosing_the_case() -> Group:
    """A first session, before the timer starts: three proposals, three votes."""
    clock = FakeClock(NOON)
    anne = Session.create(title="January meeting", protocol=builtin_protocols()["codev"],
                          name="Anne", identity=ANNE, clock=clock)
    people = _people(anne, clock)
    marc = people.add(people.bob, "proposal", "Tension with Marc, my new deputy")
    project = people.add(people.chloe, "proposal", "A project nobody wants to own")
    people.add(people.chloe, "proposal", "Saying no to my director")
    people.anne.vote(marc)
    people.chloe.vote(marc)
    people.bob.vote(project)
    people.sync()
    return people


def cases(lang: str) -> CercleApp:
    """The facilitator's laptop; the test opens the dialog with Ctrl+B."""
    return _app(choosing_the_case(), "facilitator", lang)


def third_meeting() -> Group:
    """The third session of a group, in its follow-up phase. Bob's coffee with Marc
    was decided in January, in progress in February; today Bob and Anne update it
    at the same moment, and both updates are kept."""
    clock = FakeClock(NOON)
    first = Session.create(title="January meeting", protocol=builtin_protocols()["codev"],
                           name="Anne", identity=ANNE, clock=clock)
    people = _people(first, clock)
    people.control("goto", 4)  # the synthesis: Anne writes the actions down
    people.add(people.anne, "action", "Invite Marc for a coffee", owner=people.bob.me,
               due="2026-03-31")
    people.add(people.anne, "action", "Write down the facts of the project",
               owner=people.chloe.me)
    people.add(people.anne, "action", "Send the reading list", owner=people.anne.me)
    people.control("end")

    people, by_text = _next_meeting(first, "February meeting", clock)
    people.bob.update_action(by_text["Invite Marc for a coffee"], "in_progress",
                             "Marc said yes, after the holidays")
    people.anne.update_action(by_text["Send the reading list"], "done")
    people.sync()
    people.control("end")

    people, by_text = _next_meeting(people.anne, "March meeting", clock)
    clock.advance(60)
    people.bob.update_action(by_text["Invite Marc for a coffee"], "done",
                             "We met on Tuesday: it went well")
    people.anne.update_action(by_text["Invite Marc for a coffee"], "in_progress",
                              "A second coffee is planned")
    people.sync()
    people.add(people.chloe, "action", "Ask the director who owns the project",
               owner=people.chloe.me)
    return people


def follow_up(lang: str) -> CercleApp:
    """Bob's laptop: the follow-up opens by itself (he owns a carried action)."""
    return _app(third_meeting(), "client", lang)  # "client" is Bob's replica in Group


def evaluated() -> Group:
    """The finished co-development session; Bob and Chloé rated it, Anne too."""
    people = finished()
    people.bob.evaluate(5, "Very useful, thank you")
    people.chloe.evaluate(4, "More time for the advice next time")
    people.anne.evaluate(4, "A good rhythm")
    people.sync()
    return people


def evaluation(lang: str) -> CercleApp:
    """Anne's laptop after the end; the test opens the dialog with Ctrl+L."""
    return _app(evaluated(), "facilitator", lang)


def meeting_set() -> Group:
    people = finished()
    people.anne.set_next_meeting("2026-06-25", "18:30", "Room 3, Maison des associations", 120)
    people.sync()
    return people


def meeting(lang: str) -> CercleApp:
    """Anne's laptop after the end, a next meeting set; the test opens it with Ctrl+Y."""
    return _app(meeting_set(), "facilitator", lang)



def review_history(lang: str) -> CercleApp:
    """The third meeting's file opened for review: each action across the three meetings."""
    room = third_meeting().room("facilitator", read_only=True)
    return make_app(start="review", room=room, lang=lang, advertise=False, clock=room.clock)
