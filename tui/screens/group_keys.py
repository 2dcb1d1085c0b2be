"""When the group's keys are offered in a live session, and the instruction line
that points at them.

``allowed`` is what the live screen's ``check_action`` asks: a key that does
not fit the moment is hidden from the footer.

- **Cases** (proposing, voting, choosing): in the opening of the session — the
  follow-up phases of a continued session and the first phase after them — or
  in any phase whose kinds list proposals, until a case is chosen; the
  facilitator keeps the key afterwards to change the choice.
- **Follow-up**: whenever the session holds actions (carried over or decided
  today), also after the end. It opens by itself on entering a follow-up phase
  for whoever owns carried actions, and the instruction line points at it.
- **Evaluation**: in the last phase and after the end.
- **Next meeting**: the facilitator, in the last phase and after the end.
"""

from __future__ import annotations

from model import rules
from model.snapshot import Snapshot
from tui.format import case_line, evaluation_text, meeting_text
from tui.i18n import t
from tui.room import Room

ACTIONS = ("cases", "follow_up", "evaluate", "next_meeting")


def allowed(action: str, room: Room) -> bool:
    """Whether the live screen offers ``action`` (one of ``ACTIONS``) right now; the rules
    themselves are ``model.rules``'."""
    snap = room.snapshot
    match action:
        case "cases":
            return bool(rules.may_propose(snap, room.me))
        case "follow_up":
            return bool(snap.items_of("action"))
        case "evaluate":
            return bool(rules.may_evaluate(snap, room.me))
        case "next_meeting":
            return bool(rules.may_control(snap, room.me, "meeting")) and rules.closing(snap)
    return False


def owns_carried(room: Room) -> bool:
    """Whether this person owns one of the actions carried over (the follow-up opens)."""
    snap = room.snapshot
    return any(snap.owner_id(item) == room.me for item in snap.carried_actions())


def instruction(snap: Snapshot, text: str) -> str:
    """The live screen's instruction line with what the group decided: the case
    before the phase's text, a pointer to the follow-up in its phase, and after
    the end the next meeting and the evaluation."""
    if snap.control.phase.status == "ended":
        parts = [text]
        if snap.control.meeting is not None:
            parts.append(t("meeting.line", meeting=meeting_text(snap.control.meeting)))
        if snap.evaluation.count:
            parts.append(t("evaluation.line", summary=evaluation_text(snap.evaluation)))
        return " ".join(parts)
    phase = snap.current_phase
    if phase is not None and phase.follow_up and snap.items_of("action"):
        text = f"{t('followup.pointer')} {text}"
    case = case_line(snap)
    return f"{case} · {text}" if case else text
