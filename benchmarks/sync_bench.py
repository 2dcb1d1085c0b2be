"""Sync benchmark: Cercle peers as separate processes on 127.0.0.1, beside automerge.repo.

Every peer is the real command line (``python -m tui.cli host|join --headless
--json --script --watch``), each in its own process with its own
``CERCLE_HOME``. The baseline runs the same workloads on the experimental
``automerge.repo`` (one WebSocket hub that every client connects to, see
``repo_peer.py``), also as processes, in the same run. Everything stays on
the loopback address.

Measured: edit-to-visible-everywhere latency (p50/p99) as the mesh grows,
convergence of a 10-peer burst (100 items each), a late joiner receiving a
3,000-item session written by ten participants (``--fill-by-host``: by its
creator; the joiner is also timed in this process, through ``tui.meeting.join``,
to the moment it holds the session), bytes on the wire per small change
(through a counting TCP relay), what signatures cost (sign and verify one
change, in this process; the bytes a signed head adds) and idle CPU. Every
change is signed by its author and verified, judged and applied by every
peer that takes it. Exits 1 when a target is missed.

    uv run python benchmarks/sync_bench.py [--quick] [--peers 2,10,30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from automerge.core import Document  # noqa: E402

from model import sessionfile  # noqa: E402
from model.binding import apply_changes  # noqa: E402
from model.changes import decode_change  # noqa: E402
from model.keys import Identity, change_message, verify  # noqa: E402
from model.protocols import builtin_protocols  # noqa: E402
from model.session import Session  # noqa: E402
from model.validation import MAX_CHANGE_BYTES, Ledger, WriteRules  # noqa: E402
from sync.wire import Changes, SignedHead, encode_envelope  # noqa: E402

LOOPBACK = "127.0.0.1"  # never any other address
CODE = "271-828"
REPO_PEER = Path(__file__).resolve().parent / "repo_peer.py"
SPAWN_BATCH = 4  # peers started at once: 2 cores, SPAKE2 handshakes are CPU-bound
TEXTS = [
    "Depuis combien de temps es-tu dans ce poste ?",
    "Qu'as-tu déjà essayé ?",
    "Tu pourrais proposer un point hebdomadaire court avec l'équipe.",
    "Planifier un entretien avec Julie avant le 15",
    "Le contrat clair au début a rendu les conseils plus utiles.",
]
KINDS = ["note"]  # what everyone may add in the opening phase (model.rules)

T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def add_line(i: int) -> str:
    return f"add {KINDS[i % len(KINDS)]} {TEXTS[i % len(TEXTS)]} ({i})"


# -- processes ---------------------------------------------------------------------------------
class Proc:
    """One peer process: commands on stdin, JSON lines on stdout (stamped on arrival)."""

    def __init__(self, fleet: Fleet, name: str, argv: list[str], home: Path) -> None:
        self.fleet = fleet
        self.name = name
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.spawned = time.time()
        self._stderr = (home / "stderr.log").open("wb")
        # Without PYTHONDONTWRITEBYTECODE (some containers set it): an installed Cercle runs
        # from compiled bytecode, and compiling it again at every start costs 0.3 s of CPU.
        self.popen = subprocess.Popen(
            argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env={**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
                 "CERCLE_HOME": str(home), "PYTHONUNBUFFERED": "1"},
            start_new_session=True)  # Ctrl-C reaches the benchmark only; it stops the peers
        self.pid = self.popen.pid
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True, name=f"read-{name}").start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            rx = time.time()
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            data["_rx"] = rx
            with self.fleet.cv:
                self.events.append(data)
                self.fleet.cv.notify_all()
        with self.fleet.cv:
            self.events.append({"event": "_eof", "_rx": time.time()})
            self.fleet.cv.notify_all()

    def send(self, text: str) -> None:
        stdin: IO[bytes] | None = self.popen.stdin
        assert stdin is not None
        stdin.write(text.encode() + (b"" if text.endswith("\n") else b"\n"))
        stdin.flush()

    def first(self, pred: Callable[[dict[str, Any]], bool],
              start: int = 0) -> dict[str, Any] | None:
        for event in self.events[start:]:
            if pred(event):
                return event
        return None

    def last(self, name: str) -> dict[str, Any] | None:
        for event in reversed(self.events):
            if event["event"] == name:
                return event
        return None

    def stderr_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.home / "stderr.log").read_text(errors="replace")[-400:]
        return ""

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return times.user + times.system

    def rss_mb(self) -> float:
        return psutil.Process(self.pid).memory_info().rss / 2**20


class Fleet:
    """Every process the benchmark started; closing it ends them all (quit, then kill)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.cv = threading.Condition()
        self.procs: list[Proc] = []
        self._count = 0

    def spawn(self, name: str, argv: Callable[[Path], list[str]]) -> Proc:
        """Start ``argv(home)`` with a fresh ``CERCLE_HOME`` of its own."""
        self._count += 1
        home = self.base / f"{self._count:03d}-{name}"
        proc = Proc(self, name, argv(home), home)
        self.procs.append(proc)
        return proc

    def wait(self, pred: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait until ``pred()`` (checked on every line any process prints)."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
                dead = [p for p in self.procs if p.popen.poll() is not None
                        and p.popen.returncode != 0]
                if dead:
                    raise RuntimeError(f"{dead[0].name} exited ({dead[0].popen.returncode}) "
                                       f"while waiting for {what}: {dead[0].stderr_tail()}")
                self.cv.wait(min(left, 0.5))

    def expect(self, proc: Proc, event: str, timeout: float = 30.0, start: int = 0,
               **match: Any) -> dict[str, Any]:
        def pred(e: dict[str, Any]) -> bool:
            return e["event"] == event and all(e.get(k) == v for k, v in match.items())

        self.wait(lambda: proc.first(pred, start) is not None or
                  proc.first(lambda e: e["event"] == "_eof", start) is not None,
                  timeout, f"'{event}' from {proc.name}")
        found = proc.first(pred, start)
        if found is None:
            raise RuntimeError(f"{proc.name} ended before '{event}': {proc.stderr_tail()}")
        return found

    def status(self, procs: Sequence[Proc], timeout: float = 30.0) -> list[dict[str, Any]]:
        """Ask every process for its status; their answers, in order."""
        marks = [len(p.events) for p in procs]
        for proc in procs:
            proc.send("status")
        return [self.expect(p, "status", timeout, start=m) for p, m in zip(procs, marks,
                                                                            strict=True)]

    def stop(self, procs: Sequence[Proc], grace: float = 5.0) -> None:
        """End processes: EOF on stdin (a clean quit), then SIGTERM, then SIGKILL."""
        for proc in procs:
            with contextlib.suppress(OSError, ValueError):
                if proc.popen.stdin is not None:
                    proc.popen.stdin.close()
        for sig, wait in ((None, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            alive = [p for p in procs if p.popen.poll() is None]
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
        for proc in procs:
            proc._stderr.close()
            if proc in self.procs:
                self.procs.remove(proc)

    def close(self) -> None:
        self.stop(list(self.procs), grace=3.0)


# -- a counting TCP relay ---------------------------------------------------------------------
class Relay:
    """Forwards 127.0.0.1:port to a target port, counting bytes both ways."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.server = socket.create_server((LOOPBACK, 0))
        self.port: int = self.server.getsockname()[1]
        self.lock = threading.Lock()
        self.up = 0  # joiner -> relay -> target
        self.down = 0
        self.last = 0.0
        self.accepted: list[float] = []
        self._socks: list[socket.socket] = [self.server]
        threading.Thread(target=self._accept, daemon=True, name="relay").start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                self.accepted.append(time.time())
            upstream = socket.create_connection((LOOPBACK, self.target))
            for s in (conn, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._socks.append(s)
            threading.Thread(target=self._pump, args=(conn, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, conn, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while data := src.recv(65536):
                with self.lock:
                    if up:
                        self.up += len(data)
                    else:
                        self.down += len(data)
                    self.last = time.monotonic()
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def total(self) -> int:
        with self.lock:
            return self.up + self.down

    def wait_quiet(self, quiet: float = 0.15, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                idle = time.monotonic() - self.last
            if idle >= quiet:
                return
            time.sleep(quiet - idle)

    def close(self) -> None:
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.close()


# -- the two systems under test ---------------------------------------------------------------
@dataclass
class System:
    """How to start one kind of peer; ``peers[0]`` is the host (Cercle) or the hub (baseline)."""

    fleet: Fleet
    label: str
    peers: list[Proc] = field(default_factory=list)
    port: int = 0
    url: str = ""
    # In a burst, a peer quiet this long (s) is asked for its status: a baseline peer whose
    # own items came last says what it holds only then. A Cercle peer stamps every change
    # it holds itself ('changed', 'applied'), and a status costs it a full read of the
    # session (0.1-0.2 s of CPU at 1,000 items, taken from the burst it measures): it is
    # asked only as a fallback.
    status_after: float = 0.3

    def start_first(self, fill: Path | None = None) -> Proc:
        """Start the host (or hub), holding the items of the ``fill`` script if given."""
        raise NotImplementedError

    def spawn_joiner(self, name: str, port: int) -> Proc:
        """Start a peer that joins through ``port`` (the first peer's, or a relay's)."""
        raise NotImplementedError

    def grow(self, n: int) -> None:
        """Start joiners (a few at a time) until there are ``n`` peers, all linked."""
        while len(self.peers) < n:
            batch = [self.spawn_joiner(f"P{len(self.peers) + i + 1}", self.port)
                     for i in range(min(SPAWN_BATCH, n - len(self.peers)))]
            self.peers.extend(batch)
            for proc in batch:
                self.fleet.expect(proc, "synced", timeout=90)
        self.wait_links()

    def wait_links(self) -> None:
        """Wait until every peer is linked to every peer it should be (mesh or star)."""
        raise NotImplementedError

    def stop(self, grace: float = 5.0) -> None:
        self.fleet.stop(self.peers, grace)
        self.peers = []


class Cercle(System):
    def __init__(self, fleet: Fleet, files: bool, writers: int = 0) -> None:
        super().__init__(fleet, "Cercle", status_after=2.0)
        self.files = files
        self.writers = writers  # who wrote the items of a filled session (0: its creator)

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tui.cli", *args, "--headless", "--interface", LOOPBACK,
                "--code", CODE, "--json", "--script", "--watch"]

    def start_first(self, fill: Path | None = None) -> Proc:
        def argv(home: Path) -> list[str]:
            source = ["--title", "T"]
            if fill is not None:
                # A session made beforehand on this laptop (as `cercle new` would): its file,
                # and its creator's key in the host's CERCLE_HOME, so `host --file` hosts it.
                home.mkdir(parents=True, exist_ok=True)
                file = home / "filled.cercle"
                build_session_file(file, fill, home, self.writers)
                source = ["--file", str(file)]
            return self._cli("host", "--no-advertise", *source, "--name", "Host")

        host = self.fleet.spawn("Host", argv)
        ready = self.fleet.expect(host, "ready", timeout=30)
        self.port = ready["port"]
        self.peers = [host]
        return host

    def spawn_joiner(self, name: str, port: int) -> Proc:
        def argv(home: Path) -> list[str]:
            keep = ["--file", str(home / "joined.cercle")] if self.files else []
            return self._cli("join", "--peer", f"{LOOPBACK}:{port}", "--name", name,
                             "--timeout", "90", *keep)

        return self.fleet.spawn(name, argv)

    def wait_links(self) -> None:
        # Joiners pass on each other's addresses, so the mesh fills itself in: wait for it.
        n = len(self.peers)

        def links(proc: Proc) -> int | None:
            last = proc.last("peers")
            return last["count"] if last else None

        self.fleet.wait(lambda: all(links(p) == n - 1 for p in self.peers), 120,
                        f"a full mesh of {n} Cercle peers")


class Baseline(System):
    def __init__(self, fleet: Fleet, poll: float) -> None:
        super().__init__(fleet, "automerge.repo")
        self.poll = poll

    def start_first(self, fill: Path | None = None) -> Proc:
        extra = ["--fill", str(fill)] if fill is not None else []
        hub = self.fleet.spawn("Hub", lambda _home: [
            sys.executable, str(REPO_PEER), "hub", "--name", "Hub", "--poll", str(self.poll),
            *extra])
        ready = self.fleet.expect(hub, "ready", timeout=30)
        self.port, self.url = ready["port"], ready["url"]
        self.peers = [hub]
        return hub

    def spawn_joiner(self, name: str, port: int) -> Proc:
        return self.fleet.spawn(name, lambda _home: [
            sys.executable, str(REPO_PEER), "client", "--server", f"ws://{LOOPBACK}:{port}",
            "--url", self.url, "--name", name, "--poll", str(self.poll)])

    def wait_links(self) -> None:
        n = len(self.peers)
        deadline = time.monotonic() + 60
        while True:
            statuses = self.fleet.status(self.peers)
            if statuses[0]["peers"] == n - 1 and all(s["peers"] == 1 for s in statuses[1:]):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the hub has {statuses[0]['peers']} of {n - 1} clients")
            time.sleep(0.1)


# -- workloads --------------------------------------------------------------------------------
def settle(fleet: Fleet, peers: Sequence[Proc], timeout: float = 60.0) -> int:
    """Wait until every peer holds the same items; returns their number."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = fleet.status(peers)
        if len({(s["items"], s["digest"]) for s in statuses}) == 1:
            return int(statuses[0]["items"])
        if time.monotonic() > deadline:
            counts = sorted({s["items"] for s in statuses})
            raise TimeoutError(f"peers did not converge (item counts {counts})")
        time.sleep(0.1)


def latency(fleet: Fleet, peers: Sequence[Proc], edits: int, warmup: int = 3,
            counter: list[int] | None = None) -> tuple[list[float], int]:
    """Edit-to-visible-everywhere latencies (s): a rotating writer adds one item; the time is
    the latest ``changed`` stamp among the other peers. Returns (latencies, edits lost)."""
    n = len(peers)
    base = settle(fleet, peers)
    counter = counter if counter is not None else [0]
    samples: list[float] = []
    lost = 0
    rng = random.Random(n)
    for i in range(warmup + edits):
        writer = peers[i % n]
        others = [p for p in peers if p is not writer]
        target = base + i + 1
        marks = [len(p.events) for p in others]
        counter[0] += 1
        sent = time.time()
        writer.send(add_line(counter[0]))

        def seen(p: Proc, m: int, target: int = target) -> dict[str, Any] | None:
            return p.first(lambda e: e["event"] == "changed" and e["items"] >= target, m)

        def everywhere(others: list[Proc] = others, marks: list[int] = marks) -> bool:
            return all(seen(p, m) for p, m in zip(others, marks, strict=True))

        try:
            fleet.wait(everywhere, 10.0, f"edit {i} on {n} peers")
        except TimeoutError:
            lost += 1
            log(f"  edit {i} did not reach every peer within 10 s")
            base = settle(fleet, peers) - i - 1
            continue
        latest = max(float((seen(p, m) or {})["t"]) for p, m in zip(others, marks, strict=True))
        if i >= warmup:
            samples.append(latest - sent)
        # Let the mesh's forwarded copies and acknowledgements die down before the next edit
        # (as long again as the edit took to spread, and a little more as the mesh grows).
        time.sleep(0.02 + 0.004 * n + latest - sent + rng.uniform(0, 0.02))
    return samples, lost


@dataclass
class Burst:
    seconds: float | None  # None: not converged before the deadline
    slowest: int  # items held by the slowest peer when it ended
    total: int
    cpu: float | None = None  # CPU seconds per peer (mean) until converged


def burst(fleet: Fleet, peers: Sequence[Proc], per_peer: int, timeout: float,
          status_after: float = 0.3) -> Burst:
    """Every peer adds ``per_peer`` items at once; seconds until all hold all of them
    (with equal digests). A peer quiet for ``status_after`` seconds is asked what it
    holds."""
    base = settle(fleet, peers)
    total = base + per_peer * len(peers)
    scripts = ["".join(add_line(90_000 + j * per_peer + k) + "\n" for k in range(per_peer))
               for j in range(len(peers))]
    marks = [len(p.events) for p in peers]
    cpu = [p.cpu_seconds() for p in peers]
    start = time.time()
    for proc, script in zip(peers, scripts, strict=True):
        proc.send(script)
    reached: dict[int, float] = {}
    asked = 0.0

    def held(j: int) -> int:
        return max((e["items"] for e in peers[j].events[marks[j]:]
                    if e["event"] in ("changed", "applied", "status")), default=base)

    while len(reached) < len(peers):
        if time.time() - start > timeout:
            return Burst(None, min(held(j) for j in range(len(peers))), total)
        for j, proc in enumerate(peers):
            if j in reached:
                continue
            # A Cercle peer stamps what it holds after remote changes ("changed") and after its
            # own script lines ("applied"); a baseline peer whose own items came last only
            # shows it in a status answer (stamped on arrival here, a little late).
            hit = proc.first(lambda e: e["event"] in ("changed", "applied")
                             and e["items"] >= total, marks[j])
            if hit is not None:
                reached[j] = hit["t"]
                continue
            hit = proc.first(lambda e: e["event"] == "status" and e["items"] >= total, marks[j])
            if hit is not None:
                reached[j] = hit["_rx"]
        if len(reached) < len(peers) and time.time() - asked > 0.5:
            asked = time.time()  # answers queue behind the peer's own adds
            for j, proc in enumerate(peers):
                # Ask only a peer gone quiet: a status costs it a full read of the session,
                # and a peer still receiving says what it holds by itself.
                if j not in reached and \
                        asked - proc.events[-1].get("_rx", 0.0) > status_after:
                    proc.send("status")
        with fleet.cv:
            fleet.cv.wait(0.05)
    elapsed = max(reached.values()) - start
    used = statistics.mean(p.cpu_seconds() - c for p, c in zip(peers, cpu, strict=True))
    final = settle(fleet, peers)
    if final != total:
        raise RuntimeError(f"burst: expected {total} items, peers hold {final}")
    return Burst(elapsed, total, total, used)


def burst_floor(peers: int, per_peer: int) -> float:
    """CPU seconds one peer of the burst cannot do without, measured in this process.

    Add its own items as one change (what the headless peer makes of a script's run of
    ``add`` lines) and sign it; take everyone else's the way ``sync.core`` does — each
    change decoded, its author's signature verified, the write rules and the limits
    judged — and apply them in one batch (the cheapest way Automerge applies them,
    ``model.binding.apply_changes``): no network, no encryption, no saving, no events,
    and no reading of the items into a snapshot (the headless peers of this benchmark
    show nothing; the app would read them too). Times the peers, divided by the cores,
    it is how soon the burst could converge on this machine at the very best.
    """
    host = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Host",
                          identity=Identity.generate())
    info = host.snapshot.info
    start, data = host.doc.get_heads(), host.doc.save()
    pushed: list[tuple[bytes, SignedHead]] = []
    for j in range(1, peers):
        other = Session(Document.load(data), identity=Identity.generate())
        other.add_items([(KINDS[i % len(KINDS)], f"{TEXTS[i % len(TEXTS)]} ({i})")
                         for i in range(j * per_peer, (j + 1) * per_peer)])
        for change in other.doc.get_changes(start):
            if change.actor_id == other.actor:
                pushed.append((change.bytes, SignedHead(other.actor, change.hash,
                               other.identity.sign(change_message(info.id, change.hash)))))
    me = Session(Document.load(data), identity=Identity.generate())
    rules = WriteRules.of(me.doc, info.creator_key)
    ledger = Ledger.of(me.doc, rules)
    assert not me.snapshot.items
    began = time.process_time()
    me.add_items([(KINDS[k % len(KINDS)], f"{TEXTS[k % len(TEXTS)]} ({k})")
                  for k in range(per_peer)])
    mine = me.doc.get_last_local_change()
    assert mine is not None
    me.identity.sign(change_message(info.id, mine.hash))
    entries = []
    for raw, head in pushed:
        change = decode_change(raw, max_size=MAX_CHANGE_BYTES)
        if not (head.hash == change.hash and
                verify(head.actor, head.sig, change_message(info.id, head.hash))):
            raise RuntimeError("a signature does not verify")
        entries.append((change, rules.check(change)))
    accepted, refused = ledger.judge(entries)
    assert not refused
    # The binding's apply alone: ``Session.apply_changes`` then lists what it applied
    # (``Document.get_changes``), work a peer could skip.
    apply_changes(me.doc, [change.data for change in accepted])
    used = time.process_time() - began
    assert me.item_count() == peers * per_peer
    return used


def signature_costs(rounds: int = 2000) -> tuple[float, float, int]:
    """Microseconds to sign and to verify one change's signature (Ed25519, this process),
    and the bytes a signed head adds to a pushed change."""
    identity = Identity.generate()
    messages = [change_message("0" * 32, os.urandom(32)) for _ in range(rounds)]
    began = time.perf_counter()
    signatures = [identity.sign(m) for m in messages]
    sign = (time.perf_counter() - began) / rounds
    began = time.perf_counter()
    ok = all(verify(identity.actor, sig, m) for sig, m in zip(signatures, messages, strict=True))
    checked = (time.perf_counter() - began) / rounds
    assert ok
    head = SignedHead(identity.actor, messages[0][-32:], signatures[0])
    added = len(encode_envelope(Changes(changes=[b"x" * 300], heads=[head]))) - \
        len(encode_envelope(Changes(changes=[b"x" * 300])))
    return sign * 1e6, checked * 1e6, added


def idle_cpu(peers: Sequence[Proc], seconds: float) -> list[float]:
    """Per-process CPU use over ``seconds`` of nothing happening, in percent of one core."""
    time.sleep(1.0)  # let the last acknowledgements and saves finish
    before = [p.cpu_seconds() for p in peers]
    time.sleep(seconds)
    after = [p.cpu_seconds() for p in peers]
    return [(b - a) / seconds * 100 for a, b in zip(before, after, strict=True)]


@dataclass
class LateJoin:
    startup: list[float] = field(default_factory=list)  # spawn -> TCP connection
    transfer: list[float] = field(default_factory=list)  # TCP connection -> all items here
    synced_line: list[float] = field(default_factory=list)  # TCP connection -> 'synced'
    wire: list[int] = field(default_factory=list)  # bytes through the relay for the join
    change_bytes: list[int] = field(default_factory=list)
    # Cercle: a joiner in this process (tui.meeting.join, as the app and the headless peer
    # join), from dialling to holding the session (its first DocumentChanged), and to
    # join() returning (what the app waits for before it shows the session). The
    # headless joiner prints nothing before its 'synced' line, which comes after two
    # quiet periods of 0.3 s. For the baseline, ``held`` is ``transfer``.
    held: list[float] = field(default_factory=list)
    returned: list[float] = field(default_factory=list)


def late_join(system: System, fill: Path, items: int, repeats: int, changes: int) -> LateJoin:
    """A new peer joins a session of ``items`` items through a counting relay (``repeats``
    times, one joiner after the other); then ``changes`` small items cross that one link,
    alternately from each side."""
    fleet = system.fleet
    result = LateJoin()
    first = system.start_first(fill)
    joiner: Proc | None = None
    relay: Relay | None = None
    try:
        for r in range(repeats):
            if joiner is not None:
                fleet.stop([joiner])
                system.peers.remove(joiner)
            if relay is not None:
                relay.close()
            relay = Relay(system.port)
            spawned = time.time()
            joiner = system.spawn_joiner(f"Late{r + 1}", relay.port)
            system.peers.append(joiner)
            synced = fleet.expect(joiner, "synced", timeout=90)
            complete = synced
            while complete["items"] < items:  # the 'changed' line stamped when all are here
                mark = joiner.events.index(complete) + 1
                complete = fleet.expect(joiner, "changed", timeout=30, start=mark)
            if complete is synced:  # 'synced' came last: find the first line with them all
                complete = joiner.first(lambda e: e["event"] == "changed" and
                                        e["items"] >= items) or synced
            connected = relay.accepted[0]
            result.startup.append(connected - spawned)
            result.transfer.append(complete.get("t", complete["_rx"]) - connected)
            result.synced_line.append(synced["_rx"] - connected)
            relay.wait_quiet(0.3, 3.0)
            result.wire.append(relay.total())
        assert joiner is not None and relay is not None
        if isinstance(system, Cercle):
            for r in range(repeats):
                held, returned = join_in_process(system.port, items, fleet.base / f"here{r}")
                result.held.append(held)
                result.returned.append(returned)
        else:
            result.held = list(result.transfer)
        settle(fleet, [first, joiner])
        for c in range(changes):
            writer, reader = (first, joiner) if c % 2 == 0 else (joiner, first)
            relay.wait_quiet(0.2, 3.0)
            before = relay.total()
            mark = len(reader.events)
            writer.send(add_line(50_000 + c))
            fleet.expect(reader, "changed", timeout=10, start=mark)
            relay.wait_quiet(0.2, 3.0)
            result.change_bytes.append(relay.total() - before)
    finally:
        if relay is not None:
            relay.close()
        system.stop()
    return result


def join_in_process(port: int, items: int, home: Path) -> tuple[float, float]:
    """A newcomer joins the session at ``port`` from this process, as the app and the
    headless peer do (``tui.meeting.join``); seconds from dialling until it holds the
    session (the node's first ``DocumentChanged``) and until ``join()`` returns. Nothing
    is kept for next time; ``home`` is its ``CERCLE_HOME`` meanwhile."""
    from sync.events import DocumentChanged
    from tui.meeting import Target, join

    async def once() -> tuple[float, float]:
        held: list[float] = []

        def on_event(event: object) -> None:
            if isinstance(event, DocumentChanged) and not held:
                held.append(time.perf_counter())

        start = time.perf_counter()
        meeting = await join(Target((LOOPBACK,), port), name="Here", code=CODE,
                             interface=LOOPBACK, remember=False, keep_file=False,
                             on_event=on_event, timeout=60)
        returned = time.perf_counter()
        try:
            if meeting.session.item_count() < items or not held:
                raise RuntimeError(f"the joiner holds {meeting.session.item_count()} items")
        finally:
            await meeting.close()
        return held[0] - start, returned - start

    saved = os.environ.get("CERCLE_HOME")
    os.environ["CERCLE_HOME"] = str(home)
    try:
        return asyncio.run(once())
    finally:
        if saved is None:
            del os.environ["CERCLE_HOME"]
        else:
            os.environ["CERCLE_HOME"] = saved


def build_session_file(path: Path, script: Path, home: Path, writers: int) -> None:
    """A session holding the script's ``add`` lines, and its creator's key kept in ``home``
    (a ``CERCLE_HOME``), as ``cercle new`` keeps it.

    The items are written by ``writers`` participants the creator admitted, in turn, one
    change each, as people type them (what a joiner's ``Ledger`` reads change by change);
    with ``writers`` 0, by the creator (whose changes the ledger does not decode). One
    ``Session.add_item`` each: what the script would do, without rewriting and fsyncing
    the whole file after every item."""
    session = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Host",
                             identity=Identity.generate())
    lines = [rest.partition(" ") for word, _, rest in
             (line.partition(" ") for line in script.read_text(encoding="utf-8").splitlines())
             if word == "add"]
    if writers:
        start, data = session.doc.get_heads(), session.doc.save()
        people = [Session(Document.load(data), identity=Identity.generate())
                  for _ in range(writers)]
        for n, person in enumerate(people):
            person.join(f"Participant {n + 1}", session.admission_for(person.actor))
        for i, (kind, _, text) in enumerate(lines):
            people[i % writers].add_item(kind, text)
        session.apply_changes([c for person in people
                               for c in person.changes_since(start, mine=True)])
        assert session.item_count() == len(lines)
    else:
        for kind, _, text in lines:
            session.add_item(kind, text)
    sessionfile.save(path, session.doc)
    remember_key(home, session, path)


def remember_key(home: Path, session: Session, path: Path) -> None:
    """Keep ``session``'s key (and its file) in the ``CERCLE_HOME`` ``home``."""
    from tui import identity

    saved = os.environ.get("CERCLE_HOME")
    os.environ["CERCLE_HOME"] = str(home)
    try:
        identity.remember(session.snapshot.info.id, session.identity, path.resolve())
    finally:
        if saved is None:
            del os.environ["CERCLE_HOME"]
        else:
            os.environ["CERCLE_HOME"] = saved


# -- report -----------------------------------------------------------------------------------
def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank, as latency reports usually mean it)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Row:
    name: str
    value: float | None  # Cercle
    unit: str
    target: float | None = None
    baseline: float | None = None
    note: str = ""  # printed under the row
    fmt: str = "{:.1f}"
    text: str = ""  # shown instead of a missing Cercle value
    base_text: str = ""  # shown instead of a missing baseline value
    failed: bool = False  # the measure could not complete: the target is missed

    def show(self, v: float | None, instead: str = "") -> str:
        if v is None:
            return instead or "n/a"
        return f"{self.fmt.format(v)} {self.unit}".strip()

    @property
    def ok(self) -> bool | None:
        if self.failed:
            return False
        if self.target is None or self.value is None:
            return None
        return self.value <= self.target


def print_table(rows: list[Row], header: str) -> None:
    print(f"\n{header}\n")
    print(f"{'measure':<40}{'Cercle':>12}  {'target':<10}{'automerge.repo':>15}  "
          f"{'ratio':>7}  ok")
    print("-" * 93)
    for row in rows:
        target = f"≤ {row.show(row.target)}" if row.target is not None else ""
        base = row.show(row.baseline, row.base_text)
        ratio = (f"×{row.value / row.baseline:.2f}" if row.value is not None and
                 row.baseline else "")
        ok = {None: "", True: "yes", False: "NO"}[row.ok]
        print(f"{row.name:<40}{row.show(row.value, row.text):>12}  {target:<10}{base:>15}  "
              f"{ratio:>7}  {ok}")
        if row.note:
            print(f"{'':<4}↳ {row.note}")


# -- main -------------------------------------------------------------------------------------
@dataclass
class Config:
    peers: list[int]
    edits: int
    burst_peers: int = 10
    burst_items: int = 100
    small_burst: int = 10
    burst_timeout: float = 30.0
    late_items: int = 3000
    late_repeats: int = 3
    changes: int = 10
    idle_seconds: float = 5.0
    big_burst: bool = True
    poll: float = 0.01
    files: bool = True
    writers: int = 10  # participants who wrote the late joiner's session (0: the creator)


def run_mesh(system: System, cfg: Config, baseline: bool) -> tuple[dict[str, Any], Burst]:
    """Grow one mesh through the peer counts: latency at each; at ``burst_peers``, idle CPU
    and then a small burst (one that converges)."""
    fleet = system.fleet
    out: dict[str, Any] = {"latency": {}, "lost": {}, "rss": {}}
    small = Burst(None, 0, 0)
    counts = sorted(set(cfg.peers) | {cfg.burst_peers})
    counter = [0]
    system.start_first()
    try:
        for n in counts:
            log(f"{system.label}: starting peers up to {n}…")
            started = time.monotonic()
            system.grow(n)
            log(f"{system.label}: {n} peers linked in {time.monotonic() - started:.1f} s")
            out["rss"][n] = statistics.mean(p.rss_mb() for p in system.peers)
            if n in cfg.peers:
                log(f"{system.label}: latency, {cfg.edits} edits on {n} peers…")
                samples, lost = latency(fleet, system.peers, cfg.edits, counter=counter)
                out["latency"][n], out["lost"][n] = samples, lost
                if samples:
                    log(f"  p50 {pct(samples, 50) * 1000:.1f} ms, p99 "
                        f"{pct(samples, 99) * 1000:.1f} ms, lost {lost}")
            if n == cfg.burst_peers:
                log(f"{system.label}: idle CPU over {cfg.idle_seconds:.0f} s, {n} peers…")
                if baseline:
                    for p in system.peers:
                        p.send("watch off")  # measure the Repo, not the benchmark's polling
                out["idle"] = idle_cpu(system.peers, cfg.idle_seconds)
                if baseline:
                    for p in system.peers:
                        p.send("watch on")
                log(f"  mean {statistics.mean(out['idle']):.2f} %, max {max(out['idle']):.2f} %")
                small = run_burst(system, cfg.small_burst, cfg.burst_timeout)
    finally:
        system.stop()
    return out, small


def run_burst(system: System, per: int, timeout: float) -> Burst:
    log(f"{system.label}: burst, {len(system.peers)} peers × {per} items at once…")
    result = burst(system.fleet, system.peers, per, timeout, system.status_after)
    if result.seconds is not None:
        log(f"  converged in {result.seconds * 1000:.0f} ms")
    else:
        log(f"  not converged after {timeout:.0f} s "
            f"(slowest peer: {result.slowest}/{result.total} items)")
    return result


def run_big_burst(system: System, cfg: Config) -> Burst:
    """The target's burst, on a fresh mesh (it may still be busy when the deadline comes)."""
    system.start_first()
    try:
        system.grow(cfg.burst_peers)
        return run_burst(system, cfg.burst_items, cfg.burst_timeout)
    finally:
        system.stop(grace=0.5)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: fewer edits, 2 and 10 peers (under a minute)")
    parser.add_argument("--peers", help="peer counts for the latency runs (default 2,10,30; "
                                        "2,10 with --quick)")
    parser.add_argument("--edits", type=int, help="edits per latency run (default 50; 10 quick)")
    parser.add_argument("--no-files", action="store_true",
                        help="joiners keep no session file (only the host saves)")
    parser.add_argument("--poll", type=float, default=0.01,
                        help="baseline peers look for remote changes this often (s)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--fill-by-host", action="store_true",
                        help="the late joiner's session: items written by its creator (as "
                             "before signatures), not by ten participants")
    args = parser.parse_args(argv)

    peers = [int(x) for x in (args.peers or ("2,10" if args.quick else "2,10,30")).split(",")]
    if any(n < 2 for n in peers):
        parser.error("--peers: each count must be at least 2")
    cfg = Config(peers=sorted(set(peers)), edits=args.edits or (10 if args.quick else 50),
                 poll=args.poll, files=not args.no_files,
                 writers=0 if args.fill_by_host else 10)
    if args.quick:
        cfg.late_repeats, cfg.changes, cfg.idle_seconds = 1, 4, 3.0
        cfg.big_burst = False

    def on_term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cercle-bench-") as tmp:
        fleet = Fleet(Path(tmp))
        try:
            cercle, base = run_all(fleet, cfg, Path(tmp), args.skip_baseline)
        except KeyboardInterrupt:
            log("interrupted: stopping every peer")
            return 130
        finally:
            fleet.close()
    rows = make_rows(cfg, cercle, base)
    print_table(rows, header(cfg, (load_before, os.getloadavg()[0])))
    missed = [r.name for r in rows if r.ok is False]
    if missed:
        print(f"\ntargets missed: {', '.join(missed)}")
        return 1
    return 0


@dataclass
class Results:
    mesh: dict[str, Any]
    bursts: dict[int, Burst]
    late: LateJoin
    floor: float | None = None  # CPU seconds of one burst peer's unavoidable work
    signing: tuple[float, float, int] | None = None  # sign µs, verify µs, bytes per head


def run_all(fleet: Fleet, cfg: Config, tmp: Path,
            skip_baseline: bool) -> tuple[Results, Results | None]:
    fill = tmp / f"fill-{cfg.late_items}.txt"
    fill.write_text("".join(add_line(k) + "\n" for k in range(cfg.late_items)),
                    encoding="utf-8")
    log("signatures: sign and verify, in this process…")
    signing = signature_costs()
    floor = None
    if cfg.big_burst:  # first, while the machine is quiet
        log("burst floor: one peer's own work, in this process ×3…")
        floor = min(burst_floor(cfg.burst_peers, cfg.burst_items) for _ in range(3))
        log(f"  {floor * 1000:.0f} ms of CPU")
    results: list[Results] = []
    systems: list[Callable[[], System]] = [lambda: Cercle(fleet, cfg.files, cfg.writers)]
    if not skip_baseline:
        systems.append(lambda: Baseline(fleet, cfg.poll))
    for make in systems:
        mesh, small = run_mesh(make(), cfg, baseline=bool(results))
        bursts = {cfg.small_burst: small}
        if cfg.big_burst:
            bursts[cfg.burst_items] = run_big_burst(make(), cfg)
        label = make().label
        log(f"{label}: late join of {cfg.late_items} items ×{cfg.late_repeats}, then "
            f"{cfg.changes} small changes, through a relay…")
        late = late_join(make(), fill, cfg.late_items, cfg.late_repeats, cfg.changes)
        log(f"  holds it after {statistics.median(late.held) * 1000:.0f} ms, 'synced' line "
            f"{statistics.median(late.synced_line) * 1000:.0f} ms, "
            f"start-up {statistics.median(late.startup) * 1000:.0f} ms")
        results.append(Results(mesh, bursts, late, floor if not results else None,
                               signing if not results else None))
    return results[0], (results[1] if len(results) > 1 else None)


def header(cfg: Config, loads: tuple[float, float]) -> str:
    files = "every peer keeps its session file" if cfg.files else "only the host keeps a file"
    return (f"sync benchmark — separate processes on {LOOPBACK}, {os.cpu_count()} cores "
            f"(load average {loads[0]:.1f} before, {loads[1]:.1f} after), {cfg.edits} edits "
            f"per latency run; {files}\n"
            f"baseline: automerge.repo 0.2.0.dev4 over WebSocket, one hub, clients poll "
            f"for remote changes every {cfg.poll * 1000:.0f} ms (included in its latency)")


def make_rows(cfg: Config, cercle: Results, base: Results | None) -> list[Row]:
    rows: list[Row] = []
    ms = 1000.0
    mesh, bmesh = cercle.mesh, base.mesh if base else {}
    skipped = "skipped" if base is None else ""
    for n in cfg.peers:
        samples = mesh["latency"].get(n, [])
        bsamples = bmesh.get("latency", {}).get(n)
        why = skipped or ("" if bsamples else "not measured")
        lost = mesh["lost"].get(n, 0)
        target = {10: 20.0, 30: 100.0}.get(n)
        for q in (50, 99):
            rows.append(Row(
                f"edit→visible everywhere p{q}, {n} peers",
                pct(samples, q) * ms if samples else None, "ms",
                target=target if q == 99 else None,
                baseline=pct(bsamples, q) * ms if bsamples else None, base_text=why,
                note=f"{lost} edit(s) not seen everywhere within 10 s" if lost and q == 99
                else ""))
    for per in (cfg.small_burst, cfg.burst_items):
        got, bgot = cercle.bursts.get(per), base.bursts.get(per) if base else None

        def cut(b: Burst | None) -> str:
            if b is None:
                return skipped or ("not run" if cfg.big_burst else "(--quick)")
            return f"> {cfg.burst_timeout:.0f} s" if b.seconds is None else ""

        notes = [f"{who}: not converged after {cfg.burst_timeout:.0f} s, slowest peer held "
                 f"{b.slowest}/{b.total} items"
                 for who, b in (("Cercle", got), ("baseline", bgot))
                 if b is not None and b.seconds is None]
        is_target = per == cfg.burst_items
        rows.append(Row(
            f"burst {cfg.burst_peers}×{per} items → digests equal",
            got.seconds * ms if got and got.seconds is not None else None, "ms",
            target=1000.0 if is_target else None,
            baseline=bgot.seconds * ms if bgot and bgot.seconds is not None else None,
            text=cut(got), base_text=cut(bgot), fmt="{:.0f}", note="; ".join(notes),
            failed=is_target and cfg.big_burst and (got is None or got.seconds is None)))
        if is_target and got is not None and got.cpu is not None:
            rows.append(Row("  CPU per peer until converged (mean)", got.cpu * ms, "ms",
                            fmt="{:.0f}"))
    if cercle.floor is not None:
        cores = os.cpu_count() or 1
        rows.append(Row(
            f"  floor: one peer's own work ×{cfg.burst_peers} ÷ {cores} cores",
            cercle.floor * cfg.burst_peers / cores * ms, "ms", fmt="{:.0f}",
            note=f"one peer adding its {cfg.burst_items} items (one change, signed) and "
                 f"taking the other {(cfg.burst_peers - 1) * cfg.burst_items} at once "
                 "(decoded, verified, judged, applied): "
                 f"{cercle.floor * ms:.0f} ms of CPU, measured in this process; nothing "
                 "converges sooner on this machine"))
    def late(attr: str, name: str, unit: str, scale: float, **extra: Any) -> Row:
        def median(result: LateJoin | None) -> float | None:
            values = getattr(result, attr) if result else None
            return statistics.median(values) * scale if values else None

        extra.setdefault("base_text", skipped)
        return Row(name, median(cercle.late), unit, baseline=median(base.late if base else None),
                   fmt="{:.0f}", **extra)

    written = (f"written by {cfg.writers} participants" if cfg.writers
               else "written by its creator")
    rows += [
        late("held", f"late joiner holds {cfg.late_items} items (connect→here)", "ms", ms,
             target=500.0,
             note=f"items {written}; Cercle: a joiner in the benchmark's process "
                  "(tui.meeting.join), dial→first DocumentChanged; the baseline: "
                  "its process's first line holding them all"),
        late("returned", "  dial→join() returns (app shows it)", "ms", ms,
             base_text=skipped or "—"),
        late("startup", "  joiner start-up (spawn→connect)", "ms", ms),
        late("synced_line", "  connect→'synced' line", "ms", ms,
             note="Cercle's headless joiner prints nothing before 'synced', which waits for "
                  "0.3 s without traffic twice (before and after joining); the baseline "
                  "prints it as soon as find() has the document"),
        late("wire", "  bytes on the wire for the join", "KB", 1e-3),
        late("change_bytes", "bytes on the wire per small change", "B", 1.0,
             note=f"both directions, one link, median of {len(cercle.late.change_bytes)} "
                  "changes; 438 B before signatures (README); Automerge's sync alone: "
                  "2 messages, ~248 B"),
    ]
    if cercle.signing is not None:
        sign_us, verify_us, head_bytes = cercle.signing
        rows += [
            Row("  sign one change (in process)", sign_us, "µs", fmt="{:.0f}", base_text="—",
                note="Ed25519 (cryptography); the author signs each change once"),
            Row("  verify one change's signature", verify_us, "µs", fmt="{:.0f}",
                base_text="—", note="every peer verifies every change it takes"),
            Row("  bytes a signed head adds to a push", head_bytes, "B", fmt="{:.0f}",
                base_text="—",
                note="key 32 + hash 32 + signature 64 + msgpack framing; encrypted alike"),
        ]
    idle, bidle = mesh.get("idle"), bmesh.get("idle")
    rows += [
        Row(f"idle CPU per peer, {cfg.burst_peers} peers (mean)",
            statistics.mean(idle) if idle else None, "%",
            baseline=statistics.mean(bidle) if bidle else None, fmt="{:.2f}",
            base_text=skipped),
        Row(f"idle CPU per peer, {cfg.burst_peers} peers (max)", max(idle) if idle else None,
            "%", target=1.0, baseline=max(bidle) if bidle else None, fmt="{:.2f}",
            base_text=skipped, note="of one core; the baseline with its change polling off"),
    ]
    top, btop = max(mesh["rss"]), max(bmesh.get("rss", {}) or [0])
    rows.append(Row(f"memory per peer (RSS), {top} peers", mesh["rss"][top], "MB",
                    baseline=bmesh["rss"].get(top) if bmesh else None, fmt="{:.0f}",
                    base_text=skipped or f"{bmesh['rss'][btop]:.0f} MB at {btop}"))
    return rows


if __name__ == "__main__":
    sys.exit(main())
