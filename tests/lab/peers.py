"""Cercle peers as processes on the lab's hosts, and what the lab says when a test fails.

A ``Lab`` owns a ``Network`` and every process started in it. Cercle peers
are the real command line (``python -m tui.cli host|join --headless --json
--script --watch``), each in its host's namespace with a ``CERCLE_HOME`` of
its own; tools (``tests.lab.browse``, ``stranger``, ``insider``,
``capture``) speak the same JSON lines. Everything waits for conditions with
deadlines, never for a fixed time.

``describe()`` is the table printed when a scenario fails: for every peer,
where it runs, whether it is alive, frozen or gone, and what it holds (items,
digest, peers, phase), asked live when it can answer, else its last answer
and its file on disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from model import export, sessionfile
from model.session import Session
from tests.lab.netlab import Host, Network
from tui.headless import digest

CODE = "4821-9130"
Event = dict[str, Any]


class Proc:
    """One process in the lab: commands on stdin, JSON lines on stdout (stamped on arrival)."""

    def __init__(self, lab: Lab, name: str, host: Host | None, argv: list[str],
                 home: Path) -> None:
        self.lab = lab
        self.name = name
        self.host = host
        self.home = home
        self.argv = argv
        home.mkdir(parents=True, exist_ok=True)
        self.stderr_path = home / f"{name}.stderr"
        self._stderr = self.stderr_path.open("ab")
        self.spawned = time.time()
        ns = host.ns if host else lab.net.switch
        self.popen = lab.net.popen(
            ns, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env={**os.environ, "CERCLE_HOME": str(home), "PYTHONUNBUFFERED": "1"})
        self.events: list[Event] = []
        self.frozen = False
        self.may_fail = False  # a process expected to exit with an error (a refused stranger)
        self.file: Path | None = None
        self.port = 0
        self.tag = ""
        threading.Thread(target=self._read, daemon=True, name=f"read-{name}").start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            rx = time.time()
            try:
                data = json.loads(raw)
            except ValueError:
                data = {"event": "_text", "text": raw.decode(errors="replace").rstrip()}
            if not isinstance(data, dict):
                continue
            data["_rx"] = rx
            with self.lab.cv:
                self.events.append(data)
                self.lab.cv.notify_all()
        with self.lab.cv:
            self.events.append({"event": "_eof", "_rx": time.time()})
            self.lab.cv.notify_all()

    @property
    def address(self) -> str:
        return self.host.address if self.host else "switch"

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def send(self, text: str) -> None:
        stdin: IO[bytes] | None = self.popen.stdin
        assert stdin is not None
        stdin.write(text.encode() + (b"" if text.endswith("\n") else b"\n"))
        stdin.flush()

    def mark(self) -> int:
        return len(self.events)

    def first(self, pred: Callable[[Event], bool], start: int = 0) -> Event | None:
        for event in self.events[start:]:
            if pred(event):
                return event
        return None

    def all(self, event: str, start: int = 0) -> list[Event]:
        return [e for e in self.events[start:] if e["event"] == event]

    def last(self, event: str) -> Event | None:
        for found in reversed(self.events):
            if found["event"] == event:
                return found
        return None

    def close_files(self) -> None:
        self._stderr.close()
        with contextlib.suppress(OSError, ValueError):  # stdout is the reader thread's
            if self.popen.stdin is not None:
                self.popen.stdin.close()

    def stderr_tail(self, lines: int = 6) -> str:
        with contextlib.suppress(OSError):
            text = self.stderr_path.read_text(errors="replace").strip().splitlines()
            return "\n".join(text[-lines:])
        return ""

    def __repr__(self) -> str:
        return f"{self.name}@{self.address}"


class Lab:
    """A network and the processes running on it; ``close()`` ends and removes everything."""

    def __init__(self, net: Network, base: Path) -> None:
        self.net = net
        self.base = base
        self.cv = threading.Condition()
        self.procs: list[Proc] = []
        self.notes: list[str] = []

    @property
    def hosts(self) -> list[Host]:
        return self.net.hosts

    def note(self, text: str) -> None:
        """Something a reader of a failure should know (shown in ``describe``)."""
        self.notes.append(f"[{time.strftime('%H:%M:%S')}] {text}")

    # -- starting -------------------------------------------------------------------------
    def spawn(self, name: str, host: Host | None, argv: list[str],
              home: Path | None = None) -> Proc:
        proc = Proc(self, name, host, argv, home or self.base / name)
        self.procs.append(proc)
        return proc

    def tool(self, name: str, host: Host | None, module: str, *args: str) -> Proc:
        """Run ``python -m tests.lab.<module>`` on ``host`` (None: in the switch's namespace)."""
        return self.spawn(name, host, [sys.executable, "-m", f"tests.lab.{module}", *args],
                          self.base / "tools")

    def host_session(self, host: Host, name: str = "Anne", *extra: str, title: str = "Atelier",
                     advertise: bool = False, home: Path | None = None, port: int = 0,
                     file: Path | None = None) -> Proc:
        """Start the facilitator's headless host on ``host``; returns once it is ready."""
        args = ["host", "--headless", "--json", "--script", "--watch", "--interface",
                host.address, "--code", CODE, "--name", name, "--port", str(port)]
        # A new session goes to the data folder; an existing file is hosted again.
        args += ["--file", str(file)] if file is not None else ["--title", title]
        if not advertise:
            args.append("--no-advertise")
        proc = self.spawn(name, host, [sys.executable, "-m", "tui.cli", *args, *extra], home)
        ready = self.expect(proc, "ready", 30)
        proc.port, proc.tag, proc.file = ready["port"], ready["tag"], Path(ready["file"])
        return proc

    def join(self, host: Host, name: str, via: Proc | str | None, *extra: str,
             wait: bool = True, home: Path | None = None, timeout: float = 60.0,
             code: str = CODE, file: Path | None = None, label: str | None = None) -> Proc:
        """Start a headless joiner on ``host`` through ``via`` (a peer, or ``IP:PORT``);
        ``label`` names the process in reports (default: ``name``)."""
        home = home or self.base / name
        file = file or home / "session.cercle"
        args = ["join", "--headless", "--json", "--script", "--watch", "--interface",
                host.address, "--code", code, "--name", name, "--file", str(file),
                "--timeout", str(timeout)]
        if isinstance(via, Proc):
            args += ["--peer", f"{via.address}:{via.port}"]
        elif via is not None:
            args += ["--peer", via]
        proc = self.spawn(label or name, host, [sys.executable, "-m", "tui.cli", *args, *extra],
                          home)
        proc.file = file
        if wait:
            self.synced(proc, timeout + 5)
        return proc

    def synced(self, proc: Proc, timeout: float = 60.0) -> Event:
        event = self.expect(proc, "synced", timeout)
        proc.port = event["port"]
        return event

    # -- waiting ----------------------------------------------------------------------------
    def wait(self, pred: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait until ``pred()`` (checked on every line any process prints, at least twice
        a second); a peer that dies on the way fails the wait at once."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
                dead = [p for p in self.procs if not p.alive and not p.may_fail
                        and p.popen.returncode not in (0, -signal.SIGKILL, -signal.SIGTERM)]
                if dead:
                    raise AssertionError(f"{dead[0]} exited ({dead[0].popen.returncode}) while "
                                         f"waiting for {what}: {dead[0].stderr_tail()}")
                self.cv.wait(min(left, 0.5))

    def expect(self, proc: Proc, event: str, timeout: float = 30.0, start: int = 0,
               **match: Any) -> Event:
        """The first ``event`` line (with ``match``'s values) ``proc`` printed after ``start``."""
        def pred(e: Event) -> bool:
            return e["event"] == event and all(e.get(k) == v for k, v in match.items())

        self.wait(lambda: proc.first(pred, start) is not None
                  or proc.first(lambda e: e["event"] == "_eof", start) is not None,
                  timeout, f"'{event}' {match or ''} from {proc}")
        found = proc.first(pred, start)
        if found is None:
            raise AssertionError(f"{proc} ended before '{event}': {proc.stderr_tail()}")
        return found

    def expect_where(self, proc: Proc, pred: Callable[[Event], bool], timeout: float,
                     what: str, start: int = 0) -> Event:
        """The first line ``proc`` printed after ``start`` for which ``pred`` holds."""
        self.wait(lambda: proc.first(pred, start) is not None, timeout, f"{what} from {proc}")
        found = proc.first(pred, start)
        assert found is not None
        return found

    def status(self, procs: Sequence[Proc], timeout: float = 20.0) -> list[Event]:
        """Ask every peer for its status at once; their answers, in order."""
        marks = [p.mark() for p in procs]
        for proc in procs:
            proc.send("status")
        return [self.expect(p, "status", timeout, start=m)
                for p, m in zip(procs, marks, strict=True)]

    def converge(self, procs: Sequence[Proc], timeout: float, what: str = "convergence",
                 items: int | None = None, peers: int | None = None) -> float:
        """Poll until every peer holds the same items (``items`` of them) and, if given,
        has ``peers`` links; returns the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        last: list[Event] = []
        while True:
            last = self.status(procs, timeout=max(5.0, deadline - time.monotonic()))
            same = len({s["digest"] for s in last}) == 1
            counted = items is None or all(s["items"] == items for s in last)
            linked = peers is None or all(s["peers"] == peers for s in last)
            if same and counted and linked:
                return time.monotonic() - started
            if time.monotonic() > deadline:
                table = ", ".join(f"{p.name}: {s['items']} items {s['digest']} "
                                  f"{s['peers']} peers" for p, s in zip(procs, last, strict=True))
                raise AssertionError(f"no {what} within {timeout:.0f} s "
                                     f"(wanted items={items}, peers={peers}): {table}")
            time.sleep(0.1)  # the poll interval; the deadline bounds the wait

    # -- signals ----------------------------------------------------------------------------
    def freeze(self, proc: Proc) -> None:
        proc.popen.send_signal(signal.SIGSTOP)
        proc.frozen = True

    def thaw(self, proc: Proc) -> None:
        proc.popen.send_signal(signal.SIGCONT)
        proc.frozen = False

    def kill(self, proc: Proc) -> None:
        """SIGKILL: no goodbye, no last save."""
        proc.popen.kill()
        proc.popen.wait(10)

    def stop(self, procs: Sequence[Proc], grace: float = 10.0) -> None:
        """End processes cleanly: ``quit`` then end of input, then SIGTERM, then SIGKILL."""
        for proc in procs:
            if proc.frozen:
                self.thaw(proc)
            with contextlib.suppress(OSError, ValueError):
                if proc.alive:
                    proc.send("quit")
                if proc.popen.stdin is not None:
                    proc.popen.stdin.close()
        for sig, wait in ((None, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            alive = [p for p in procs if p.alive]
            if not alive:
                break
            for proc in alive:
                if sig is not None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.popen.send_signal(sig)
            deadline = time.monotonic() + wait
            for proc in alive:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(max(0.01, deadline - time.monotonic()))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop([p for p in self.procs if p.alive], grace=3.0)
        self.net.close()
        for proc in self.procs:
            proc.close_files()

    # -- reading files ----------------------------------------------------------------------
    @staticmethod
    def holdings(path: Path) -> Event:
        """What a session file holds: items, digest, texts (raises SessionFileError)."""
        session = Session(sessionfile.load(path).doc)
        snap = session.snapshot
        return {"items": len(snap.items), "digest": digest(session),
                "texts": {i.text for i in snap.items}, "phase": snap.control.phase.index,
                "ignored": snap.control.ignored,
                "participants": sorted(p.name for p in snap.participants)}

    @staticmethod
    def export_json(path: Path) -> bytes:
        """The JSON export of a session file (what ``cercle export --format json`` writes)."""
        return export.render(Session(sessionfile.load(path).doc).snapshot, "json")

    # -- the failure report -------------------------------------------------------------------
    def describe(self) -> str:
        """Who holds what, for every process of the lab, asked live when possible."""
        rows = [("peer", "host", "state", "items", "digest", "peers", "phase", "from")]
        tails = []
        for proc in self.procs:
            state = ("frozen" if proc.frozen else "running") if proc.alive else \
                f"exited {proc.popen.returncode}"
            is_peer = "tui.cli" in proc.argv
            status: Event | None = None
            source = "-"
            if is_peer and proc.alive and not proc.frozen:
                with contextlib.suppress(Exception):
                    mark = proc.mark()
                    proc.send("status")
                    status = self.expect(proc, "status", 3.0, start=mark)
                    source = "live"
            if is_peer and status is None and proc.last("status") is not None:
                status, source = proc.last("status"), "last answer"
            if is_peer and status is None and proc.file is not None and proc.file.exists():
                try:
                    held = self.holdings(proc.file)
                    status = {**held, "peers": "?"}
                    source = "file"
                except sessionfile.SessionFileError as exc:
                    source = f"file unreadable: {exc.problem}"
            if status is not None:
                rows.append((proc.name, proc.address, state, str(status.get("items", "?")),
                             str(status.get("digest", "?")), str(status.get("peers", "?")),
                             str(status.get("phase", "?")), source))
            else:
                last = proc.events[-1]["event"] if proc.events else "-"
                rows.append((proc.name, proc.address, state, "", "", "", "",
                             f"last line: {last}" if not is_peer else source))
            tail = proc.stderr_tail(4)
            if tail and (not proc.alive and proc.popen.returncode not in (0, None)):
                tails.append(f"--- {proc.name} stderr ---\n{tail}")
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        return "\n".join([*lines, *self.notes, *tails])


def file_matches(lab: Lab, proc: Proc, digest_wanted: str, timeout: float = 10.0) -> Event:
    """Wait until ``proc``'s file on disk holds ``digest_wanted`` (saves trail changes by
    a few tens of ms); returns what the file holds."""
    assert proc.file is not None
    deadline = time.monotonic() + timeout
    held: Event = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(sessionfile.SessionFileError):
            held = Lab.holdings(proc.file)
            if held["digest"] == digest_wanted:
                return held
        time.sleep(0.05)  # the poll interval; the deadline bounds the wait
    raise AssertionError(f"{proc}'s file holds {held.get('items')} items "
                         f"({held.get('digest')}), not {digest_wanted}, after {timeout:.0f} s")


def burst(proc: Proc, lines: Sequence[str], *, chunk: int = 0, gap: float = 0.005) -> None:
    """Send many script lines in one write (the peer works through them as fast as it can).

    With ``chunk``, send them ``chunk`` lines at a time, ``gap`` seconds apart, like
    someone typing fast: the peer saves and sends as they come, not once at the end.
    """
    if not chunk:
        proc.send("\n".join(lines))
        return

    def feed() -> None:  # in the background: the test may kill the peer half-way
        with contextlib.suppress(OSError, ValueError):  # a killed peer's closed stdin
            for start in range(0, len(lines), chunk):
                proc.send("\n".join(lines[start:start + chunk]))
                time.sleep(gap)

    threading.Thread(target=feed, daemon=True, name=f"burst-{proc}").start()
