"""The headless peers end to end, as separate processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from model import sessionfile
from model.session import Session

ROOT = Path(__file__).parents[2]
CODE = "271-828"


class Proc:
    """A cercle process speaking JSON lines."""

    def __init__(self, args: list[str], home: Path, stdin: bool = False) -> None:
        env = {**os.environ, "CERCLE_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
        self.lines: list[dict[str, Any]] = []

    def expect(self, event: str, timeout: float = 15.0, **match: Any) -> dict[str, Any]:
        """Read JSON lines until one is ``event`` (with ``match``'s values)."""
        assert self.popen.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.popen.stdout.readline()
            if not line:
                raise AssertionError(f"process ended before '{event}': "
                                     f"{self.popen.stderr.read() if self.popen.stderr else ''}")
            data = json.loads(line)
            self.lines.append(data)
            if data["event"] == event and all(data.get(k) == v for k, v in match.items()):
                return data
        raise AssertionError(f"no '{event}' within {timeout}s; saw {self.lines}")

    def send(self, line: str) -> None:
        stdin: IO[str] | None = self.popen.stdin
        assert stdin is not None
        stdin.write(line + "\n")
        stdin.flush()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        return self.popen.wait(timeout=15)


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in started:
        if proc.popen.poll() is None:
            proc.popen.kill()
            proc.popen.wait()


def host(home: Path, procs: list[Proc], *extra: str) -> tuple[Proc, dict[str, Any]]:
    proc = Proc(["host", "--headless", "--no-advertise", "--interface", "127.0.0.1", "--json",
                 "--code", CODE, "--name", "Anne", "--script", *extra], home, stdin=True)
    procs.append(proc)
    return proc, proc.expect("ready")


def join(home: Path, port: int, *extra: str, code: str = CODE, name: str = "Bob",
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CERCLE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "join", "--headless", "--peer", f"127.0.0.1:{port}",
         "--code", code, "--name", name, "--interface", "127.0.0.1", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def items_in(path: Path) -> set[str]:
    return {i.text for i in Session(sessionfile.load(path).doc).snapshot.items}


def test_join_until_synced_gets_everything(tmp_path: Path, procs: list[Proc]) -> None:
    anne, ready = host(tmp_path / "anne", procs, "--title", "Atelier")
    anne.send("add note Qui décide ?")
    anne.send("status")
    anne.expect("status", items=1)
    out = join(tmp_path / "bob", ready["port"], "--until-synced", "--file",
               str(tmp_path / "bob.cercle"))
    assert out.returncode == 0, out.stderr
    assert "joined “Atelier”: 1 items" in out.stdout
    assert items_in(tmp_path / "bob.cercle") == {"Qui décide ?"}
    anne.expect("peers", count=0)  # Bob left cleanly
    assert anne.stop() == 0
    saved = Session(sessionfile.load(ready["file"]).doc).snapshot
    assert [p.name for p in saved.participants] == ["Anne", "Bob"]


def test_wrong_code_and_unreachable_peer(tmp_path: Path, procs: list[Proc]) -> None:
    anne, ready = host(tmp_path / "anne", procs, "--title", "Atelier")
    wrong = join(tmp_path / "eve", ready["port"], "--until-synced", "--file",
                 str(tmp_path / "eve.cercle"), code="999-999")
    assert wrong.returncode == 1
    assert wrong.stderr.strip().splitlines()[-1].startswith("cercle: error: wrong join code")
    assert not (tmp_path / "eve.cercle").exists()
    anne.expect("auth-failure", address="127.0.0.1", failures=1)
    nobody = join(tmp_path / "bob", 1, "--until-synced", "--timeout", "2", "--file",
                  str(tmp_path / "bob.cercle"))
    assert nobody.returncode == 1
    assert "cannot reach the session at 127.0.0.1:1" in nobody.stderr
    assert not (tmp_path / "bob.cercle").exists()


def test_bad_usage(tmp_path: Path) -> None:
    env = {**os.environ, "CERCLE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "tui.cli", "join", "--headless", "--name", "B"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "--peer" in out.stderr
    out = subprocess.run([sys.executable, "-m", "tui.cli", "host", "--headless", "--title",
                          "T", "--code", "12"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 1 and "at least 6" in out.stderr


def test_sigterm_saves_and_exits_cleanly(tmp_path: Path, procs: list[Proc]) -> None:
    anne, ready = host(tmp_path / "anne", procs, "--title", "Atelier")
    for i in range(20):
        anne.send(f"add note note {i}")
    anne.send("status")
    anne.expect("status", items=20)
    assert anne.stop(signal.SIGTERM) == 0
    assert len(items_in(Path(ready["file"]))) == 20


def test_peer_killed_and_restarted_from_its_file(tmp_path: Path, procs: list[Proc]) -> None:
    anne, ready = host(tmp_path / "anne", procs, "--title", "Atelier")
    bob_file = tmp_path / "bob.cercle"
    args = ["join", "--headless", "--peer", f"127.0.0.1:{ready['port']}", "--code", CODE,
            "--name", "Bob", "--interface", "127.0.0.1", "--json", "--script", "--file",
            str(bob_file)]
    bob = Proc(args, tmp_path / "bob", stdin=True)
    procs.append(bob)
    bob.expect("synced")
    for i in range(30):
        bob.send(f"add note conseil {i}")  # the exposé takes notes
    bob.send("status")
    bob.expect("status", items=30)
    anne.send("status")
    bob.popen.kill()  # no goodbye, no final save
    bob.popen.wait()
    saved = items_in(bob_file)  # the file always loads after a kill
    assert len(saved) == 30  # each change was saved before it was sent
    # Anne keeps going while Bob is away; Bob comes back from his file.
    anne.send("add note pendant l'absence")
    bob = Proc(args, tmp_path / "bob", stdin=True)
    procs.append(bob)
    synced = bob.expect("synced")
    assert synced["items"] == 31
    anne.send("status")
    status = anne.expect("status", items=31)
    bob.send("status")
    assert bob.expect("status")["digest"] == status["digest"]
    snap = Session(sessionfile.load(bob_file).doc).snapshot
    assert [p.name for p in snap.participants] == ["Anne", "Bob"]  # same Bob, same actor


def test_quitting_right_after_edits_loses_none(tmp_path: Path, procs: list[Proc]) -> None:
    anne, ready = host(tmp_path / "anne", procs, "--title", "Atelier")
    bob = Proc(["join", "--headless", "--peer", f"127.0.0.1:{ready['port']}", "--code", CODE,
                "--name", "Bob", "--interface", "127.0.0.1", "--json", "--script"],
               tmp_path / "bob", stdin=True)
    procs.append(bob)
    bob.expect("synced")
    for i in range(20):
        bob.send(f"add note dernière minute {i}")
    bob.send("quit")  # no status, no pause: the last batch must still leave
    assert bob.popen.wait(timeout=15) == 0
    anne.send("status")
    assert anne.expect("status")["items"] == 20


def test_host_tells_about_junk_connections(tmp_path: Path, procs: list[Proc]) -> None:
    import socket

    anne, ready = host(tmp_path / "anne", procs, "--title", "Atelier")
    with socket.create_connection(("127.0.0.1", ready["port"]), timeout=10) as sock:
        sock.sendall(b"\xff\xff\xff\xff" + bytes(64))
        event = anne.expect("handshake-failed")
    assert event["address"] == "127.0.0.1" and "byte frame" in event["reason"]
    anne.send("status")
    assert anne.expect("status")["items"] == 0


def test_facilitator_killed_and_restarted_is_rejoined_by_its_peers(tmp_path: Path,
                                                                   procs: list[Proc]) -> None:
    import socket

    with socket.socket() as probe:  # a free port, kept across the restart
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    anne, ready = host(tmp_path / "anne", procs, "--title", "Atelier", "--port", str(port))
    bob_args = ["join", "--headless", "--peer", f"127.0.0.1:{port}", "--code", CODE, "--name",
                "Bob", "--interface", "127.0.0.1", "--json", "--script", "--file",
                str(tmp_path / "bob.cercle")]
    bob = Proc(bob_args, tmp_path / "bob", stdin=True)
    procs.append(bob)
    bob.expect("synced")
    anne.popen.kill()  # the facilitator's laptop crashes
    anne.popen.wait()
    again = Proc(["host", "--headless", "--no-advertise", "--interface", "127.0.0.1", "--json",
                  "--code", CODE, "--name", "Anne", "--script", "--file", ready["file"],
                  "--port", str(port)], tmp_path / "anne", stdin=True)
    procs.append(again)
    assert again.expect("ready")["tag"] == ready["tag"]  # the same session to everyone
    again.send("add note Où en étions-nous ?")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # Bob's node reconnects by itself
        bob.send("status")
        if bob.expect("status")["items"] == 1:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("Bob never got the restarted facilitator's item")


async def test_a_run_of_script_adds_is_one_change_and_a_bad_line_is_said() -> None:
    """Lines that arrive together: consecutive adds become one change, in order; a bad one
    (an unknown kind, a kind the phase does not take) is said and skipped; other commands
    keep their place between them."""
    from tests.sync.mesh import host_node
    from tui.headless import _run_commands
    from tui.meeting import Meeting

    node, _, _ = host_node(any_kind=False)  # codev: the exposé takes notes
    assert node.session is not None
    meeting = Meeting(node.session, node, None)
    said: list[tuple[str, dict[str, Any]]] = []
    heads = node.session.doc.get_heads()
    lines: list[str | None] = ["add note un", "add gossip non", "add question deux ?", "start",
                               "add note trois"]
    assert _run_commands(meeting, lines,  # type: ignore[arg-type]
                         lambda event, text, **data: said.append((event, data)))
    assert [event for event, _ in said] == ["error", "error"]
    assert "unknown item kind" in said[0][1]["message"]
    assert "this phase takes note, not question" in said[1][1]["message"]  # the exposé
    assert len(node.session.changes_since(heads)) == 3  # the first add, start, the last add
    assert [i.text for i in node.session.snapshot.items] == ["un", "trois"]
    assert node.session.snapshot.items[-1].phase == 0
    assert node.session.snapshot.control.phase.status == "running"
    assert _run_commands(meeting, ["add note fin", None],  # type: ignore[arg-type]
                         lambda *a, **k: None) is False
    assert "fin" in {i.text for i in node.session.snapshot.items}
