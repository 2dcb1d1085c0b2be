"""The method's rules: who may do what, at this moment of the session.

Pure functions of a snapshot and a participant id. ``model.session.Session``
checks them in every intent and raises ``NotAllowed`` with the verdict's
sentence, so a screen, a script or the headless peer get the same answer;
screens ask them to offer only what may be done. (What a reader *believes*
is decided on read, whoever wrote it: see ``model.snapshot``.)

- **Adding**: the kinds of the current phase, when the phase's contributors
  include me (``everyone``; my role ``client``/``facilitator``/``scribe``;
  ``consultants`` when I am neither client nor facilitator); the facilitator
  and the scribe always; nothing once the session has ended. A proposal (a
  candidate case) may also be added whenever proposing is open (see below).
  Writing on someone's behalf is for the scribe and the facilitator.
- **Editing, deleting**: one's own items only. The facilitator *hides* an item
  instead (moderation, shown to nobody; the text stays in the history).
- **Marking**: the client or the facilitator marks questions answered and
  advice or hypotheses retained.
- **An action's status**: its owner (a carried action's owner by name), its
  author, the facilitator or the scribe; anyone when it has no owner. Its
  owner, due date and text: its author.
- **Facilitator controls** (phases, timer, roles, floor, case): the
  facilitator, not after the end; the next meeting also after the end.
- **Cases** (propose, vote): before the end, in the opening of the session
  (the follow-up phases and the first phase after them) or in a phase that
  takes proposals, until a case is chosen (the facilitator may still change
  it). **Evaluation**: in the last phase and after the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from model.records import Item
from model.schema import ITEM_ID_LENGTH, ITEM_ID_PREFIX, MARKS_BY_KIND
from model.snapshot import Snapshot

__all__ = [
    "YES",
    "NotAllowed",
    "Verdict",
    "addable_kinds",
    "closing",
    "ended",
    "enforce",
    "in_opening",
    "is_author",
    "may_add",
    "may_control",
    "may_delete",
    "may_edit",
    "may_evaluate",
    "may_hide",
    "may_mark",
    "may_propose",
    "may_set_action",
    "may_update_status",
    "may_vote",
    "roles_of",
]


class NotAllowed(PermissionError):
    """The local participant's role does not allow this operation."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether something may be done; when not, ``reason`` says why, for people."""

    reason: str = ""

    def __bool__(self) -> bool:
        return not self.reason


YES: Final = Verdict()


def _no(reason: str) -> Verdict:
    return Verdict(reason)


def enforce(verdict: Verdict) -> None:
    """Raise ``NotAllowed`` with the verdict's reason unless it allows."""
    if not verdict:
        raise NotAllowed(verdict.reason)


# -- where the session stands ------------------------------------------------------------
def roles_of(snap: Snapshot, who: str) -> tuple[str, ...]:
    """The roles ``who`` holds now (facilitator, client, scribe)."""
    roles = snap.control.roles
    return tuple(r for r in ("facilitator", "client", "scribe") if getattr(roles, r) == who)


def ended(snap: Snapshot) -> bool:
    return snap.control.phase.status == "ended"


def in_opening(snap: Snapshot) -> bool:
    """The follow-up phases and the first phase after them, or a phase taking proposals."""
    phase = snap.current_phase
    if phase is not None and "proposal" in phase.kinds:
        return True
    leading = 0
    while leading < len(snap.phases) and snap.phases[leading].follow_up:
        leading += 1
    return snap.control.phase.index <= leading


def closing(snap: Snapshot) -> bool:
    """The last phase, or after the end."""
    state = snap.control.phase
    return state.status == "ended" or state.index == len(snap.phases) - 1


def _facilitating(snap: Snapshot, who: str) -> bool:
    return bool(who) and snap.control.roles.facilitator == who


# -- adding --------------------------------------------------------------------------------
def addable_kinds(snap: Snapshot, who: str) -> tuple[str, ...]:
    """The kinds ``who`` may add in the current phase, given their roles."""
    phase = snap.current_phase
    if phase is None or ended(snap):
        return ()
    roles = roles_of(snap, who)
    contributors = set(phase.contributors)
    mine = set(roles) or {"consultants"}
    if "client" not in roles and "facilitator" not in roles:
        mine.add("consultants")
    if "everyone" in contributors or contributors & mine or "scribe" in roles \
            or "facilitator" in roles:
        return tuple(phase.kinds)
    return ()


def may_add(snap: Snapshot, who: str, kind: str, on_behalf: str = "") -> Verdict:
    """Whether ``who`` may add an item of ``kind`` now (for ``on_behalf``, if given)."""
    if on_behalf and on_behalf != who and not ({"scribe", "facilitator"}
                                               & set(roles_of(snap, who))):
        return _no("only the scribe or the facilitator can write for someone else")
    if kind in addable_kinds(snap, who):
        return YES
    if kind == "proposal":
        return may_propose(snap, who)
    if ended(snap):
        return _no("the session has ended: nothing more can be added")
    phase = snap.current_phase
    if phase is None:
        return _no("this session has no phase to add to")
    if kind not in phase.kinds:
        allowed = ", ".join(phase.kinds) or "nothing"
        return _no(f"this phase takes {allowed}, not {kind}")
    return _no(f"in this phase only {', '.join(phase.contributors) or 'nobody'} "
               f"may add a {kind}")


# -- one's own items -------------------------------------------------------------------
def is_author(snap: Snapshot, who: str, item: Item, mine: bool | None = None) -> bool:
    """Whether ``who`` wrote ``item``. ``mine`` is the caller's own knowledge (see
    ``Session.is_mine``); without it an anonymous item is recognised by its id, which
    starts with its author's actor in a proven session."""
    if mine is not None:
        return mine
    if not who:
        return False
    if not item.anonymous:
        return item.author == who
    return snap.info.verified and len(item.id) == ITEM_ID_LENGTH \
        and item.id[:ITEM_ID_PREFIX] == who[:ITEM_ID_PREFIX]


def may_edit(snap: Snapshot, who: str, item: Item, *, mine: bool | None = None) -> Verdict:
    """Whether ``who`` may change the text of ``item`` or delete it: their own only."""
    if is_author(snap, who, item, mine):
        return YES
    if _facilitating(snap, who):
        return _no("this is someone else's contribution: as the facilitator you may hide it")
    return _no("only its author can change or delete this contribution")


may_delete = may_edit


def may_hide(snap: Snapshot, who: str) -> Verdict:
    """Whether ``who`` may hide items from the board: the facilitator (also after the end,
    to take something out of the minutes)."""
    return YES if _facilitating(snap, who) else _no("only the facilitator can hide a "
                                                    "contribution")


def may_mark(snap: Snapshot, who: str, item: Item) -> Verdict:
    """Whether ``who`` may mark ``item`` (answered for a question, retained for advice or
    a hypothesis): the client or the facilitator."""
    if item.kind not in MARKS_BY_KIND:
        return _no(f"a {item.kind} cannot be marked")
    if {"client", "facilitator"} & set(roles_of(snap, who)):
        return YES
    what = "answered" if MARKS_BY_KIND[item.kind] == "answered" else "retained"
    return _no(f"only the client or the facilitator marks what is {what}")


def may_update_status(snap: Snapshot, who: str, item: Item) -> Verdict:
    """Whether ``who`` may update an action's status: its owner (for a carried action,
    the participant with the owner's name), its author, the facilitator, the scribe —
    or anyone when it has no owner."""
    if item.kind != "action":
        return _no("only an action has a status")
    owner = snap.owner_id(item)
    if not owner and not item.owner_name:
        return YES
    roles = snap.control.roles
    if who and who in (owner, item.author, roles.facilitator, roles.scribe):
        return YES
    return _no("only the action's owner, its author, the facilitator or the scribe "
               "can update its status")


def may_set_action(snap: Snapshot, who: str, item: Item, *,
                   mine: bool | None = None) -> Verdict:
    """Whether ``who`` may set an action's owner, due date or text: its author."""
    if item.kind != "action":
        return _no("only an action has an owner and a due date")
    if is_author(snap, who, item, mine):
        return YES
    return _no("only the action's author can change its owner, due date or text")


# -- facilitation --------------------------------------------------------------------------
def may_control(snap: Snapshot, who: str, type: str) -> Verdict:
    """Whether ``who`` may write the control event ``type`` now."""
    if not _facilitating(snap, who):
        return _no("only the facilitator can do this")
    if ended(snap) and type != "meeting":
        return _no("the session has ended")
    return YES


# -- the group's choices -------------------------------------------------------------------
def may_propose(snap: Snapshot, who: str) -> Verdict:
    """Whether ``who`` may propose a case or vote now."""
    if ended(snap):
        return _no("the session has ended")
    if not in_opening(snap):
        return _no("cases are proposed and chosen at the opening of the session")
    if snap.control.case and not _facilitating(snap, who):
        return _no("today's case has been chosen")
    return YES


may_vote = may_propose


def may_evaluate(snap: Snapshot, who: str) -> Verdict:
    """Whether ``who`` may give the closing evaluation: in the last phase or after."""
    return YES if closing(snap) else _no("the evaluation opens in the last phase")
