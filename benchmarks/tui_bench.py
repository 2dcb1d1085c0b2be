"""Interface benchmark: start-up, a remote change reaching the screen, typing under traffic.

Three measures, each beside a baseline measured in the same run:

1. Start-up to first paint: the real ``cercle`` command (``python -m tui.cli``,
   ``CERCLE_HOME`` in a temporary folder) in a pseudo-terminal of 80×24, timed
   from launch until the home screen's title and tagline are on the terminal;
   median of 5. Baselines: ``python -c "import textual"`` and a minimal Textual
   app's first paint, launched the same way. Shown beside it, without a
   target: the same start with eight saved 3,000-item sessions at home (the
   home screen lists recent sessions) and the import time alone.
2. Remote change to screen, with a session of 3,000 items: the app runs
   headless (``App.run_test``) on a live session hosted on 127.0.0.1 the way
   the app hosts one (``tui.meeting.host``, by its creator); a participant
   joins from this process (``tui.meeting.join``, with the code) and adds
   items, each pushed signed, and verified, judged and applied by the host's
   node. Timed from the peer's ``local_changed()`` to the moment the app's item
   table holds the new row, and to the next frame the app composes after it.
   Baseline: building the snapshot from scratch (``SnapshotBuilder(doc).snapshot``) for
   the same document.
3. Typing while 10 remote items per second arrive: keys go to the focused
   composer on a fixed clock (one every 50 ms), each timed from the moment it
   is pressed to the moment its character is in the ``Input``'s value. The
   traffic comes from the real headless peer (``cercle join --headless
   --script``) in its own process, as it would from another laptop. Baseline:
   the same typing without traffic.

Keys are posted the way ``Pilot.press`` posts them (an ``events.Key`` through
the driver), but on a clock rather than one after the other: ``Pilot.press``
waits until the app is idle before it returns, so a key would never be pressed
while the app is busy, which is exactly the case this measure is for.

Everything stays on the loopback address; every node, peer and app is stopped
at the end. Prints a table and exits 1 when a target is missed.

    uv run python benchmarks/tui_bench.py [--items 3000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import math
import os
import random
import re
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.model_bench import build  # noqa: E402
from model import sessionfile  # noqa: E402
from model.session import Session  # noqa: E402
from model.snapshot import SnapshotBuilder  # noqa: E402
from sync.events import NodeEvent  # noqa: E402

LOOPBACK = "127.0.0.1"  # never any other address
CODE = "271-828"
COLUMNS, LINES = 80, 24
STARTUP_TARGET_MS = 1000.0
CHANGE_TARGET_MS = 50.0
TYPING_TARGET_MS = 50.0
HOME_MARKERS = (b"Cercle", b"Practice-exchange")  # the home screen's title and tagline
MINIMAL_MARKER = b"minimal app painted"
MINIMAL_APP = f"""
from textual.app import App
from textual.widgets import Static

class Minimal(App):
    def compose(self):
        yield Static({MINIMAL_MARKER.decode()!r})

Minimal().run()
"""
REMOTE_TEXTS = [
    "Les questions ouvertes m'ont fait voir mon propre rôle autrement.",
    "Je retiens qu'on peut poser un cadre sans être autoritaire.",
    "Écouter sans proposer de solution tout de suite, c'est difficile.",
    "Le contrat clair au début a rendu les conseils plus utiles.",
]
TYPED = "je retiens qu on peut poser un cadre sans etre autoritaire "

# What the probe times in the app's process, and how the table names it.
COSTS = [
    ("receive", "host: Session.apply_changes (checked changes)"),
    ("render_all", "LiveScreen.render_all"),
    ("show", "  of which ItemBoard.show"),
    ("footer", "Footer.recompose (after refresh_bindings)*"),
    ("layout", "Screen._refresh_layout (layout + full repaint)"),
    ("repaint", "Screen._compositor_refresh (a frame)"),
    ("save", "SessionNode save (sessionfile.save, whole document)"),
]

T0 = time.monotonic()
# An installed Cercle runs from compiled bytecode; a shell that forbids writing it (some
# containers set this) would make every launch compile the whole program again.
NO_BYTECODE = ("PYTHONDONTWRITEBYTECODE",)


def say(text: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f} s] {text}", file=sys.stderr, flush=True)


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank method: a value that was measured."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# -- 1. start-up in a pseudo-terminal --------------------------------------------------------

# OSC (window title…), DCS, CSI and two-character escapes: what is left is the text drawn.
_ESCAPES = re.compile(
    rb"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1bP.*?\x1b\\|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[ -/]*[0-~]"
)


def terminal_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LC_", "TEXTUAL", "LANG")) and k not in NO_BYTECODE}
    env.update(TERM="xterm-256color", COLORTERM="truecolor", LANG="C.UTF-8",
               CERCLE_HOME=str(home), COLUMNS=str(COLUMNS), LINES=str(LINES))
    return env


def _take_terminal() -> None:  # in the child, after setsid: the pty becomes its terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def time_to_paint(argv: list[str], env: dict[str, str], markers: tuple[bytes, ...],
                  timeout: float = 20.0) -> float:
    """Seconds from launching ``argv`` in an 80×24 pty until every marker is on screen.

    The program is then asked to quit with Ctrl+Q, as a person would, and killed
    only if it does not.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            cwd=ROOT, start_new_session=True, preexec_fn=_take_terminal)
    os.close(slave)
    raw = bytearray()
    painted: float | None = None
    try:
        deadline = start + timeout
        while painted is None and time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                break
            raw += chunk
            drawn = _ESCAPES.sub(b"", bytes(raw))
            if all(marker in drawn for marker in markers):
                painted = time.perf_counter() - start
        _quit(proc, master)
    finally:
        os.close(master)
    if painted is None:
        tail = _ESCAPES.sub(b"", bytes(raw))[-600:].decode(errors="replace")
        raise RuntimeError(f"{' '.join(argv[:3])}… never painted {markers}: {tail!r}")
    return painted


KILLED: list[str] = []  # programs that did not quit on Ctrl+Q (reported under the table)


def _quit(proc: subprocess.Popen[bytes], master: int) -> None:
    with contextlib.suppress(OSError):
        os.write(master, b"\x11")  # Ctrl+Q
    deadline = time.monotonic() + 5.0
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                os.read(master, 1 << 16)  # keep draining, or a full pty blocks its writes
            except OSError:  # EIO: it closed the terminal on its way out
                break
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(max(0.1, deadline - time.monotonic()))
    if proc.poll() is None:
        KILLED.append(" ".join(str(a) for a in proc.args[:3]))  # type: ignore[index]
        proc.terminate()
        try:
            proc.wait(3.0)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


def time_to_exit(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=ROOT, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


@dataclass
class Startup:
    cercle: list[float] = field(default_factory=list)
    minimal: list[float] = field(default_factory=list)
    import_textual: list[float] = field(default_factory=list)
    import_cercle: list[float] = field(default_factory=list)  # what `cercle` imports to paint
    with_recent: list[float] = field(default_factory=list)  # cercle, 8 saved sessions at home
    import_textual_app: list[float] = field(default_factory=list)


def measure_startup(home: Path, recent_home: Path, runs: int) -> Startup:
    env = terminal_env(home)
    recent_env = terminal_env(recent_home)
    cercle = [sys.executable, "-m", "tui.cli"]
    minimal = [sys.executable, "-c", MINIMAL_APP]
    importing = [sys.executable, "-c", "import textual"]
    # What `cercle` imports before its first paint, and what the minimal app imports.
    cercle_imports = [sys.executable, "-c", "import tui.cli, tui.app, tui.screens.home"]
    textual_imports = [sys.executable, "-c",
                       "import textual.app, textual.widgets._static"]
    say("start-up: one untimed launch of each (bytecode and page cache)")
    time_to_paint(cercle, env, HOME_MARKERS)
    time_to_paint(minimal, env, (MINIMAL_MARKER,))
    time_to_exit(importing, env)
    time_to_exit(cercle_imports, env)
    time_to_paint(cercle, recent_env, HOME_MARKERS)
    result = Startup()
    for run in range(runs):  # interleaved, so a busy moment of the machine hits them all
        result.import_textual.append(time_to_exit(importing, env))
        result.minimal.append(time_to_paint(minimal, env, (MINIMAL_MARKER,)))
        result.cercle.append(time_to_paint(cercle, env, HOME_MARKERS))
        result.import_cercle.append(time_to_exit(cercle_imports, env))
        result.import_textual_app.append(time_to_exit(textual_imports, env))
        result.with_recent.append(time_to_paint(cercle, recent_env, HOME_MARKERS))
        say(f"start-up run {run + 1}/{runs}: cercle {result.cercle[-1] * 1000:.0f} ms, "
            f"with 8 recent sessions {result.with_recent[-1] * 1000:.0f} ms, "
            f"minimal app {result.minimal[-1] * 1000:.0f} ms, "
            f"import textual {result.import_textual[-1] * 1000:.0f} ms")
    return result


# -- instruments for the running app ---------------------------------------------------------


class Probe:
    """Timestamps, in the app's own process, of what the measures wait for.

    Wraps, on the instances and for this run only, ``ItemBoard.show`` (to see
    when a row lands) and ``App._display`` (to see frames); and, to say where
    the event loop's time goes, ``LiveScreen.render_all``, the footer's
    ``recompose``, the screen's layout and repaint, the host replica's
    ``apply_changes`` (what its node applies once a change is verified and
    judged; the snapshot is refreshed later, in ``render_all``) and
    ``sessionfile.save``. Nothing in the app's code changes.
    """

    def __init__(self) -> None:
        self.waiting: dict[str, tuple[str, asyncio.Event]] = {}
        self.landed: dict[str, float] = {}
        self.frames: list[float] = []
        self._new_frame = asyncio.Event()
        # (wall, CPU of this thread) in ms per call: wall is what blocks the loop (an
        # fsync counts), CPU is what other processes on the machine cannot inflate.
        self.costs: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in COSTS}
        self._undo: list[Callable[[], None]] = []

    def _timed(self, name: str, fn: Callable[..., Any],
               after: Callable[[], None] | None = None) -> Callable[..., Any]:
        costs = self.costs[name]

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                costs.append(((time.perf_counter() - start) * 1000,
                              (time.thread_time() - cpu) * 1000))
                if after is not None:
                    after()
        return wrapper

    def _timed_async(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        costs = self.costs[name]

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return await fn(*args, **kwargs)
            finally:  # includes whatever else the loop ran while this awaited
                costs.append(((time.perf_counter() - start) * 1000,
                              (time.thread_time() - cpu) * 1000))
        return wrapper

    def install(self, app: Any, screen: Any, board: Any, footer: Any, host: Session) -> None:
        self.board = board

        def display(original: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any) -> Any:
                result = original(*args)
                self.frames.append(time.perf_counter())
                del self.frames[:-16]
                self._new_frame.set()
                return result
            return wrapper

        self._patch(app, "_display", display(app._display))
        self._patch(board, "show", self._timed("show", board.show, self._check_rows))
        self._patch(screen, "render_all", self._timed("render_all", screen.render_all))
        self._patch(footer, "recompose", self._timed_async("footer", footer.recompose))
        self._patch(screen, "_refresh_layout", self._timed("layout", screen._refresh_layout))
        self._patch(screen, "_compositor_refresh",
                    self._timed("repaint", screen._compositor_refresh))
        self._patch(host, "apply_changes", self._timed("receive", host.apply_changes))
        original_save = sessionfile.save
        sessionfile.save = self._timed("save", original_save)
        self._undo.append(lambda: setattr(sessionfile, "save", original_save))

    def _patch(self, obj: Any, name: str, value: Any) -> None:
        setattr(obj, name, value)
        self._undo.append(lambda: obj.__dict__.pop(name, None))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def reset(self) -> None:
        for samples in self.costs.values():
            samples.clear()

    def _check_rows(self) -> None:
        now = time.perf_counter()
        for item_id, (kind, event) in list(self.waiting.items()):
            if item_id in self.board.table(kind).rows:
                self.landed[item_id] = now
                del self.waiting[item_id]
                event.set()

    async def wait_row(self, item_id: str, kind: str, timeout: float = 10.0) -> float:
        event = asyncio.Event()
        self.waiting[item_id] = (kind, event)
        async with asyncio.timeout(timeout):
            await event.wait()
        return self.landed.pop(item_id)

    async def wait_frame_after(self, moment: float, timeout: float = 5.0) -> float:
        """When the app composed its first frame after ``moment``."""
        async with asyncio.timeout(timeout):
            while True:
                later = [f for f in self.frames if f > moment]
                if later:
                    return later[0]
                self._new_frame.clear()
                await self._new_frame.wait()


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():  # noqa: ASYNC110 - state of other objects, no event to await
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}") from None


# -- 2. remote change to screen --------------------------------------------------------------


@dataclass
class Changes:
    to_row: list[float] = field(default_factory=list)
    to_frame: list[float] = field(default_factory=list)
    rebuild: list[float] = field(default_factory=list)
    costs: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


async def measure_changes(host: Session, port: int, probe: Probe,
                          count: int, rng: random.Random) -> Changes:
    from tui.meeting import Target, join

    result = Changes()
    # A participant joins with the code, as a laptop in the room would: it gets the whole
    # session from the host, then pushes its items signed.
    meeting = await join(Target((LOOPBACK,), port), name="Pair distant", code=CODE,
                         interface=LOOPBACK, remember=False, keep_file=False, timeout=60)
    try:
        peer, peer_node = meeting.session, meeting.node
        await until(lambda: peer.me in {p.id for p in host.snapshot.participants}
                    and peer_node.is_synced(), 30, "the in-process peer to join")
        await asyncio.sleep(0.3)  # let the join's repaint and save pass
        probe.reset()
        for n in range(count):
            # Random spacing: changes land anywhere relative to the 1 s tick and the save.
            await asyncio.sleep(rng.uniform(0.15, 0.35))
            item_id = peer.add_item("learning", rng.choice(REMOTE_TEXTS))
            landing = asyncio.ensure_future(probe.wait_row(item_id, "learning"))
            await asyncio.sleep(0)  # the waiter is registered before the change leaves
            start = time.perf_counter()
            peer_node.local_changed()
            landed = await landing
            frame = await probe.wait_frame_after(landed)
            result.to_row.append((landed - start) * 1000)
            result.to_frame.append((frame - start) * 1000)
            if (n + 1) % 10 == 0:
                say(f"remote changes: {n + 1}/{count}, last {result.to_row[-1]:.0f} ms to the "
                    f"row, {result.to_frame[-1]:.0f} ms to the frame")
        await asyncio.sleep(0.3)  # the last change's save, so it is counted
        result.costs = {k: list(v) for k, v in probe.costs.items()}
    finally:
        await meeting.close()
    for _ in range(3):
        start = time.perf_counter()
        _ = SnapshotBuilder(host.doc).snapshot  # read on first use
        result.rebuild.append((time.perf_counter() - start) * 1000)
    return result


# -- 3. typing under remote traffic -----------------------------------------------------------


class HeadlessPeer:
    """The real ``cercle join --headless --script`` in its own process, adding items on a clock.

    The clock runs in a thread that writes to the peer's standard input, so the
    traffic keeps its rate whether or not the app's event loop is busy.
    """

    def __init__(self, port: int, home: Path) -> None:
        env = {**{k: v for k, v in os.environ.items() if k not in NO_BYTECODE},
               "CERCLE_HOME": str(home)}
        self.errors = home / "stderr.txt"
        self._stderr = self.errors.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "join", "--headless", "--json", "--script",
             "--peer", f"{LOOPBACK}:{port}", "--code", CODE, "--name", "Pair scripté",
             "--interface", LOOPBACK, "--timeout", "60"],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, text=True, bufsize=1)
        self.synced = threading.Event()
        self.lines: list[str] = []
        self.sent = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, args=(self.proc.stdout,),
                                          daemon=True)]
        self._threads[0].start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self.lines.append(line)
            with contextlib.suppress(ValueError):
                if json.loads(line).get("event") == "synced":
                    self.synced.set()

    def start_traffic(self, per_second: float, texts: list[str]) -> None:
        def run() -> None:
            assert self.proc.stdin is not None
            start = time.monotonic()
            while not self._stop.is_set():
                due = start + self.sent / per_second
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    break
                try:
                    self.proc.stdin.write(f"add learning {texts[self.sent % len(texts)]}\n")
                    self.proc.stdin.flush()
                except (BrokenPipeError, OSError):
                    break
                self.sent += 1

        thread = threading.Thread(target=run, daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop_traffic(self) -> None:
        self._stop.set()
        for thread in self._threads[1:]:
            thread.join(5)

    def stop(self) -> int:
        """Quit the peer (``quit`` on its script); returns its exit code."""
        self.stop_traffic()
        with contextlib.suppress(BrokenPipeError, OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for thread in self._threads:
            thread.join(5)
        self._stderr.close()
        return self.proc.returncode

    def stderr_tail(self) -> str:
        return self.errors.read_text(errors="replace")[-500:] if self.errors.exists() else ""


@dataclass
class Typing:
    latencies: list[float]
    lost: int
    cpu_share: float  # of one core, this process (the app and its node), while typing
    remote_items: int = 0
    peer_exit: int | None = None
    costs: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


async def type_on_a_clock(app: Any, entry: Any, text: str, interval: float) -> Typing:
    """Press ``text``'s keys every ``interval`` s; each is timed from its press to its character."""
    from textual import events

    entry.value = ""
    await asyncio.sleep(0.05)
    appeared: list[float] = []
    all_in = asyncio.Event()

    def on_value(value: str) -> None:
        now = time.perf_counter()
        while len(appeared) < len(value):  # one stamp per character now in the field
            appeared.append(now)
        if len(value) >= len(text):
            all_in.set()

    watcher = app.screen
    watcher.watch(entry, "value", on_value, init=False)
    driver = app._driver
    pressed: list[float] = []
    cpu_start = time.process_time()
    start = time.perf_counter()
    for i, char in enumerate(text):
        due = start + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        # Pressed at ``due``: a person does not wait for a busy loop to press the next key.
        pressed.append(due)
        key = "space" if char == " " else char
        event = events.Key(key, char)
        event.set_sender(app)
        driver.send_message(event)
    with contextlib.suppress(TimeoutError):  # a lost key: counted below
        async with asyncio.timeout(10):
            await all_in.wait()
    cpu_share = (time.process_time() - cpu_start) / (time.perf_counter() - start)
    latencies = [(appeared[i] - pressed[i]) * 1000 for i in range(min(len(appeared),
                                                                         len(pressed)))]
    lost = len(text) - len(entry.value) if entry.value == text[: len(entry.value)] \
        else len(text)
    return Typing(latencies, lost, cpu_share)


async def measure_typing(app: Any, host: Session, port: int, probe: Probe,
                         home: Path, keys: int, rate: float) -> tuple[Typing, Typing]:
    from textual.widgets import Input

    entry = app.screen.query_one("#composer #text", Input)
    entry.focus()
    await until(lambda: app.focused is entry and not entry.disabled, 5, "the composer's focus")
    text = (TYPED * (keys // len(TYPED) + 1))[:keys]
    interval = 0.05

    say(f"typing: {keys} keys, one every {interval * 1000:.0f} ms, no remote traffic")
    quiet = await type_on_a_clock(app, entry, text, interval)

    peer_home = Path(tempfile.mkdtemp(prefix="cercle-tui-peer-"))
    peer = HeadlessPeer(port, peer_home)
    try:
        say("typing: the headless peer joins (it receives the whole session)")
        for _ in range(600):
            if peer.synced.is_set() or peer.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        if not peer.synced.is_set():
            raise RuntimeError("the headless peer did not join: "
                               + "".join(peer.lines[-5:]) + peer.stderr_tail())
        await asyncio.sleep(0.5)
        before = len(host.snapshot.items)
        peer.start_traffic(rate, REMOTE_TEXTS)
        await asyncio.sleep(1.0)  # the traffic is flowing before the first key
        probe.reset()
        say(f"typing: {keys} keys while the peer adds {rate:.0f} items/s")
        busy = await type_on_a_clock(app, entry, text, interval)
        busy.costs = {k: list(v) for k, v in probe.costs.items()}
        peer.stop_traffic()
        # Every item the peer was told to add reaches the app before the peer leaves.
        await until(lambda: len(host.snapshot.items) >= before + peer.sent, 30,
                    f"the peer's {peer.sent} items to reach the app")
    finally:
        peer_exit = peer.stop()
        shutil.rmtree(peer_home, ignore_errors=True)
    busy.remote_items = len(host.snapshot.items) - before
    busy.peer_exit = peer_exit
    return quiet, busy


# -- the app -------------------------------------------------------------------------------


@dataclass
class Interface:
    items: int
    changes: Changes
    quiet: Typing
    busy: Typing
    leftover_tasks: int


async def measure_interface(home: Path, host: Session, changes: int, keys: int,
                            rate: float) -> Interface:
    from textual.widgets import Footer

    from tui.app import make_app
    from tui.meeting import host as host_meeting
    from tui.room import Room
    from tui.screens.live import LiveScreen
    from tui.widgets.item_board import ItemBoard

    assert host.snapshot.current_phase is not None
    assert "learning" in host.snapshot.current_phase.kinds, "expected the learnings phase"
    path = home / "data" / "sessions" / "bench.cercle"
    path.parent.mkdir(parents=True, exist_ok=True)
    sessionfile.save(path, host.doc)

    apps: list[Any] = []

    def on_event(event: NodeEvent) -> None:
        if apps:
            apps[0]._on_node_event(event)

    # Hosted as the app hosts it (its creator's laptop, which admits newcomers with the code).
    meeting = await host_meeting(host, path, code=CODE, advertise=False, interface=LOOPBACK,
                                 on_event=on_event)
    host_node = meeting.node
    app = make_app(start="live", room=Room(host, node=host_node, path=path),
                   listen_host=LOOPBACK, advertise=False)
    apps.append(app)
    probe = Probe()
    rng = random.Random(11)
    try:
        async with app.run_test(size=(COLUMNS, LINES)) as pilot:
            await until(lambda: isinstance(app.screen, LiveScreen), 30, "the live screen")
            await pilot.pause()
            screen = app.screen
            board = screen.query_one(ItemBoard)
            probe.install(app, screen, board, screen.query_one(Footer), host)
            try:
                say(f"remote changes: {changes} items from an in-process peer")
                change_result = await measure_changes(host, host_node.port, probe, changes,
                                                      rng)
                quiet, busy = await measure_typing(app, host, host_node.port, probe, home,
                                                   keys, rate)
            finally:
                probe.uninstall()
    finally:
        await meeting.close()
    leftover = host_node.running_tasks
    return Interface(len(host.snapshot.items), change_result, quiet, busy, leftover)


# -- the table ---------------------------------------------------------------------------------


def ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def spread(samples: list[tuple[float, float]]) -> str:
    """Wall time per call, with the thread's CPU time in brackets."""
    if not samples:
        return "—"
    wall, cpu = [s[0] for s in samples], [s[1] for s in samples]

    def both(pick: Callable[[list[float]], float]) -> str:
        return f"{ms(pick(wall))} ({pick(cpu):.0f})"

    return (f"p50 {both(statistics.median)}, p95 {both(lambda x: percentile(x, 0.95))}, "
            f"max {both(max)}, n={len(samples)}, total {both(sum)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--quick", action="store_true",
                        help="fewer runs and keys (a smoke test, not a measurement)")
    args = parser.parse_args()
    runs, changes, keys = (2, 10, 60) if args.quick else (5, 30, 240)
    rate = 10.0

    load_before = os.getloadavg()
    home = Path(tempfile.mkdtemp(prefix="cercle-tui-bench-"))
    os.environ["CERCLE_HOME"] = str(home)  # the app's settings and files stay in here
    try:
        say(f"building a session of {args.items} items, 30 participants "
            "(benchmarks/model_bench.py)…")
        host, _people = build(args.items)
        # A laptop that has held sessions: the home screen lists the recent ones.
        recent = home / "recent" / "data" / "sessions"
        recent.mkdir(parents=True)
        for n in range(8):
            sessionfile.save(recent / f"session-{n + 1}.cercle", host.doc)
        recent_kb = (recent / "session-1.cercle").stat().st_size / 1000
        startup = measure_startup(home / "startup", home / "recent", runs)
        interface = asyncio.run(measure_interface(home / "app", host, changes, keys, rate))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    load_after = os.getloadavg()

    cercle = statistics.median(startup.cercle) * 1000
    minimal = statistics.median(startup.minimal) * 1000
    importing = statistics.median(startup.import_textual) * 1000
    importing_cercle = statistics.median(startup.import_cercle) * 1000
    importing_app = statistics.median(startup.import_textual_app) * 1000
    with_recent = statistics.median(startup.with_recent) * 1000
    ch = interface.changes
    row_p50, row_p95 = statistics.median(ch.to_row), percentile(ch.to_row, 0.95)
    frame_p50, frame_p95 = statistics.median(ch.to_frame), percentile(ch.to_frame, 0.95)
    rebuild = statistics.median(ch.rebuild)
    busy, quiet = interface.busy, interface.quiet

    def typing(t: Typing) -> str:
        if not t.latencies:
            return "no key arrived"
        return (f"p50 {ms(statistics.median(t.latencies))}, "
                f"p99 {ms(percentile(t.latencies, 0.99))}, max {ms(max(t.latencies))}, "
                f"lost {t.lost}")

    busy_p99 = percentile(busy.latencies, 0.99) if busy.latencies else float("inf")
    rows = [
        ("start-up to first paint", f"{ms(cercle)} (median of {runs})", "≤ 1000 ms",
         f"minimal Textual app {ms(minimal)}; import textual {ms(importing)}",
         cercle <= STARTUP_TARGET_MS),
        ("  its imports alone", f"{ms(importing_cercle)}", "",
         f"textual.app + Static {ms(importing_app)}", None),
        ("  with 8 recent sessions", f"{ms(with_recent)} (median of {runs})", "",
         f"each of {args.items} items, {recent_kb:.0f} KB", None),
        ("remote change → row in table", f"p50 {ms(row_p50)}, p95 {ms(row_p95)}",
         "p95 ≤ 50 ms", f"SnapshotBuilder(doc).snapshot {ms(rebuild)}",
         row_p95 <= CHANGE_TARGET_MS),
        ("remote change → next frame", f"p50 {ms(frame_p50)}, p95 {ms(frame_p95)}", "", "",
         None),
        (f"typing, {rate:.0f} remote items/s", typing(busy), "p99 ≤ 50 ms, 0 lost",
         f"no traffic: {typing(quiet)}",
         busy_p99 <= TYPING_TARGET_MS and busy.lost == 0 and quiet.lost == 0),
        ("  app process CPU meanwhile", f"{busy.cpu_share * 100:.0f}% of one core", "",
         f"no traffic: {quiet.cpu_share * 100:.0f}%", None),
    ]
    width = max(len(r[1]) for r in rows)
    print(f"\ninterface benchmark — {interface.items} items at the end, 30 participants, "
          f"terminal {COLUMNS}×{LINES}, Python {sys.version.split()[0]}, "
          f"load average {load_before[0]:.1f} → {load_after[0]:.1f} on {os.cpu_count()} CPUs\n")
    busiest = max(load_before[0], load_after[0])
    if busiest > (os.cpu_count() or 1):  # this run alone keeps about one core busy
        print(f"warning: the machine was busy (load average up to {busiest:.1f}); other "
              "processes took CPU from the app, so times are inflated: run it again on a "
              "quiet machine before comparing\n")
    print(f"{'measure':<31}{'value':<{width + 2}}{'target':<22}{'baseline (same run)':<58}ok")
    print("-" * (31 + width + 2 + 22 + 58 + 3))
    for name, value, target, baseline, ok in rows:
        verdict = "" if ok is None else "yes" if ok else "NO"
        print(f"{name:<31}{value:<{width + 2}}{target:<22}{baseline:<58}{verdict}")

    print("\nwhere the app's event loop spends its time, per call: wall time (CPU time of the "
          "app's thread, which other processes cannot inflate)")
    for label, costs in (("one remote change at a time", ch.costs),
                         (f"{busy.remote_items} remote items during typing", busy.costs)):
        print(f"  {label}:")
        for name, title in COSTS:
            print(f"    {title:<54}{spread(costs.get(name, []))}")
    print("  * an async call: also counts what the loop ran while it awaited")
    print(f"\ntasks left running by the host node after stop: {interface.leftover_tasks}; "
          f"headless peer exit code: {busy.peer_exit}; "
          f"programs killed because Ctrl+Q did not quit them: {len(KILLED)}")
    if any(r[4] is False for r in rows) or interface.leftover_tasks or KILLED or busy.peer_exit:
        sys.exit(1)


if __name__ == "__main__":
    main()
