"""Protocol templates: the phases a session goes through.

A protocol (co-development, practice-analysis group, troika consulting...) is
data, not code: a list of phases, each with a bilingual title and instruction,
a time box, who may contribute and which item kinds may be added. The built-in
protocols live in ``model/protocol_data/*.toml``; a group may write its own file
in the same format (see ``docs/protocols.md``).

Everything here is pure: reading a TOML text, validating it and turning it into
immutable msgspec Structs, and back into plain builtins for the session document.
Errors are reported as :class:`ProtocolError` with a ``file:line:`` prefix so a
user can fix their file.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.resources
import re
import tomllib
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

import msgspec
from msgspec import Meta, Struct

__all__ = [
    "BUILTIN_ORDER",
    "CONTRIBUTORS",
    "DEFAULT_PROTOCOL",
    "ITEM_KINDS",
    "Contributor",
    "ItemKind",
    "LocalText",
    "Phase",
    "Protocol",
    "ProtocolError",
    "builtin_protocols",
    "load_protocol",
    "parse_protocol_toml",
    "protocol_from_builtins",
    "protocol_to_builtins",
    "validate_protocol",
]

ItemKind = Literal[
    "question", "contract", "advice", "action", "learning", "note", "hypothesis", "proposal"
]
Contributor = Literal["facilitator", "client", "consultants", "everyone"]

ITEM_KINDS: Final[tuple[ItemKind, ...]] = get_args(ItemKind)
CONTRIBUTORS: Final[tuple[Contributor, ...]] = get_args(Contributor)

DEFAULT_PROTOCOL: Final = "codev"
#: Order in which the built-in protocols are listed (any other file in
#: ``protocol_data`` comes after these, alphabetically).
BUILTIN_ORDER: Final[tuple[str, ...]] = (
    "codev",
    "gapp",
    "action-learning",
    "intervision",
    "troika",
    "case-clinic",
)

_KEY_PATTERN: Final = r"^[a-z][a-z0-9_-]*$"

Key = Annotated[str, Meta(pattern=_KEY_PATTERN, min_length=1, max_length=40)]
Text = Annotated[str, Meta(min_length=1)]
Minutes = Annotated[int, Meta(ge=1, le=240)]
GroupBound = Annotated[int, Meta(ge=2, le=100)]


class LocalText(Struct, frozen=True, forbid_unknown_fields=True):
    """A text in English and French."""

    en: Text
    fr: Text

    def get(self, lang: str) -> str:
        """The text in ``lang`` ("fr", "fr_FR", "fr-CA"... or "en"); English otherwise."""
        if lang[:2].lower() == "fr" and self.fr:
            return self.fr
        return self.en


class Phase(Struct, frozen=True, forbid_unknown_fields=True):
    """One step of a protocol.

    ``contributors`` may add items of the given ``kinds`` during the phase (both
    empty for a phase where nobody writes, such as a moment of silence).
    ``follow_up`` marks the optional opening round on open actions, only used
    when a session continues an earlier one.
    """

    key: Key
    title: LocalText
    instruction: LocalText
    minutes: Minutes
    contributors: tuple[Contributor, ...]
    kinds: tuple[ItemKind, ...]
    follow_up: bool = False


class Protocol(Struct, frozen=True, forbid_unknown_fields=True):
    """A session template: an ordered list of phases.

    ``group_size`` is the recommended number of participants (min, max), the
    client included; it is advice for the facilitator, not a hard limit.
    """

    key: Key
    name: LocalText
    description: LocalText
    phases: Annotated[tuple[Phase, ...], Meta(min_length=1)]
    group_size: tuple[GroupBound, GroupBound] = (3, 12)

    def phases_for(self, continuing: bool) -> tuple[Phase, ...]:
        """The phases of a session: follow-up phases only when ``continuing``
        an earlier session of the same group."""
        if continuing:
            return self.phases
        return tuple(p for p in self.phases if not p.follow_up)

    def phase(self, key: str) -> Phase:
        """The phase with this key (KeyError if there is none)."""
        for p in self.phases:
            if p.key == key:
                return p
        raise KeyError(key)

    def total_minutes(self, continuing: bool = False) -> int:
        """Sum of the time boxes of :meth:`phases_for` ``continuing``."""
        return sum(p.minutes for p in self.phases_for(continuing))


# --------------------------------------------------------------------------- errors

PathT = tuple[str | int, ...]


class ProtocolError(ValueError):
    """A protocol that cannot be loaded; ``str(err)`` is a message for the user,
    e.g. ``my.toml:12: phases[2].minutes: Expected `int` >= 1, got 0``."""

    def __init__(
        self,
        detail: str,
        *,
        filename: str | None = None,
        line: int | None = None,
        where: str | None = None,
    ) -> None:
        self.detail = detail
        self.filename = filename
        self.line = line
        self.where = where
        prefix = ""
        if filename is not None:
            prefix = f"{filename}:{line}: " if line is not None else f"{filename}: "
        located = f"{where}: {detail}" if where else detail
        super().__init__(prefix + located)


class _Invalid(Exception):
    """Internal: a semantic validation failure at a path of the document."""

    def __init__(self, path: PathT, detail: str) -> None:
        super().__init__(detail)
        self.path = path
        self.detail = detail


def _format_path(path: PathT) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


_JSON_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[(?:'([^']*)'|\"([^\"]*)\")\]")


def _parse_json_path(text: str) -> PathT:
    """``$.phases[2].minutes`` -> ("phases", 2, "minutes")."""
    path: list[str | int] = []
    pos = 1 if text.startswith("$") else 0
    while pos < len(text):
        m = _JSON_PATH_PART.match(text, pos)
        if m is None:
            break
        if m.group(1) is not None:
            path.append(m.group(1))
        elif m.group(2) is not None:
            path.append(int(m.group(2)))
        else:
            path.append(m.group(3) if m.group(3) is not None else m.group(4))
        pos = m.end()
    return tuple(path)


def _lookup(obj: object, path: PathT) -> tuple[bool, object]:
    """The value at ``path`` in decoded TOML/builtins, if present."""
    for part in path:
        if isinstance(part, int) and isinstance(obj, list | tuple):
            if not 0 <= part < len(obj):
                return False, None
            obj = obj[part]
        elif isinstance(part, str) and isinstance(obj, dict):
            if part not in obj:
                return False, None
            obj = obj[part]
        else:
            return False, None
    return True, obj


def _explain(raw: object, path: PathT, message: str) -> tuple[PathT, str]:
    """Turn a msgspec validation message into a friendlier one; may also refine
    the path (an unknown field is located at the field, not at its table)."""
    found, value = _lookup(raw, path)
    if path == () and message == "Object missing required field `phases`":
        return path, "no phases: a protocol needs at least one [[phases]] table"
    if path == ("phases",) and message.startswith("Expected `array` of length >= 1"):
        return path, "no phases: a protocol needs at least one [[phases]] table"
    m = re.fullmatch(r"Object contains unknown field `(.*)`", message)
    if m is not None:
        field = m.group(1)
        return (*path, field), f"unknown field `{field}`"
    listed = path[-2] if len(path) >= 2 and isinstance(path[-1], int) else None
    if listed == "kinds" and found and isinstance(value, str):
        return path, f"unknown item kind {value!r}; expected one of: {', '.join(ITEM_KINDS)}"
    if listed == "contributors" and found and isinstance(value, str):
        return path, f"unknown contributor {value!r}; expected one of: {', '.join(CONTRIBUTORS)}"
    if (
        message.startswith("Expected")
        and ", got" not in message
        and found
        and isinstance(value, str | int | float | bool)
    ):
        message += f", got {msgspec.json.encode(value).decode()}"
    return path, message


# ------------------------------------------------------------------ TOML line finder


class _LineFinder:
    """Best-effort map from a document path to the line where it is written.

    A small scanner of (already valid) TOML that follows table headers, arrays
    of tables, dotted keys, inline tables and arrays, skipping strings and
    comments. It never raises: on anything unexpected it stops and keeps what it
    found so far.
    """

    _BARE = re.compile(r"[A-Za-z0-9_-]+")
    _SCALAR = re.compile(r"[^,\]}\s#]+")

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[PathT, int] = {}
        self.aot: dict[PathT, int] = {}
        with contextlib.suppress(IndexError, ValueError):
            self._document()

    def find(self, path: PathT) -> int | None:
        for n in range(len(path), 0, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return line
        return None

    # -- low level
    def _peek(self, n: int = 1) -> str:
        return self.s[self.i : self.i + n]

    def _advance(self, n: int = 1) -> None:
        self.line += self.s.count("\n", self.i, self.i + n)
        self.i += n

    def _skip_blank(self, newlines: bool) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self._advance()
            elif c == "#":
                end = self.s.find("\n", self.i)
                self._advance((len(self.s) if end < 0 else end) - self.i)
            else:
                return

    def _skip_line(self) -> None:
        end = self.s.find("\n", self.i)
        self._advance((len(self.s) if end < 0 else end + 1) - self.i)

    def _record(self, path: PathT) -> None:
        self.lines.setdefault(path, self.line)

    # -- strings and keys
    def _string(self) -> str:
        for quote in ('"""', "'''"):
            if self._peek(3) == quote:
                start = self.i + 3
                pos = start
                while True:
                    end = self.s.index(quote, pos)
                    if quote == '"""' and _escaped(self.s, end):
                        pos = end + 1
                        continue
                    break
                # the content may end with one or two quotes: `""""` or `"""""`
                extra = 0
                while extra < 2 and self.s[end + 3 : end + 4] == quote[0]:
                    end += 1
                    extra += 1
                self._advance(end + 3 - self.i)
                return self.s[start:end]
        quote = self.s[self.i]
        pos = self.i + 1
        while True:
            end = self.s.index(quote, pos)
            if quote == '"' and _escaped(self.s, end):
                pos = end + 1
                continue
            break
        value = self.s[self.i + 1 : end]
        self._advance(end + 1 - self.i)
        return value

    def _key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            c = self._peek()
            if c in ('"', "'"):
                parts.append(self._string())
            else:
                m = self._BARE.match(self.s, self.i)
                if m is None:
                    raise ValueError("key expected")
                parts.append(m.group())
                self._advance(m.end() - self.i)
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return parts
            self._advance()

    # -- structure
    def _resolve(self, keys: list[str]) -> PathT:
        out: list[str | int] = []
        for k in keys:
            out.append(k)
            index = self.aot.get(tuple(out))
            if index is not None:
                out.append(index)
        return tuple(out)

    def _document(self) -> None:
        table: PathT = ()
        while True:
            self._skip_blank(newlines=True)
            if self.i >= len(self.s):
                return
            if self._peek(2) == "[[":
                self._advance(2)
                keys = self._key()
                parent = self._resolve(keys[:-1])
                base = (*parent, keys[-1])
                index = self.aot.get(base, -1) + 1
                self.aot[base] = index
                self._record(base)
                table = (*base, index)
                self._record(table)
                self._skip_line()
            elif self._peek() == "[":
                self._advance()
                table = self._resolve(self._key())
                self._record(table)
                self._skip_line()
            else:
                self._keyval(table)
                self._skip_blank(newlines=False)
                if self._peek() not in ("\n", ""):
                    self._skip_line()

    def _keyval(self, table: PathT) -> None:
        keys = self._key()
        path = table
        for k in keys:
            path = (*path, k)
            self._record(path)
        if self._peek() != "=":
            raise ValueError("= expected")
        self._advance()
        self._skip_blank(newlines=False)
        self._value(path)

    def _value(self, path: PathT) -> None:
        c = self._peek()
        if c in ('"', "'"):
            self._string()
        elif c == "[":
            self._advance()
            index = 0
            while True:
                self._skip_blank(newlines=True)
                c = self._peek()
                if c == "]":
                    self._advance()
                    return
                if c == ",":
                    self._advance()
                    index += 1
                    continue
                if c == "":
                    raise ValueError("unterminated array")
                self._record((*path, index))
                self._value((*path, index))
        elif c == "{":
            self._advance()
            while True:
                self._skip_blank(newlines=False)
                c = self._peek()
                if c == "}":
                    self._advance()
                    return
                if c == ",":
                    self._advance()
                    continue
                if c in ("", "\n"):
                    raise ValueError("unterminated inline table")
                self._keyval(path)
        else:
            m = self._SCALAR.match(self.s, self.i)
            if m is None:
                raise ValueError("value expected")
            self._advance(m.end() - self.i)


def _escaped(s: str, pos: int) -> bool:
    """Whether the character at ``pos`` is preceded by an odd number of backslashes."""
    n = 0
    while pos - n - 1 >= 0 and s[pos - n - 1] == "\\":
        n += 1
    return n % 2 == 1


# ------------------------------------------------------------------------ validation


def _check(protocol: Protocol) -> None:
    """Rules msgspec constraints cannot express; raises _Invalid."""
    texts: list[tuple[PathT, LocalText]] = [
        (("name",), protocol.name),
        (("description",), protocol.description),
    ]
    for i, phase in enumerate(protocol.phases):
        texts += [(("phases", i, "title"), phase.title)]
        texts += [(("phases", i, "instruction"), phase.instruction)]
    for path, text in texts:
        for lang in ("en", "fr"):
            if not getattr(text, lang).strip():
                raise _Invalid((*path, lang), "text is blank")

    low, high = protocol.group_size
    if low > high:
        raise _Invalid(("group_size",), f"minimum {low} is larger than maximum {high}")

    seen: dict[str, int] = {}
    follow_ups_done = False
    for i, phase in enumerate(protocol.phases):
        if phase.key in seen:
            raise _Invalid(
                ("phases", i, "key"),
                f"duplicate phase key {phase.key!r} (already used by phases[{seen[phase.key]}])",
            )
        seen[phase.key] = i
        for field in ("kinds", "contributors"):
            values: tuple[str, ...] = getattr(phase, field)
            for j, value in enumerate(values):
                if value in values[:j]:
                    raise _Invalid(("phases", i, field, j), f"{value!r} is listed twice")
        if bool(phase.kinds) != bool(phase.contributors):
            if phase.kinds:
                detail = "item kinds are given but no contributors (who may add them?)"
                raise _Invalid(("phases", i, "contributors"), detail)
            detail = "contributors are given but no item kinds (what may they add?)"
            raise _Invalid(("phases", i, "kinds"), detail)
        if phase.follow_up and follow_ups_done:
            raise _Invalid(
                ("phases", i, "follow_up"),
                "a follow-up phase must come before the other phases",
            )
        if not phase.follow_up:
            follow_ups_done = True
    if not follow_ups_done:
        raise _Invalid(("phases",), "every phase is a follow-up phase; add at least one other")


def validate_protocol(protocol: Protocol, *, filename: str | None = None) -> Protocol:
    """Check the rules a well-formed :class:`Protocol` must also follow (unique
    phase keys, follow-up phases first, ...); returns it or raises ProtocolError."""
    try:
        _check(protocol)
    except _Invalid as err:
        raise ProtocolError(err.detail, filename=filename, where=_format_path(err.path)) from None
    return protocol


# ------------------------------------------------------------------ parse and load


def _reflow(text: str) -> str:
    """Markdown-like paragraphs: single line breaks become spaces, a blank line
    separates paragraphs. Lets TOML files wrap long instructions. Only ASCII
    blanks count: a no-break space (French "mot\u00a0:") is kept."""
    paragraphs = re.split(r"\n[ \t\r]*\n", text.strip(" \t\r\n"))
    return "\n\n".join(" ".join(re.split(r"[ \t\r\n]+", p.strip(" \t\r\n"))) for p in paragraphs)


def _reflow_texts(protocol: Protocol) -> Protocol:
    def lt(text: LocalText) -> LocalText:
        return LocalText(en=_reflow(text.en), fr=_reflow(text.fr))

    phases = tuple(
        msgspec.structs.replace(p, title=lt(p.title), instruction=lt(p.instruction))
        for p in protocol.phases
    )
    return msgspec.structs.replace(
        protocol, name=lt(protocol.name), description=lt(protocol.description), phases=phases
    )


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")


def parse_protocol_toml(text: str, *, filename: str = "<protocol>") -> Protocol:
    """Decode and validate a protocol written in TOML (format: docs/protocols.md).

    Texts are reflowed: single line breaks become spaces, blank lines separate
    paragraphs. Raises :class:`ProtocolError` with ``filename:line:`` on error.
    """
    text = text.removeprefix("\ufeff")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        line: int | None = getattr(err, "lineno", None)  # Python >= 3.14
        m = _TOML_POSITION.search(message)
        if m is not None:
            if line is None and m.group(1) is not None:
                line = int(m.group(1))
            message = message[: m.start()]
        if line is None:  # at end of document
            line = text.count("\n") + (0 if text.endswith("\n") else 1)
        raise ProtocolError(
            f"TOML syntax error: {message}", filename=filename, line=max(line, 1)
        ) from None

    try:
        protocol = msgspec.convert(raw, type=Protocol)
    except msgspec.ValidationError as err:
        message, _, json_path = str(err).rpartition(" - at `")
        if not message:
            message, json_path = str(err), "$`"
        path, detail = _explain(raw, _parse_json_path(json_path.rstrip("`")), message)
        raise ProtocolError(
            detail,
            filename=filename,
            line=_LineFinder(text).find(path),
            where=_format_path(path) or None,
        ) from None

    try:
        _check(protocol)
    except _Invalid as err:
        raise ProtocolError(
            err.detail,
            filename=filename,
            line=_LineFinder(text).find(err.path),
            where=_format_path(err.path),
        ) from None
    return _reflow_texts(protocol)


def _data_dir() -> Traversable:
    return importlib.resources.files("model").joinpath("protocol_data")


@functools.cache
def _builtins() -> tuple[tuple[str, Protocol], ...]:
    files = {
        entry.name.removesuffix(".toml"): entry
        for entry in _data_dir().iterdir()
        if entry.name.endswith(".toml") and entry.is_file()
    }
    order = [k for k in BUILTIN_ORDER if k in files]
    order += sorted(k for k in files if k not in BUILTIN_ORDER)
    loaded: list[tuple[str, Protocol]] = []
    for name in order:
        protocol = parse_protocol_toml(
            files[name].read_text(encoding="utf-8"), filename=f"protocol_data/{name}.toml"
        )
        if protocol.key != name:
            raise ProtocolError(
                f"key {protocol.key!r} does not match the file name",
                filename=f"protocol_data/{name}.toml",
            )
        loaded.append((name, protocol))
    return tuple(loaded)


def builtin_protocols() -> dict[str, Protocol]:
    """The built-in protocols by key, co-development first."""
    return dict(_builtins())


def _looks_like_path(source: str) -> bool:
    return "/" in source or "\\" in source or source.endswith(".toml") or Path(source).exists()


def load_protocol(source: str | Path) -> Protocol:
    """A built-in protocol by key (``"codev"``), or a user's TOML file by path."""
    if isinstance(source, str):
        builtin = builtin_protocols()
        if source in builtin:
            return builtin[source]
        if not _looks_like_path(source):
            raise ProtocolError(
                f"unknown protocol {source!r}: the built-in protocols are "
                f"{', '.join(builtin)}; to use your own, give the path of a .toml file"
            )
    path = Path(source)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProtocolError("file not found", filename=name) from None
    except IsADirectoryError:
        raise ProtocolError("is a directory, not a protocol file", filename=name) from None
    except UnicodeDecodeError:
        raise ProtocolError("not a UTF-8 text file", filename=name) from None
    except OSError as err:
        raise ProtocolError(f"cannot read file: {err.strerror}", filename=name) from None
    return parse_protocol_toml(text, filename=name)


# ------------------------------------------------------- session document round trip


def protocol_to_builtins(protocol: Protocol) -> dict[str, Any]:
    """Plain dicts, lists, str, int and bool (no tuples), to copy the protocol into
    the session document."""
    # through JSON rather than msgspec.to_builtins, which would keep tuples
    obj = msgspec.json.decode(msgspec.json.encode(protocol))
    if not isinstance(obj, dict):  # pragma: no cover - a Struct encodes to a dict
        raise TypeError("expected a dict")
    return obj


def protocol_from_builtins(obj: object) -> Protocol:
    """Read back a protocol copied by :func:`protocol_to_builtins`."""
    try:
        protocol = msgspec.convert(obj, type=Protocol)
    except msgspec.ValidationError as err:
        message, _, json_path = str(err).rpartition(" - at `")
        if not message:
            message, json_path = str(err), "$`"
        path, detail = _explain(obj, _parse_json_path(json_path.rstrip("`")), message)
        raise ProtocolError(
            detail, filename="<session protocol>", where=_format_path(path) or None
        ) from None
    return validate_protocol(protocol, filename="<session protocol>")
