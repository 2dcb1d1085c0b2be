"""``cercle demo``: a live co-development session with three simulated participants.

The participants are real peers: each has its own replica and SessionNode,
linked to yours over loopback with the join code, exactly as laptops in a
room would be. They react to the phases you move through: consultants ask
questions and give advice, the client answers, states the contract, retains
advice and writes the action plan, and everyone shares a learning. With
``headless`` the facilitator is simulated too and the whole session plays by
itself, then the file is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from model import sessionfile
from model.protocols import builtin_protocols
from model.session import NotAllowed, Session
from sync.codes import generate_code
from sync.events import NodeEvent
from sync.node import SessionNode
from tui.meeting import Meeting, Target, host, join
from tui.room import Room

LOOPBACK = "127.0.0.1"

SCRIPT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Demo — Claire's case",
        "you": "You",
        "people": ["Claire", "Karim", "Léa"],
        "note": "Team of 8, two newcomers, deadlines moved up by a month.",
        "questions": {
            "Karim": ["How long have you led this team?", "Who set the new deadline?"],
            "Léa": ["What have you already tried?", "How does the team feel about it?"],
        },
        "contract": "Help me find how to get the team on board with the new plan.",
        "advice": {
            "Karim": ["Hold a short workshop where the team rebuilds the plan with you.",
                      "Ask your manager to explain the deadline to the team himself."],
            "Léa": ["Meet the two newcomers one to one this week.",
                    "Name one person to own the schedule, not you."],
        },
        "actions": ["Plan the team workshop", "Meet the newcomers one to one"],
        "learnings": {
            "Claire": "Saying the contract out loud made the advice much sharper.",
            "Karim": "Listening without answering is harder than it looks.",
            "Léa": "Open questions helped more than my own ideas.",
        },
    },
    "fr": {
        "title": "Démo — Le cas de Claire",
        "you": "Vous",
        "people": ["Claire", "Karim", "Léa"],
        "note": "Équipe de 8, deux nouveaux arrivants, délais avancés d'un mois.",
        "questions": {
            "Karim": ["Depuis quand encadres-tu cette équipe ?",
                      "Qui a fixé le nouveau délai ?"],
            "Léa": ["Qu'as-tu déjà essayé ?", "Comment l'équipe le vit-elle ?"],
        },
        "contract": "Aidez-moi à trouver comment embarquer l'équipe dans le nouveau plan.",
        "advice": {
            "Karim": ["Organise un court atelier où l'équipe reconstruit le plan avec toi.",
                      "Demande à ton manager d'expliquer lui-même le délai à l'équipe."],
            "Léa": ["Rencontre les deux nouveaux en tête-à-tête cette semaine.",
                    "Confie le planning à quelqu'un d'autre que toi."],
        },
        "actions": ["Planifier l'atelier d'équipe", "Voir les nouveaux en tête-à-tête"],
        "learnings": {
            "Claire": "Formuler le contrat à voix haute a rendu les conseils plus précis.",
            "Karim": "Écouter sans répondre, c'est plus dur qu'il n'y paraît.",
            "Léa": "Les questions ouvertes ont plus aidé que mes propres idées.",
        },
    },
}


async def when(session: Session, condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds, looking again after each change of ``session``."""
    changed = asyncio.Event()
    unsubscribe = session.subscribe(lambda _snapshot: changed.set())
    try:
        while not condition():
            changed.clear()
            await changed.wait()
    finally:
        unsubscribe()


@dataclass
class Bot:
    """One simulated participant: a replica, a node, and a little script."""

    name: str
    meeting: Meeting | None = None
    done_phases: set[str] = field(default_factory=set)

    @property
    def node(self) -> SessionNode:
        if self.meeting is None:
            raise RuntimeError(f"{self.name} has not joined yet")
        return self.meeting.node

    @property
    def session(self) -> Session:
        if self.meeting is None:
            raise RuntimeError(f"{self.name} has not joined yet")
        return self.meeting.session

    def act(self, intent: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = intent(*args, **kwargs)
        self.node.local_changed()
        return result


class Demo:
    """Runs the simulated room around a real host node on loopback."""

    def __init__(self, lang: str = "en", *, pace: float = 1.0, path: Path | None = None,
                 autopilot: bool = False, seed: int = 7) -> None:
        self.text = SCRIPT.get(lang, SCRIPT["en"])
        self.pace = pace
        self.path = path
        self.autopilot = autopilot
        self.rng = random.Random(seed)  # noqa: S311 - pacing a simulation, not secrets
        self.host: SessionNode | None = None
        self.meeting: Meeting | None = None
        self.bots: list[Bot] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.finished = asyncio.Event()

    async def start(self, on_event: Callable[[NodeEvent], None] | None = None) -> Room:
        """Open the session as facilitator and let the participants join."""
        session = Session.create(title=self.text["title"],
                                 protocol=builtin_protocols()["codev"], name=self.text["you"])
        if self.path is not None:
            sessionfile.save(self.path, session.doc)
        # The demo leaves nothing behind in the person's data folder: no key, no port kept.
        self.meeting = await host(session, self.path, code=generate_code(), interface=LOOPBACK,
                                  advertise=False, remember=False, on_event=on_event)
        self.host = self.meeting.node
        for name in self.text["people"]:
            bot = Bot(name)
            self.bots.append(bot)
            self._spawn(self._play(bot))
        self._spawn(self._facilitate() if self.autopilot else self._assign_client())
        return Room(session, node=self.host, path=self.path)

    async def _assign_client(self) -> None:
        """Claire brings today's case: make her the client once she is in."""
        session = self.host_session
        name = self.text["people"][0]
        await when(session, lambda: any(p.name == name for p in session.snapshot.participants))
        claire = next(p.id for p in session.snapshot.participants if p.name == name)
        if session.is_facilitator and not session.snapshot.control.roles.client:
            session.assign_role("client", claire)
            self.host_node.local_changed()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for bot in self.bots:
            if bot.meeting is not None:
                await bot.meeting.close()
        if self.meeting is not None:
            await self.meeting.close()

    @property
    def host_node(self) -> SessionNode:
        if self.host is None:
            raise RuntimeError("the demo has not started")
        return self.host

    @property
    def host_session(self) -> Session:
        if self.meeting is None:
            raise RuntimeError("the demo has not started")
        return self.meeting.session

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pause(self, seconds: float) -> None:
        await asyncio.sleep(seconds * self.pace * self.rng.uniform(0.7, 1.3))

    # -- the participants ------------------------------------------------------------
    async def _play(self, bot: Bot) -> None:
        await self._pause(1.0)
        host_node = self.host_node
        bot.meeting = await join(Target((LOOPBACK,), host_node.port, host_node.tag,
                                        host_node.code),
                                 name=bot.name, interface=LOOPBACK, remember=False,
                                 keep_file=False)
        while True:
            snap = bot.session.snapshot
            phase = snap.current_phase
            if snap.control.phase.status == "ended":
                return
            key = phase.key if phase and snap.control.phase.status != "waiting" else ""
            if key and key not in bot.done_phases:
                bot.done_phases.add(key)
                with contextlib.suppress(NotAllowed, ValueError):
                    await self._contribute(bot, key)
                bot.node.set_presence(done_phase=snap.control.phase.index)
            await asyncio.sleep(0.2)

    async def _contribute(self, bot: Bot, key: str) -> None:
        text = self.text
        client = bot.session.is_client
        match key:
            case "expose" if bot.name == self.text["people"][1]:  # a consultant notes it
                await self._pause(2)
                bot.act(bot.session.add_item, "note", text["note"])
            case "questions" if not client:
                for question in text["questions"].get(bot.name, []):
                    await self._pause(3)
                    bot.act(bot.session.add_item, "question", question)
            case "questions":
                await self._pause(5)
                for _ in range(8):
                    for item in bot.session.snapshot.items_of("question"):
                        if not item.answered:
                            await self._pause(2)
                            bot.act(bot.session.mark_answered, item.id)
                    await self._pause(2)
            case "contract" if client:
                await self._pause(2)
                bot.act(bot.session.add_item, "contract", text["contract"])
            case "advice" if not client:
                for advice in text["advice"].get(bot.name, []):
                    await self._pause(3)
                    bot.act(bot.session.add_item, "advice", advice)
            case "advice":
                await self._pause(6)
                for item in bot.session.snapshot.items_of("advice")[::2]:
                    await self._pause(1)
                    bot.act(bot.session.mark_retained, item.id)
            case "synthesis" if client:
                due = (date.today() + timedelta(days=30)).isoformat()
                for action in text["actions"]:
                    await self._pause(2)
                    bot.act(bot.session.add_item, "action", action, owner=bot.session.me,
                            due=due)
            case "learnings":
                await self._pause(2)
                bot.act(bot.session.add_item, "learning", text["learnings"][bot.name])

    # -- the facilitator, when nobody is at the keyboard ---------------------------------
    async def _facilitate(self) -> None:
        host = self.host_node
        session = self.host_session
        await when(session, lambda: len(session.snapshot.participants) > len(self.bots))
        await self._assign_client()
        await self._pause(0.5)
        session.start()
        host.local_changed()
        for _ in range(len(session.snapshot.phases)):
            await self._pause(4)
            deadline = asyncio.get_running_loop().time() + 40 * self.pace + 5
            # Readiness is presence, which has no event of its own: look a few times a second.
            while not self._all_done() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            await self._pause(1)
            if session.snapshot.control.phase.index + 1 < len(session.snapshot.phases):
                session.advance()
            else:
                session.end()
            self.host_node.local_changed()
        self.finished.set()

    def _all_done(self) -> bool:
        index = self.host_session.snapshot.control.phase.index
        peers = self.host_node.peers
        return len(peers) >= len(self.bots) and all(
            p.presence is not None and p.presence.done_phase == index for p in peers)


async def play_headless(path: Path, lang: str = "en", pace: float = 0.05) -> Session:
    """Play the whole demo without a screen and write the session file."""
    demo = Demo(lang, pace=pace, path=path, autopilot=True)
    await demo.start()
    try:
        await demo.finished.wait()
        await demo.host_node.wait_synced(quiet=0.2)
        return demo.host_session
    finally:
        await demo.stop()
