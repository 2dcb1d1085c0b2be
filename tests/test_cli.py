"""The command line: every command, its output and its error paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model import sessionfile
from model.session import Session
from tui import identity
from tui.cli import main

ROOT = Path(__file__).parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in a subprocess, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


def test_help_everywhere() -> None:
    for command in ([], ["new"], ["info"], ["export"], ["merge"], ["protocols"], ["host"],
                    ["join"], ["review"], ["demo"]):
        out = run(*command, "--help")
        assert out.returncode == 0, out.stderr
        assert "usage: cercle" in out.stdout


def test_top_level_help_lists_every_command() -> None:
    out = run("--help")
    assert out.returncode == 0
    for command in ("new", "info", "export", "merge", "protocols", "host", "join", "review",
                    "demo"):
        assert command in out.stdout
    assert "opens the app" in " ".join(out.stdout.split())


def test_bad_usage_exits_2() -> None:
    out = run("export", "x.cercle", "--format", "pdf")
    assert out.returncode == 2
    assert "invalid choice: 'pdf'" in out.stderr


def test_new_info_export_cycle(tmp_path: Path) -> None:
    path = tmp_path / "s.cercle"
    out = run("new", "--title", "Atelier de janvier", "--name", "Anne", "-o", str(path))
    assert out.returncode == 0, out.stderr
    assert "created" in out.stdout
    info = run("info", str(path))
    assert info.returncode == 0
    assert "title:        Atelier de janvier" in info.stdout
    assert "protocol:     codev" in info.stdout
    assert "phase:        1/" in info.stdout and "[waiting]" in info.stdout
    assert "participants: 1: Anne" in info.stdout
    exported = run("export", str(path), "--format", "json")
    assert json.loads(exported.stdout)["title"] == "Atelier de janvier"
    out_file = tmp_path / "s.html"
    assert run("export", str(path), "--format", "html", "-o", str(out_file)).returncode == 0
    assert out_file.read_text().startswith("<!doctype html>")


def test_new_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.cercle"
    assert main(["new", "--title", "A", "-o", str(path)]) == 0
    before = path.read_bytes()
    assert main(["new", "--title", "B", "-o", str(path)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert path.read_bytes() == before
    assert main(["new", "--title", "B", "-o", str(path), "--force"]) == 0


def test_new_with_protocol_key_file_and_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "--title", "T", "--protocol", "troika", "-o",
                 str(tmp_path / "t.cercle")]) == 0
    assert main(["new", "--title", "T", "--protocol", "nope", "-o",
                 str(tmp_path / "n.cercle")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cercle: error:") and "nope" in err
    assert not (tmp_path / "n.cercle").exists()


def test_info_on_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.cercle"
    bad.write_bytes(b"not a session")
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "not an Automerge document" in err
    assert main(["info", str(tmp_path / "missing.cercle")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_merge(tmp_path: Path, session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    other = Session(session.doc.fork())
    session.add_item("note", "from A")
    other.add_item("note", "from B")
    a, b, out = tmp_path / "a.cercle", tmp_path / "b.cercle", tmp_path / "m.cercle"
    sessionfile.save(a, session.doc)
    sessionfile.save(b, other.doc)
    assert main(["merge", str(a), str(b), "-o", str(out)]) == 0
    assert "2 items" in capsys.readouterr().out
    assert main(["merge", str(a), "-o", str(out)]) == 1
    assert "at least two" in capsys.readouterr().err


def test_merge_refusal(tmp_path: Path, session: Session, codev,  # type: ignore[no-untyped-def]
                       capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.cercle", tmp_path / "b.cercle"
    sessionfile.save(a, session.doc)
    sessionfile.save(b, Session.create(title="X", protocol=codev, name="Z").doc)
    assert main(["merge", str(a), str(b), "-o", str(tmp_path / "m.cercle")]) == 1
    assert "another session" in capsys.readouterr().err
    assert not (tmp_path / "m.cercle").exists()


def test_protocols_listing() -> None:
    out = run("protocols")
    assert out.returncode == 0
    for key in ("codev (default)", "gapp", "action-learning", "troika", "case-clinic"):
        assert key in out.stdout
    assert "Clarifying questions" in out.stdout or "clarifying" in out.stdout.lower()
    fr = run("protocols", "--lang", "fr")
    assert "Codéveloppement" in fr.stdout


# -- issue 5: the group across sessions, anonymity, ics, protocol check ------------

def _as_creator(path: Path) -> Session:
    """The session of ``path`` reopened on its creator's laptop (``cercle new`` kept the
    creator's key there)."""
    loaded = sessionfile.load(path)
    session = Session(loaded.doc, identity=identity.identity_for(loaded.session_id))
    assert session.is_facilitator
    return session


def _first_with_actions(path: Path) -> None:
    """A first session file with two actions (one done), as a facilitator leaves it."""
    assert main(["new", "--title", "Janvier", "--name", "Anne", "--group", "Managers Lyon",
                 "-o", str(path)]) == 0
    session = _as_creator(path)
    session.goto([p.key for p in session.snapshot.phases].index("synthesis"))
    session.add_item("action", "Appeler la DRH", owner=session.me, due="2027-02-01")
    done = session.add_item("action", "Déjà fait", owner=session.me)
    session.update_action(done, "done")
    session.end()
    sessionfile.save(path, session.doc)


def test_new_continue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two = tmp_path / "1.cercle", tmp_path / "2.cercle"
    _first_with_actions(one)
    capsys.readouterr()
    assert main(["new", "--continue", str(one), "--name", "Anne", "--title", "Février",
                 "-o", str(two)]) == 0
    out = capsys.readouterr()
    assert "continuing “Managers Lyon” after “Janvier”: 1 open action(s) carried over, " \
           "1 earlier session(s)" in out.err
    assert "created" in out.out and "“Février” (codev)" in out.out
    snap = Session(sessionfile.load(two).doc).snapshot
    assert [i.text for i in snap.items] == ["Appeler la DRH"]
    assert snap.phases[0].key == "follow-up"
    assert main(["info", str(two)]) == 0
    info = capsys.readouterr().out
    assert "group:        Managers Lyon (session 2)" in info
    assert "phase:        1/7 Follow-up of open actions [waiting]" in info


def test_new_continue_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = tmp_path / "1.cercle"
    _first_with_actions(one)
    capsys.readouterr()
    out = tmp_path / "2.cercle"
    corrupt = tmp_path / "corrupt.cercle"
    corrupt.write_bytes(bytes.fromhex("856f4a83") + b"\x01\x02garbage")
    cases = [
        (["--continue", str(corrupt)], f"cercle: error: {corrupt}: the file is corrupt"),
        (["--continue", str(tmp_path / "none.cercle")], "no such file"),
        (["--continue", str(one), "--group", "Infirmières"],
         "belongs to the group “Managers Lyon”, not “Infirmières”"),
        (["--continue", "codev.toml"], "takes a session file (*.cercle), not a protocol"),
        ([], "give the session's title with --title"),
        (["--title", "X", "--anonymous", "proposal"], "proposal items cannot be anonymous"),
    ]
    for extra, message in cases:
        assert main(["new", *extra, "-o", str(out)]) == 1, extra
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (extra, err)
        assert not out.exists()
    assert main(["new", "--continue", str(one), "-o", str(one), "--force"]) == 1
    assert "not over the previous one" in capsys.readouterr().err


def test_new_anonymous(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.cercle"
    assert main(["new", "--title", "A", "--anonymous", "advice, question", "-o",
                 str(path)]) == 0
    assert main(["info", str(path)]) == 0
    assert "anonymous:    advice, question" in capsys.readouterr().out
    # Continuing keeps the choice; "none" makes the next session named.
    named = tmp_path / "b.cercle"
    assert main(["new", "--continue", str(path), "--anonymous", "none", "-o", str(named)]) == 0
    assert Session(sessionfile.load(named).doc).snapshot.info.anonymous_kinds == ()


def test_export_ics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.cercle"
    assert main(["new", "--title", "Janvier", "-o", str(path)]) == 0
    assert main(["export", str(path), "--format", "ics"]) == 1
    assert "no next meeting is set in this session" in capsys.readouterr().err
    session = _as_creator(path)
    session.set_next_meeting("2027-02-11", "18:00", "Salle B")
    sessionfile.save(path, session.doc)
    ics = tmp_path / "next.ics"
    assert main(["export", str(path), "--format", "ics", "-o", str(ics)]) == 0
    data = ics.read_bytes()
    assert data.startswith(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert b"DTSTART:20270211T180000\r\n" in data and b"LOCATION:Salle B\r\n" in data
    assert main(["info", str(path)]) == 0
    assert "next meeting: 2027-02-11 18:00, Salle B" in capsys.readouterr().out


GOOD_PROTOCOL = """key = "weekly"
[name]
en = "Weekly"
fr = "Hebdo"
[description]
en = "A short one."
fr = "Une courte."
[[phases]]
key = "round"
minutes = 10
contributors = ["everyone"]
kinds = ["note"]
title = { en = "Round", fr = "Tour" }
instruction = { en = "Talk.", fr = "Parlez." }
"""


def test_protocols_check(tmp_path: Path) -> None:
    good = tmp_path / "weekly.toml"
    good.write_text(GOOD_PROTOCOL)
    out = run("protocols", "--check", str(good))
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{good}: ok — “Weekly” (weekly), 1 phases, 10 min\n"
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD_PROTOCOL.replace("minutes = 10", "minutes = 0"))
    out = run("protocols", "--check", str(bad))
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == (f"cercle: error: {bad}:10: phases[0].minutes: "
                          "Expected `int` >= 1, got 0\n")
    out = run("protocols", "--check", str(tmp_path / "missing.toml"))
    assert out.returncode == 1 and "missing.toml: file not found" in out.stderr


def test_host_continue_goes_to_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.cli

    seen: list[dict[str, object]] = []
    monkeypatch.setattr(tui.cli, "_run_app", lambda args, **options: seen.append(options))
    one = tmp_path / "1.cercle"
    assert main(["host", "--continue", str(one), "--name", "Anne"]) == 0
    assert seen[0]["continue_from"] == one and seen[0]["name"] == "Anne"
    assert main(["host"]) == 0
    assert "continue_from" not in seen[1] and seen[1]["name"] == ""


def test_host_options_reach_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --headless, the title, protocol, code, port, label and --no-advertise still
    count (they were silently dropped)."""
    import tui.cli
    from tui.app import HostChoices

    seen: list[dict[str, object]] = []
    monkeypatch.setattr(tui.cli, "_run_app", lambda args, **options: seen.append(options))
    assert main(["host", "--title", "Atelier", "--protocol", "gapp", "--code", "314-159",
                 "--port", "47011", "--label", "Salle 3", "--no-advertise"]) == 0
    assert seen[0]["hosting"] == HostChoices(title="Atelier", protocol="gapp", code="314-159",
                                             port=47011, label="Salle 3")
    assert seen[0]["advertise"] is False
    assert main(["host", "--code", "12"]) == 1  # a short code is refused before the app opens
    assert len(seen) == 1


@pytest.mark.parametrize("headless", [[], ["--headless"]])
def test_host_refuses_a_weak_chosen_code_before_anything_is_written(
        headless: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Finding 4: 111-111 or aaaaaa were accepted as join codes."""
    import tui.cli

    monkeypatch.setattr(tui.cli, "_run_app", lambda args, **options: pytest.fail("app opened"))
    file = tmp_path / "s.cercle"
    for weak in ("111-111", "aaaaaa"):
        assert main(["host", *headless, "--code", weak, "--file", str(file),
                     "--no-advertise"]) == 1
        assert "too easy to guess" in capsys.readouterr().err
    assert not file.exists()


def test_host_headless_continue(tmp_path: Path) -> None:
    one, two = tmp_path / "1.cercle", tmp_path / "2.cercle"
    _first_with_actions(one)
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "host", "--headless", "--continue", str(one),
         "--file", str(two), "--name", "Anne", "--no-advertise", "--interface", "127.0.0.1",
         "--json", "--script"],
        input="status\nquit\n", capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, "CERCLE_HOME": str(tmp_path / "home")})
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert [e["event"] for e in events][:2] == ["continuing", "ready"]
    assert (events[0]["group"], events[0]["carried"], events[0]["chain"]) == (
        "Managers Lyon", 1, 1)
    assert next(e for e in events if e["event"] == "status")["items"] == 1
    snap = Session(sessionfile.load(two).doc).snapshot
    assert [i.text for i in snap.items] == ["Appeler la DRH"]
    assert snap.chain[0].title == "Janvier"
    refused = subprocess.run(
        [sys.executable, "-m", "tui.cli", "host", "--headless", "--continue", str(one),
         "--group", "Autre", "--no-advertise", "--interface", "127.0.0.1"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, "CERCLE_HOME": str(tmp_path / "home")})
    assert refused.returncode == 1
    assert "belongs to the group “Managers Lyon”, not “Autre”" in refused.stderr


# -- the creator's key, kept on the computer that made the session ----------------------------
def test_new_keeps_the_creators_key_so_hosting_the_file_here_facilitates(
        tmp_path: Path) -> None:
    path = tmp_path / "atelier.cercle"
    assert main(["new", "--title", "Atelier", "--name", "Anne", "-o", str(path)]) == 0
    loaded = sessionfile.load(path)
    kept = identity.identity_for(loaded.session_id)
    assert kept is not None
    assert Session(loaded.doc, identity=kept).is_facilitator
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "host", "--headless", "--file", str(path),
         "--no-advertise", "--interface", "127.0.0.1", "--json", "--script"],
        input="status\nquit\n", capture_output=True, text=True, cwd=ROOT, timeout=60,
        env=dict(os.environ))  # the same computer: the same CERCLE_HOME
    assert out.returncode == 0, out.stderr
    events = [json.loads(line)["event"] for line in out.stdout.splitlines()]
    assert "warning" not in events and "ready" in events


def test_new_names_the_facilitator_from_the_settings_or_the_account(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    from tui.settings import Settings

    monkeypatch.setattr(getpass, "getuser", lambda: "jdupont")
    first = tmp_path / "1.cercle"
    assert main(["new", "--title", "A", "-o", str(first)]) == 0
    assert [p.name for p in Session(sessionfile.load(first).doc).snapshot.participants] == [
        "jdupont"]
    Settings(name="Juliette Dupont").save()
    second = tmp_path / "2.cercle"
    assert main(["new", "--title", "B", "-o", str(second)]) == 0
    assert [p.name for p in Session(sessionfile.load(second).doc).snapshot.participants] == [
        "Juliette Dupont"]


def test_an_older_file_is_not_hosted_but_continued(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from model.protocols import builtin_protocols
    from tests.replicas import make_legacy

    old = Session.create(title="Vieille séance", protocol=builtin_protocols()["codev"],
                         name="Anne")
    make_legacy(old)
    path = tmp_path / "old.cercle"
    sessionfile.save(path, old.doc)
    capsys.readouterr()
    assert main(["host", "--headless", "--file", str(path), "--no-advertise",
                 "--interface", "127.0.0.1"]) == 1
    err = capsys.readouterr().err
    assert "older Cercle (format 2)" in err and f"cercle host --continue {path}" in err
    assert main(["info", str(path)]) == 0  # still read, exported, continued
    assert main(["new", "--continue", str(path), "-o", str(tmp_path / "next.cercle")]) == 0


async def test_headless_host_counts_itself_among_the_people_in() -> None:
    """People looking for sessions see how many are in, the facilitator included: one
    before anyone joins, three with two peers."""
    import asyncio
    import io
    from types import SimpleNamespace

    from tests.sync.mesh import until
    from tui import headless

    class Advertiser:
        def __init__(self) -> None:
            self.counts: list[int] = []

        async def update(self, people: int) -> None:
            self.counts.append(people)

    advertiser = Advertiser()
    from model.protocols import builtin_protocols

    session = Session.create(title="T", name="Anne", protocol=builtin_protocols()["codev"])
    node = SimpleNamespace(peers=[])
    meeting = SimpleNamespace(node=node, session=session, advertiser=advertiser)
    stop = asyncio.Event()
    serving = asyncio.create_task(headless._serve(
        meeting, headless.Printer(True, io.StringIO()), False, False, stop))  # type: ignore[arg-type]
    try:
        await until(lambda: advertiser.counts == [1], 5, "the host counted")
        node.peers = [SimpleNamespace(peer_id="b"), SimpleNamespace(peer_id="c")]
        await until(lambda: advertiser.counts == [1, 3], 5, "two peers and the host")
    finally:
        stop.set()
        await serving
