"""The ``cercle`` command line: parse, build, run.

Exit codes: 0 on success, 2 on bad usage (argparse), 1 with a one-line
message on any failure the user can act on.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import getpass
import io
import logging
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model import export, sessionfile
from model.protocols import DEFAULT_PROTOCOL, ProtocolError, builtin_protocols, load_protocol
from model.schema import ANONYMIZABLE_KINDS, NAME_MAX
from model.session import Session
from sync.codes import chosen_code
from tui.headless import HeadlessError


class CommandError(Exception):
    """A failure to report in one line, exit code 1."""


def _write_output(data: bytes, out: str | None) -> None:
    if out is None or out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        sessionfile.write_atomic(out, data)


def _open_session(path: str) -> Session:
    loaded = sessionfile.load(path)
    if loaded.newer_format:
        print(f"cercle: note: {path} was written by a newer Cercle (format "
              f"{loaded.format}); parts this version does not know are kept but not shown",
              file=sys.stderr)
    return Session(loaded.doc)


def default_name() -> str:
    """The name to write when none is given: the one saved in the settings, else the name
    of this computer's account ("" when neither is known)."""
    from tui.settings import Settings

    name = Settings.load().name.strip()
    if not name:
        try:
            name = getpass.getuser().strip()
        except (OSError, KeyError, ImportError):  # no account name (a container, Windows)
            name = ""
    return name[:NAME_MAX]


def _anonymous_kinds(text: str | None) -> list[str] | None:
    """``--anonymous question,advice`` as a list (None when not given)."""
    if text is None:
        return None
    return [k.strip() for k in text.split(",") if k.strip() and k.strip() != "none"]


def _continued(path: str, *, name: str, title: str | None, protocol: str | None,
               group: str | None, anonymous: list[str] | None) -> Session:
    """The next session of the group of the session file ``path``."""
    if Path(path).suffix == ".toml":
        raise CommandError(f"{path}: --continue takes a session file (*.cercle), "
                           "not a protocol")
    session = Session.continue_from(
        path, name=name, title=title, group=group, anonymous=anonymous,
        protocol=load_protocol(protocol) if protocol else None)
    snap = session.snapshot
    previous = snap.chain[-1]
    print(f"continuing “{snap.group.name}” after “{previous.title}”: "
          f"{len(snap.carried_actions())} open action(s) carried over, "
          f"{len(snap.chain)} earlier session(s)", file=sys.stderr)
    return session


def cmd_new(args: argparse.Namespace) -> None:
    from tui import identity

    out = Path(args.output)
    if out.exists() and not args.force:
        raise CommandError(f"{out} already exists (use --force to replace it)")
    anonymous = _anonymous_kinds(args.anonymous)
    args.name = args.name or default_name()
    if args.continue_from:
        if args.continue_from and Path(args.continue_from).resolve() == out.resolve():
            raise CommandError("write the next session to a new file, not over the "
                               "previous one")
        session = _continued(args.continue_from, name=args.name, title=args.title,
                             protocol=args.protocol, group=args.group, anonymous=anonymous)
    else:
        if not args.title:
            raise CommandError("give the session's title with --title "
                               "(or --continue FILE to start the next session of a group)")
        session = Session.create(
            title=args.title, protocol=load_protocol(args.protocol or DEFAULT_PROTOCOL),
            name=args.name, anonymous=anonymous or (), group=args.group or "",
        )
    sessionfile.save(out, session.doc)
    # This computer's key is the creator's: `cercle host --file` here hosts as facilitator.
    identity.remember(session.snapshot.info.id, session.identity, out.resolve())
    print(f"created {out}: “{session.snapshot.info.title}” "
          f"({session.snapshot.protocol.key if session.snapshot.protocol else '?'})")


def cmd_info(args: argparse.Namespace) -> None:
    snap = _open_session(args.file).snapshot
    state = snap.control.phase
    phase = snap.current_phase
    counts = Counter(item.kind for item in snap.items)
    roles = snap.control.roles
    lines = [
        f"title:        {snap.info.title}",
        f"session:      {snap.info.id}",
        f"protocol:     {snap.protocol.key if snap.protocol else '?'}"
        + (f" ({snap.protocol.name.en})" if snap.protocol else ""),
        f"phase:        {state.index + 1}/{len(snap.phases)} "
        f"{phase.title.en if phase else '?'} [{state.status}]",
        f"facilitator:  {snap.name_of(roles.facilitator)}",
        f"client:       {snap.name_of(roles.client) if roles.client else '-'}",
        f"participants: {len(snap.participants)}: "
        + ", ".join(p.name for p in snap.participants),
        f"items:        {len(snap.items)}"
        + (": " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) if counts else ""),
    ]
    if snap.group.name:
        lines.append(f"group:        {snap.group.name}"
                     + (f" (session {len(snap.chain) + 1})" if snap.chain else ""))
    if snap.info.anonymous_kinds:
        lines.append(f"anonymous:    {', '.join(snap.info.anonymous_kinds)}")
    if snap.control.case:
        case = snap.item(snap.control.case)
        lines.append(f"case:         {case.text if case else '?'}")
    if snap.evaluation.count:
        lines.append(f"evaluation:   {snap.evaluation.count} rating(s), "
                     f"mean {snap.evaluation.mean:.1f}")
    meeting = snap.control.meeting
    if meeting is not None:
        lines.append(f"next meeting: {meeting.date} {meeting.time}".rstrip()
                     + (f", {meeting.place}" if meeting.place else ""))
    if snap.control.ignored:
        lines.append(f"ignored:      {snap.control.ignored} control change(s) "
                     "not written by the facilitator")
    print("\n".join(lines))


def cmd_export(args: argparse.Namespace) -> None:
    snap = _open_session(args.file).snapshot
    _write_output(export.render(snap, args.format, args.lang), args.output)
    if args.output and args.output != "-":
        print(f"wrote {args.output}", file=sys.stderr)


def cmd_merge(args: argparse.Namespace) -> None:
    if len(args.files) < 2:
        raise CommandError("merge needs at least two files")
    doc = sessionfile.merge_files(args.files)
    sessionfile.save(args.output, doc)
    snap = Session(doc).snapshot
    print(f"merged {len(args.files)} files into {args.output}: {len(snap.items)} items")


def cmd_protocols(args: argparse.Namespace) -> None:
    lang = args.lang
    if args.check:
        proto = load_protocol(Path(args.check))
        follow = sum(1 for p in proto.phases if p.follow_up)
        print(f"{args.check}: ok — “{proto.name.get(lang)}” ({proto.key}), "
              f"{len(proto.phases)} phases, {proto.total_minutes()} min"
              + (f" (+{proto.total_minutes(True) - proto.total_minutes()} min of "
                 "follow-up when continuing)" if follow else ""))
        return
    for key, proto in builtin_protocols().items():
        total = sum(p.minutes for p in proto.phases if not p.follow_up)
        default = " (default)" if key == DEFAULT_PROTOCOL else ""
        print(f"{key}{default} — {proto.name.get(lang)}, {total} min")
        for phase in proto.phases:
            note = " (when continuing)" if phase.follow_up else ""
            print(f"    {phase.minutes:>3} min  {phase.title.get(lang)}{note}")
        print()


def _run_app(args: argparse.Namespace, **options: Any) -> None:
    from tui.app import make_app

    interfaces = [args.interface] if getattr(args, "interface", None) else None
    make_app(lang=getattr(args, "lang", None), interfaces=interfaces, **options).run()


def cmd_app(args: argparse.Namespace) -> None:
    _run_app(args)


def cmd_host(args: argparse.Namespace) -> None:
    from tui import headless

    if args.code:
        chosen_code(args.code)  # a weak code is refused here, before a form or a file
    if not args.headless:
        from tui.app import HostChoices

        options: dict[str, object] = {}
        if args.continue_from:
            options["continue_from"] = Path(args.continue_from)
        options["hosting"] = HostChoices(
            title=args.title or "", protocol=args.protocol or "", code=args.code or "",
            port=args.port or 0, label=args.label)
        options["advertise"] = not args.no_advertise
        _run_app(args, start="host", name=args.name if args.name != "Facilitator" else "",
                 **options)
        return
    asyncio.run(headless.run_host(
        title=args.title, file=args.file,
        protocol=args.protocol or ("" if args.continue_from else DEFAULT_PROTOCOL), code=args.code,
        port=args.port, interface=args.interface, name=args.name, label=args.label,
        advertise=not args.no_advertise, json_mode=args.json, script=args.script,
        watch=args.watch, continue_from=args.continue_from, group=args.group))


def cmd_join(args: argparse.Namespace) -> None:
    from tui import headless

    if not args.headless:
        _run_app(args, start="join", join_address=args.peer or "", join_code=args.code or "",
                 name=args.name or "")
        return
    if not args.name:
        raise CommandError("give your name with --name")
    if not (args.peer or args.tag):
        raise CommandError("give --peer HOST:PORT (or a join link) or --tag TAG")
    asyncio.run(headless.run_join(
        peer=args.peer, tag=args.tag, code=args.code, name=args.name, file=args.file,
        until_synced=args.until_synced, timeout=args.timeout, port=args.port,
        interface=args.interface, json_mode=args.json, script=args.script, watch=args.watch))


def cmd_review(args: argparse.Namespace) -> None:
    from tui.room import Room

    loaded = sessionfile.load(args.file)
    room = Room(Session(loaded.doc), path=Path(args.file), read_only=True)
    _run_app(args, start="review", room=room)


def cmd_demo(args: argparse.Namespace) -> None:
    from tui.demo import Demo, play_headless
    from tui.i18n import set_language

    lang = set_language(args.lang)
    if args.headless:
        if not args.output:
            raise CommandError("give the file to write with -o FILE")
        session = asyncio.run(play_headless(Path(args.output), lang, pace=args.pace or 0.05))
        snap = session.snapshot
        print(f"wrote {args.output}: “{snap.info.title}”, {len(snap.participants)} people, "
              f"{len(snap.items)} items, {len(snap.control.phase.transitions)} phase moves")
        return
    path = Path(args.output) if args.output else None
    _run_app(args, start="demo", demo=Demo(lang, pace=args.pace or 1.0, path=path),
             advertise=False)


def _positive_port(text: str) -> int:
    value = int(text)
    if not 0 <= value < 65536:
        raise argparse.ArgumentTypeError("a port is a number from 0 to 65535")
    return value


def _add_group_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--continue", dest="continue_from", metavar="FILE",
                   help="start the next session of the group of this session file")
    p.add_argument("--group",
                   help="the group's name (a first session); with --continue, refuse a file "
                        "of another group")
    p.add_argument("--anonymous", metavar="KINDS",
                   help="item kinds whose authors are not shown, comma-separated, from: "
                        f"{', '.join(ANONYMIZABLE_KINDS)} ('none' for named; with --continue: "
                        "default the previous choice)")


def _add_network_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--headless", action="store_true", help="run without a screen")
    p.add_argument("--port", type=_positive_port, default=0,
                   help="TCP port to listen on (default: any free port)")
    p.add_argument("--interface", metavar="IP",
                   help="listen and advertise on this address only")
    p.add_argument("--json", action="store_true", help="print one JSON object per line")
    p.add_argument("--script", action="store_true",
                   help="read commands from standard input (add KIND TEXT, advance, status, "
                        "quit...)")
    p.add_argument("--watch", action="store_true",
                   help="print a line each time remote changes arrive (with --json: a timestamp)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cercle",
        description="Practice-exchange and co-development sessions, peer to peer. "
                    "Without a command, opens the app.",
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log network activity to standard error")
    parser.add_argument("--lang", choices=("en", "fr"),
                        help="interface language (default: settings, then the locale)")
    parser.set_defaults(func=cmd_app)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("new", help="create a session file")
    p.add_argument("--title", help="the session's title (with --continue: default "
                                   "'<group> — <date>')")
    p.add_argument("--protocol",
                   help="a built-in protocol key (see 'cercle protocols') or a TOML file "
                        f"(default: {DEFAULT_PROTOCOL}; with --continue: the previous one)")
    p.add_argument("--name", help="your name, the facilitator's (default: the name saved "
                                  "in the settings, else this computer's account name)")
    p.add_argument("-o", "--output", required=True, help="the file to write (*.cercle)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    _add_group_options(p)
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("info", help="summarise a session file")
    p.add_argument("file")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("export", help="export a session as Markdown, JSON or HTML, or its "
                                      "next meeting as an iCalendar file (ics)")
    p.add_argument("file")
    p.add_argument("--format", choices=export.ALL_FORMATS, default="md")
    p.add_argument("-o", "--output", help="the file to write (default: standard output)")
    p.add_argument("--lang", choices=("en", "fr"), default="en")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("merge", help="merge copies of one session into one file")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("host", help="host a live session on the local network")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--title", help="title of a new session")
    source.add_argument("--file", help="host this session file (created if missing)")
    p.add_argument("--protocol",
                   help=f"built-in protocol key or TOML file (new sessions; default "
                        f"{DEFAULT_PROTOCOL}, with --continue the previous one)")
    p.add_argument("--code", help="join code (default: a new random one); 6+ varied "
                   "characters: repeats and runs such as 111-111 are refused")
    p.add_argument("--name", default="Facilitator", help="your name")
    p.add_argument("--label", default="",
                   help="public label shown to people looking for sessions (no content; "
                        "default: the label of the group's last meeting, or "
                        "'Cercle · <your name>')")
    p.add_argument("--no-advertise", action="store_true",
                   help="do not announce the session on the network (join by address only)")
    p.add_argument("--continue", dest="continue_from", metavar="FILE",
                   help="start the next session of the group of this session file: open "
                        "actions carried over, opening with the follow-up")
    p.add_argument("--group", help="with --continue: refuse a file of another group")
    _add_network_options(p)
    p.add_argument("--lang", choices=("en", "fr"), default=argparse.SUPPRESS,
                   help="interface language")
    p.set_defaults(func=cmd_host)

    p = sub.add_parser("join", help="join a live session")
    p.add_argument("--peer", metavar="HOST:PORT", help="address or join link of a peer")
    p.add_argument("--tag", help="the session tag shown in its advertisement")
    p.add_argument("--code", help="the join code shown by the facilitator")
    p.add_argument("--name", help="your name")
    p.add_argument("--file", help="keep the session in this file")
    p.add_argument("--until-synced", action="store_true",
                   help="exit 0 once everything the peers hold is here")
    p.add_argument("--timeout", type=float, default=15.0,
                   help="seconds to wait for the session (default 15)")
    _add_network_options(p)
    p.add_argument("--lang", choices=("en", "fr"), default=argparse.SUPPRESS,
                   help="interface language")
    p.set_defaults(func=cmd_join)

    p = sub.add_parser("review", help="read a session file, phase by phase, and export it")
    p.add_argument("file")
    p.add_argument("--lang", choices=("en", "fr"), default=argparse.SUPPRESS,
                   help="interface language")
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("demo", help="a live session with three simulated participants")
    p.add_argument("--headless", action="store_true",
                   help="play the whole demo without a screen (needs -o)")
    p.add_argument("-o", "--output", help="write the session file here")
    p.add_argument("--pace", type=float, help="seconds multiplier for the participants")
    p.add_argument("--lang", choices=("en", "fr"), default=argparse.SUPPRESS,
                   help="interface language")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("protocols", help="list the built-in protocols, or check your own")
    p.add_argument("--lang", choices=("en", "fr"), default="en")
    p.add_argument("--check", metavar="FILE",
                   help="validate a protocol file (exit 1 with line-numbered errors)")
    p.set_defaults(func=cmd_protocols)
    return parser


def _utf8_streams() -> None:
    """Read and write standard streams in UTF-8 where they are not.

    Windows gives pipes and redirected files its ANSI code page (cp1252 in Western
    Europe): printing a name outside it raised UnicodeEncodeError, and a script's
    "é" piped in arrived as "Ã©". Unencodable or undecodable characters become
    replacement marks rather than errors. A stream that cannot change (a stand-in
    set by a test or an embedding program) is left as it is.
    """
    for name in ("stdin", "stdout", "stderr"):
        stream = getattr(sys, name, None)
        encoding = getattr(stream, "encoding", None)
        reconfigure = getattr(stream, "reconfigure", None)
        if not isinstance(encoding, str) or reconfigure is None:
            continue
        try:
            if codecs.lookup(encoding).name != "utf-8":
                reconfigure(encoding="utf-8", errors="replace")
        except (LookupError, ValueError, OSError, io.UnsupportedOperation):
            continue


def _quiet_broken_pipe() -> None:
    """The reader of our output went away (``cercle protocols | head``): say nothing more,
    and keep Python from complaining when it flushes standard output at exit."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cercle`` command."""
    _utf8_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        args.func(args)
    except (CommandError, HeadlessError, sessionfile.SessionFileError, ProtocolError,
            ValueError, PermissionError) as exc:
        print(f"cercle: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
