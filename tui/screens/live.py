"""The live session: where the phase is, how much time is left, what everyone wrote."""

from __future__ import annotations

import gc
import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Static

from model import rules
from model.snapshot import Snapshot
from tui.format import paragraph
from tui.i18n import language, t
from tui.messages import ExportRequested, LobbyRequested, PeersUpdated, SessionChanged
from tui.room import Room
from tui.screens import group_keys
from tui.screens.base import CercleScreen
from tui.screens.cases import Cases
from tui.screens.dialogs import Confirm, EditItem, ExtendTime, Roles
from tui.screens.evaluation import Evaluate
from tui.screens.floor import FloorDialog, PlanDialog
from tui.screens.follow_up import FollowUp
from tui.screens.next_meeting import NextMeetingDialog
from tui.widgets.composer import Composer
from tui.widgets.footer import Footer
from tui.widgets.item_board import ItemBoard
from tui.widgets.phase_header import PhaseHeader
from tui.widgets.roster import Roster

RENDER_GAP = 0.2  # seconds between repaints while remote changes pour in (typing stays smooth)
FACILITATOR_ACTIONS = {"timer", "next", "back", "extend", "roles", "end", "floor", "plan"}


class LiveScreen(CercleScreen):
    """A session in progress, for whoever sits at this laptop."""

    FKEYS_FIRST = True  # the facilitator's timer and phases, before everyone's Ctrl keys
    BINDINGS = [
        Binding("f5", "timer", "key.timer"),
        Binding("f6", "back", "key.back"),
        Binding("f7", "next", "key.next"),
        Binding("f8", "extend", "key.extend"),
        Binding("f9", "roles", "key.roles"),
        Binding("ctrl+t", "mark", "key.mark", priority=True),
        Binding("ctrl+o", "edit", "key.edit", priority=True),
        Binding("ctrl+r", "hand", "key.hand", priority=True),
        Binding("ctrl+d", "done", "key.done", priority=True),
        Binding("ctrl+k", "code", "key.code", priority=True),
        Binding("ctrl+e", "export", "key.export", priority=True),
        Binding("ctrl+b", "cases", "key.cases", priority=True),
        Binding("ctrl+u", "follow_up", "key.follow_up", priority=True),
        Binding("ctrl+l", "evaluate", "key.evaluate", priority=True),
        Binding("ctrl+y", "next_meeting", "key.next_meeting", priority=True),
        Binding("f10", "end", "key.end"),
        Binding("ctrl+g", "floor", "key.floor", priority=True),
        Binding("ctrl+n", "next_speaker", "key.next_speaker", priority=True),
        Binding("f2", "plan", "key.plan"),
        Binding("escape", "write", "key.write", show=False),
    ]

    def __init__(self, room: Room) -> None:
        super().__init__()
        self.room = room
        self._phase_seen = -1
        self._rang_for = -1
        self._ready = False
        self._allowed: tuple[object, ...] = ()
        self._rendered_at = 0.0
        self._render_timer: Timer | None = None
        self._instruction = ""

    def compose(self) -> ComposeResult:
        snap = self.room.snapshot
        yield PhaseHeader(id="header")
        yield Static(id="instruction")
        with Horizontal(id="body"):
            yield ItemBoard(snap, self.room.session.is_mine, id="board")
            yield Roster(id="roster")
        yield Composer(id="composer")
        yield Footer()

    def on_mount(self) -> None:
        # Nested widgets (tabs, selects) finish mounting after this screen: render then.
        self.call_after_refresh(self._first_render)

    def _first_render(self) -> None:
        self._ready = True
        self.render_all()
        # The session, the app and this screen now stay for the whole meeting: keep the
        # collector from walking them again and again (a full pass over a 3,000-item
        # session paused typing for 100 ms). Objects made later are collected as usual.
        gc.freeze()
        self.set_interval(1.0, self.tick)
        self.set_interval(5.0, self._look)
        self.query_one("#composer #text").focus()

    # -- rendering --------------------------------------------------------------
    @property
    def snap(self) -> Snapshot:
        return self.room.snapshot

    def tick(self) -> None:
        level = self.query_one(PhaseHeader).show(self.snap, self.room.now_ms())
        index = self.snap.control.phase.index
        if level == "red" and self._rang_for != index and self.snap.control.phase.status \
                == "running":
            self._rang_for = index
            self.app.bell()

    def _look(self) -> None:
        if self.app.is_headless or self.app.app_focus:
            self.query_one(ItemBoard).mark_seen()

    def render_all(self) -> None:
        self._rendered_at = time.monotonic()
        snap = self.snap
        self.tick()
        phase = snap.current_phase
        text = t("live.ended") if snap.control.phase.status == "ended" else (
            phase.instruction.get(language()) if phase is not None else "")
        text = group_keys.instruction(snap, text)
        if text != self._instruction:  # an update costs a layout: only when it changes
            self._instruction = text
            # The protocol's words travel in the document: plain text, like the case's title.
            self.query_one("#instruction", Static).update(Text(paragraph(text)))
        board = self.query_one(ItemBoard)
        board.show(snap)
        if snap.control.phase.index != self._phase_seen:
            self._phase_seen = snap.control.phase.index
            if phase is not None and phase.kinds:
                board.focus_kind(phase.kinds[0])
        kinds = [] if self.room.read_only else list(rules.addable_kinds(snap, self.room.me))
        composer = self.query_one(Composer)
        composer.allow(kinds, ended=rules.ended(snap))
        roles = self.room.my_roles
        composer.speakers([(p.name, p.id) for p in snap.participants if p.id != self.room.me]
                          if "scribe" in roles and kinds else None)
        self.query_one(Roster).show(self.room.members())
        self._follow_floor()
        self._follow_group()
        # The footer rebuilds all its keys on refresh: only when what it depends on changed.
        allowed = (self.room.my_roles, snap.control.phase.status == "ended")
        if allowed != self._allowed:
            self._allowed = allowed
            self.refresh_bindings()

    def on_session_changed(self, message: SessionChanged) -> None:
        """Repaint at once for a lone change; during a burst, at most every RENDER_GAP."""
        if not self._ready:  # a change may arrive while the screen is being built
            return
        wait = RENDER_GAP - (time.monotonic() - self._rendered_at)
        if wait <= 0:
            self.render_all()
        elif self._render_timer is None:
            self._render_timer = self.set_timer(wait, self._deferred_render)

    def _deferred_render(self) -> None:
        self._render_timer = None
        self.render_all()

    def on_peers_updated(self, message: PeersUpdated) -> None:
        if self._ready:
            self.query_one(Roster).show(self.room.members())

    # -- what may be done here ------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        roles = self.room.my_roles
        ended = self.snap.control.phase.status == "ended"
        if self.room.read_only and action not in ("export", "code"):
            return False
        if action in FACILITATOR_ACTIONS:
            return "facilitator" in roles and not ended
        if action == "mark":
            return "client" in roles or "facilitator" in roles
        if action in ("hand", "done"):  # nothing to ask for or finish once it has ended
            return self.room.node is not None and not ended
        if action == "code":
            return self.room.node is not None
        if action in group_keys.ACTIONS:
            return group_keys.allowed(action, self.room)
        if action == "next_speaker":
            return "facilitator" in roles and not ended and self.snap.control.floor.in_round
        return True

    def _report(self, error: str | None) -> None:
        if error:
            self.notify(error, severity="warning")
        else:
            self.render_all()

    # -- writing ---------------------------------------------------------------------
    def on_composer_submitted(self, message: Composer.Submitted) -> None:
        fields: dict[str, Any] = {}
        if message.kind == "action":
            client = self.snap.control.roles.client
            fields = {"owner": client or self.room.me}
        self._report(self.room.act(self.room.session.add_item, message.kind, message.text,
                                   on_behalf=message.on_behalf, **fields))

    def on_item_board_chosen(self, message: ItemBoard.Chosen) -> None:
        self._edit(message.item_id)

    def action_edit(self) -> None:
        item_id = self.query_one(ItemBoard).selected_item()
        if item_id:
            self._edit(item_id)

    def _edit(self, item_id: str) -> None:
        item = self.snap.item(item_id)
        if item is None:
            return
        mine = self.room.session.is_mine(item.id)
        # Own items only; an action's owner updates its status; the facilitator hides.
        may_edit = mine or bool(rules.may_update_status(self.snap, self.room.me, item))
        hides = not mine and bool(rules.may_hide(self.snap, self.room.me))
        if not may_edit and not hides:
            self.notify(t("live.not_yours"), severity="warning")
            return

        def done(result: dict[str, Any] | None) -> None:
            if not result:
                return
            if result.get("delete"):
                self._report(self.room.act(self.room.session.delete_item if mine
                                           else self.room.session.hide_item, item_id))
                return
            text = result.pop("text", None)
            if text:
                self._report(self.room.act(self.room.session.edit_item, item_id, text))
            if result:
                self._report(self.room.act(self.room.session.set_action, item_id, **result))

        self.app.push_screen(EditItem(item, self.snap, can_delete=mine or hides), done)

    def action_write(self) -> None:
        """Back to the text box, wherever the focus wandered."""
        self.query_one("#composer #text").focus()

    def action_mark(self) -> None:
        item_id = self.query_one(ItemBoard).selected_item()
        item = self.snap.item(item_id) if item_id else None
        if item is None:
            return
        session = self.room.session
        if item.kind == "question":
            self._report(self.room.act(session.mark_answered, item.id, not item.answered))
        elif item.kind in ("advice", "hypothesis"):
            self._report(self.room.act(session.mark_retained, item.id, not item.retained))
        else:
            self.notify(t("live.mark_what"))

    # -- facilitation -------------------------------------------------------------------
    def action_timer(self) -> None:
        status = self.snap.control.phase.status
        session = self.room.session
        intent = {"waiting": session.start, "running": session.pause,
                  "paused": session.resume}.get(status)
        if intent is not None:
            self._report(self.room.act(intent))

    def action_next(self) -> None:
        done, total = self.room.done_count()
        if self.snap.control.phase.index + 1 >= len(self.snap.phases):
            self.action_end()
            return
        if total and done < total:
            self.app.push_screen(
                Confirm(t("live.not_done", done=done, total=total), t("button.next")),
                lambda ok: self._report(self.room.act(self.room.session.advance)) if ok else None)
        else:
            self._report(self.room.act(self.room.session.advance))

    def action_back(self) -> None:
        self._report(self.room.act(self.room.session.go_back))

    def action_extend(self) -> None:
        self.app.push_screen(ExtendTime(), lambda minutes: self._report(
            self.room.act(self.room.session.extend, minutes)) if minutes else None)

    def action_roles(self) -> None:
        def done(choice: tuple[str, str] | None) -> None:
            if choice is not None:
                self._report(self.room.act(self.room.session.assign_role, *choice))

        self.app.push_screen(Roles(self.snap), done)

    def action_end(self) -> None:
        self.app.push_screen(Confirm(t("live.end_question"), t("button.end")),
                             lambda ok: self._report(self.room.act(self.room.session.end))
                             if ok else None)

    # -- the group: case, follow-up, evaluation, next meeting --------------------------------
    _group_keys: tuple[bool, ...] = ()  # which group keys the footer shows
    _group_phase = -1  # the phase the follow-up last looked at

    def _follow_group(self) -> None:
        """Show the group keys that fit the moment; on entering a follow-up phase,
        open the follow-up for whoever owns actions carried over."""
        keys = tuple(group_keys.allowed(action, self.room) for action in group_keys.ACTIONS)
        if keys != self._group_keys:
            self._group_keys = keys
            self.refresh_bindings()
        state = self.snap.control.phase
        if state.index == self._group_phase:
            return
        self._group_phase = state.index
        phase = self.snap.current_phase
        if phase is not None and phase.follow_up and state.status != "ended" \
                and not self.room.read_only and group_keys.owns_carried(self.room) \
                and self.app.screen is self:
            self.action_follow_up()

    def action_cases(self) -> None:
        self.app.push_screen(Cases(self.room), lambda _: self.render_all())

    def action_follow_up(self) -> None:
        self.app.push_screen(FollowUp(self.room), lambda _: self.render_all())

    def action_evaluate(self) -> None:
        self.app.push_screen(Evaluate(self.room), lambda _: self.render_all())

    def action_next_meeting(self) -> None:
        self.app.push_screen(NextMeetingDialog(self.room), lambda _: self.render_all())

    # -- everyone -------------------------------------------------------------------------
    def action_hand(self) -> None:
        raised = self.room.toggle_hand()
        self.notify(t("live.hand_up") if raised else t("live.hand_down"))
        self.query_one(Roster).show(self.room.members())

    def action_done(self) -> None:
        done = self.room.toggle_done()
        self.notify(t("live.done") if done else t("live.not_done_any_more"))
        self.query_one(Roster).show(self.room.members())

    def action_code(self) -> None:
        self.post_message(LobbyRequested())

    def action_export(self) -> None:
        self.post_message(ExportRequested(self.room))

    # -- the floor and the plan -----------------------------------------------------------
    _floor_seen = ""  # the speaker at the last render
    _round_seen = False  # whether a round was running at the last render

    def _follow_floor(self) -> None:
        """Say so when I am given the floor (lowering my hand: it has been seen), and
        show the next-speaker key only while a round runs."""
        floor = self.snap.control.floor
        if floor.speaker != self._floor_seen:
            self._floor_seen = floor.speaker
            if floor.speaker == self.room.me:
                self.notify(t("floor.you"))
                node = self.room.node
                if node is not None and node.presence.hand_raised:
                    self.room.toggle_hand()
                    self.query_one(Roster).show(self.room.members())
        if floor.in_round != self._round_seen:
            self._round_seen = floor.in_round
            self.refresh_bindings()

    def action_floor(self) -> None:
        def done(choice: str | None) -> None:
            session = self.room.session
            verb, _, who = (choice or "").partition(":")
            intent = {"give": lambda: session.give_floor(who),
                      "back": lambda: session.give_floor(""),
                      "round": session.start_round,
                      "next": session.next_speaker,
                      "previous": session.previous_speaker}.get(verb)
            if intent is not None:
                self._report(self.room.act(intent))

        self.app.push_screen(FloorDialog(self.snap, self.room.members()), done)

    def action_next_speaker(self) -> None:
        self._report(self.room.act(self.room.session.next_speaker))

    def action_plan(self) -> None:
        self.app.push_screen(PlanDialog(self.room))
