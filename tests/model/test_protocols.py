"""Tests for model/protocols.py and the built-in protocol files."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.protocols import (
    CONTRIBUTORS,
    DEFAULT_PROTOCOL,
    ITEM_KINDS,
    LocalText,
    Phase,
    Protocol,
    ProtocolError,
    builtin_protocols,
    load_protocol,
    parse_protocol_toml,
    protocol_from_builtins,
    protocol_to_builtins,
    validate_protocol,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocols.md"


def all_texts(p: Protocol) -> list[tuple[str, LocalText]]:
    texts = [("name", p.name), ("description", p.description)]
    for ph in p.phases:
        texts += [(f"{ph.key}.title", ph.title), (f"{ph.key}.instruction", ph.instruction)]
    return texts


# --------------------------------------------------------------------------- built-ins


def test_builtins_are_all_there_codev_first() -> None:
    protocols = builtin_protocols()
    assert DEFAULT_PROTOCOL == "codev"
    assert list(protocols) == [
        "codev",
        "gapp",
        "action-learning",
        "intervision",
        "troika",
        "case-clinic",
    ]
    for key, p in protocols.items():
        assert p.key == key
        assert load_protocol(key) is p


def test_builtin_protocols_is_cached_but_returns_a_fresh_dict() -> None:
    a = builtin_protocols()
    a.pop("codev")
    b = builtin_protocols()
    assert "codev" in b
    assert b["gapp"] is builtin_protocols()["gapp"]


@pytest.mark.parametrize("key", sorted(builtin_protocols()))
def test_builtin_is_complete_and_bilingual(key: str) -> None:
    p = builtin_protocols()[key]
    validate_protocol(p)
    for where, text in all_texts(p):
        assert text.en.strip() and text.fr.strip(), where
        assert text.en != text.fr or where.endswith("title"), where
        assert "\n" not in text.en and "\n" not in text.fr, where
        assert "  " not in text.en and "  " not in text.fr, where
        # French typography: a no-break space before double punctuation
        assert not re.search(r" [;:?!»]", text.fr), (where, text.fr)
        assert "\u00a0" not in text.en, where
    # instructions are real paragraphs, not placeholders
    for ph in p.phases:
        assert len(ph.instruction.en) > 60 and len(ph.instruction.fr) > 60, ph.key
        assert ph.title.en[0].isupper() and ph.title.fr[0].isupper(), ph.key
        assert set(ph.kinds) <= set(ITEM_KINDS)
        assert set(ph.contributors) <= set(CONTRIBUTORS)
    keys = [ph.key for ph in p.phases]
    assert len(keys) == len(set(keys))
    low, high = p.group_size
    assert 2 <= low <= high


@pytest.mark.parametrize(
    ("key", "has_follow_up"),
    [
        ("codev", True),
        ("gapp", True),
        ("action-learning", True),
        ("intervision", True),
        ("troika", False),
        ("case-clinic", False),
    ],
)
def test_follow_up_phase_where_the_group_meets_regularly(key: str, has_follow_up: bool) -> None:
    p = builtin_protocols()[key]
    follow_ups = [ph for ph in p.phases if ph.follow_up]
    if has_follow_up:
        assert len(follow_ups) == 1
        assert p.phases[0].follow_up
        assert p.phases[0].key == "follow-up"
    else:
        assert follow_ups == []


def test_codev_follows_payette_and_champagne() -> None:
    p = builtin_protocols()["codev"]
    assert [ph.key for ph in p.phases] == [
        "follow-up",
        "expose",
        "questions",
        "contract",
        "advice",
        "synthesis",
        "learnings",
    ]
    by_key = {ph.key: ph for ph in p.phases}
    assert by_key["follow-up"].kinds == ("action", "note", "proposal")
    assert by_key["follow-up"].contributors == ("everyone",)
    assert by_key["expose"].contributors == ("consultants",)
    assert by_key["expose"].kinds == ("note",)
    assert by_key["questions"].kinds == ("question",)
    assert by_key["questions"].contributors == ("consultants",)
    assert by_key["contract"].kinds == ("contract",)
    assert by_key["contract"].contributors == ("client",)
    assert by_key["advice"].kinds == ("advice",)
    assert by_key["advice"].contributors == ("consultants",)
    assert set(by_key["synthesis"].kinds) == {"action", "note"}
    assert by_key["synthesis"].contributors == ("client",)
    assert by_key["learnings"].kinds == ("learning",)
    assert by_key["learnings"].contributors == ("everyone",)
    assert 60 <= p.total_minutes(continuing=False) <= 180
    assert 60 <= p.total_minutes(continuing=True) <= 180


def test_kinds_specific_to_each_method() -> None:
    protocols = builtin_protocols()
    gapp = protocols["gapp"]
    hyp = gapp.phase("hypotheses")
    assert hyp.kinds == ("hypothesis",)
    assert "client" not in hyp.contributors and "everyone" not in hyp.contributors
    assert gapp.phase("review").kinds == ("learning",)
    assert "action" in protocols["action-learning"].phase("action").kinds
    assert protocols["action-learning"].phase("review").kinds == ("learning",)
    assert protocols["intervision"].phase("key-question").kinds == ("contract",)
    assert protocols["troika"].phase("consulting").kinds == ("advice",)
    assert protocols["troika"].group_size == (3, 3)
    stillness = protocols["case-clinic"].phase("stillness")
    assert stillness.kinds == () and stillness.contributors == ()
    with pytest.raises(KeyError):
        gapp.phase("nope")


def test_time_boxes_are_sane() -> None:
    protocols = builtin_protocols()
    troika = protocols["troika"]
    assert troika.total_minutes() <= 15
    assert all(ph.minutes <= 5 for ph in troika.phases)
    for key in ("codev", "gapp", "action-learning", "intervision", "case-clinic"):
        total = protocols[key].total_minutes(continuing=True)
        assert 45 <= total <= 180, key
    for p in protocols.values():
        assert all(1 <= ph.minutes <= 60 for ph in p.phases)


# ----------------------------------------------------------------------------- types


def test_phases_for() -> None:
    p = builtin_protocols()["codev"]
    assert p.phases_for(continuing=True) == p.phases
    fresh = p.phases_for(continuing=False)
    assert fresh == p.phases[1:]
    assert not any(ph.follow_up for ph in fresh)
    troika = builtin_protocols()["troika"]
    assert troika.phases_for(False) == troika.phases_for(True) == troika.phases
    assert p.total_minutes(True) == p.total_minutes(False) + p.phases[0].minutes


def test_local_text_get() -> None:
    t = LocalText(en="Advice", fr="Conseils")
    assert t.get("en") == "Advice"
    assert t.get("fr") == "Conseils"
    assert t.get("fr_CA") == "Conseils"
    assert t.get("FR-be") == "Conseils"
    assert t.get("de") == "Advice"
    assert t.get("") == "Advice"


def test_structs_are_frozen() -> None:
    p = builtin_protocols()["codev"]
    with pytest.raises(AttributeError):
        p.key = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        p.phases[0].minutes = 3  # type: ignore[misc]


def test_round_trip_through_builtins() -> None:
    for p in builtin_protocols().values():
        obj = protocol_to_builtins(p)
        assert isinstance(obj, dict)
        assert isinstance(obj["phases"], list)
        # plain JSON-compatible data, as stored in the session document
        assert msgspec.json.decode(msgspec.json.encode(obj)) == obj
        again = protocol_from_builtins(obj)
        assert again == p
        assert protocol_from_builtins(msgspec.json.decode(msgspec.json.encode(obj))) == p


def test_from_builtins_rejects_a_damaged_copy() -> None:
    obj = protocol_to_builtins(builtin_protocols()["codev"])
    obj["phases"][2]["minutes"] = 0
    with pytest.raises(ProtocolError, match=r"phases\[2\]\.minutes: Expected `int` >= 1, got 0"):
        protocol_from_builtins(obj)
    obj = protocol_to_builtins(builtin_protocols()["codev"])
    obj["phases"][3]["key"] = obj["phases"][2]["key"]
    with pytest.raises(ProtocolError, match="duplicate phase key 'questions'"):
        protocol_from_builtins(obj)
    with pytest.raises(ProtocolError):
        protocol_from_builtins("codev")


# ---------------------------------------------------------------------- user files

VALID = '''\
key = "mine"
group_size = [4, 6]

[name]
en = "My protocol"
fr = "Mon protocole"

[description]
en = """
A protocol with [[phases]] and key = "x" inside a string,
to check the line finder skips strings.
"""
fr = "Un protocole."

[[phases]]
key = "expose"
minutes = 10
contributors = ["consultants"]
kinds = ["note"]
title = { en = "Exposé", fr = "Exposé" }
instruction.en = "The client speaks."
instruction.fr = "Le porteur parle."

[[phases]]
key = "advice"
minutes = 20
contributors = ["consultants"]
kinds = [
  "advice",
  "proposal",
]
title.en = "Advice"
title.fr = "Conseils"

[phases.instruction]
en = "Consultants give advice."
fr = "Les consultants conseillent."
'''

# Line numbers in VALID (1-based), checked by test_valid_line_numbers.
L_KEY = 1
L_GROUP = 2
L_PHASE0 = 15
L_PHASE0_MINUTES = 17
L_PHASE0_KINDS = 19
L_PHASE0_TITLE = 20
L_PHASE1 = 24
L_PHASE1_KEY = 25
L_PHASE1_MINUTES = 26
L_PHASE1_CONTRIB = 27
L_PHASE1_KIND1 = 30
L_PHASE1_TITLE_FR = 33
L_PHASE1_INSTRUCTION = 35
L_PHASE1_INSTRUCTION_EN = 36
#: VALID up to its first [[phases]] table (a string earlier in the file mentions one)
HEAD = VALID[: VALID.index("\n[[phases]]") + 1]


def test_valid_line_numbers() -> None:
    lines = VALID.splitlines()

    def at(n: int) -> str:
        return lines[n - 1]

    assert at(L_KEY).startswith("key =")
    assert at(L_GROUP).startswith("group_size")
    assert at(L_PHASE0) == at(L_PHASE1) == "[[phases]]"
    assert at(L_PHASE0_MINUTES) == "minutes = 10"
    assert at(L_PHASE0_KINDS).startswith("kinds =")
    assert at(L_PHASE0_TITLE).startswith("title =")
    assert at(L_PHASE1_KEY) == 'key = "advice"'
    assert at(L_PHASE1_MINUTES) == "minutes = 20"
    assert at(L_PHASE1_CONTRIB).startswith("contributors")
    assert at(L_PHASE1_KIND1) == '  "proposal",'
    assert at(L_PHASE1_TITLE_FR).startswith("title.fr")
    assert at(L_PHASE1_INSTRUCTION) == "[phases.instruction]"
    assert at(L_PHASE1_INSTRUCTION_EN).startswith("en =")


def replace_line(text: str, n: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[n - 1] = new + "\n"
    return "".join(lines)


def test_valid_user_file_loads_by_path(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text(VALID, encoding="utf-8")
    for source in (f, str(f)):
        p = load_protocol(source)
        assert p.key == "mine"
        assert p.group_size == (4, 6)
        assert [ph.key for ph in p.phases] == ["expose", "advice"]
        assert p.phases[1].kinds == ("advice", "proposal")
        assert p.phases[1].instruction.fr == "Les consultants conseillent."
        assert p.description.en.startswith("A protocol with [[phases]]")
        assert p.phases_for(False) == p.phases
    # defaults
    p = parse_protocol_toml(replace_line(VALID, L_GROUP, ""))
    assert p.group_size == (3, 12)
    assert p.phases[0].follow_up is False


def test_texts_are_reflowed_into_paragraphs() -> None:
    text = VALID.replace(
        'fr = "Un protocole."',
        'fr = """\n  Un  protocole\n  sur deux lignes.\n\n  Suite\u00a0!\n"""',
    )
    p = parse_protocol_toml(text)
    assert p.description.en == (
        'A protocol with [[phases]] and key = "x" inside a string, '
        "to check the line finder skips strings."
    )
    assert p.description.fr == "Un protocole sur deux lignes.\n\nSuite\u00a0!"


def test_windows_files_load() -> None:
    p = parse_protocol_toml("\ufeff" + VALID.replace("\n", "\r\n"))
    assert p.key == "mine"
    assert p.description.en.endswith("skips strings.")


def error_for(text: str, filename: str = "my.toml") -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse_protocol_toml(text, filename=filename)
    return info.value


MALFORMED = [
    (
        "syntax error",
        replace_line(VALID, L_PHASE1_MINUTES, "minutes = "),
        L_PHASE1_MINUTES,
        "TOML syntax error: Invalid value",
    ),
    (
        "duplicate TOML key",
        replace_line(VALID, L_PHASE1_CONTRIB, "minutes = 5"),
        L_PHASE1_CONTRIB,
        "TOML syntax error: Cannot overwrite a value",
    ),
    (
        "unterminated array at end of file",
        VALID + "kinds = [\n",
        VALID.count("\n") + 1,
        "TOML syntax error",
    ),
    (
        "negative minutes",
        replace_line(VALID, L_PHASE1_MINUTES, "minutes = -5"),
        L_PHASE1_MINUTES,
        "phases[1].minutes: Expected `int` >= 1, got -5",
    ),
    (
        "zero minutes",
        replace_line(VALID, L_PHASE0_MINUTES, "minutes = 0"),
        L_PHASE0_MINUTES,
        "phases[0].minutes: Expected `int` >= 1, got 0",
    ),
    (
        "too many minutes",
        replace_line(VALID, L_PHASE0_MINUTES, "minutes = 600"),
        L_PHASE0_MINUTES,
        "phases[0].minutes: Expected `int` <= 240, got 600",
    ),
    (
        "minutes as text",
        replace_line(VALID, L_PHASE0_MINUTES, 'minutes = "ten"'),
        L_PHASE0_MINUTES,
        "phases[0].minutes: Expected `int`, got `str`",
    ),
    (
        "unknown kind on one line",
        replace_line(VALID, L_PHASE0_KINDS, 'kinds = ["note", "opinion"]'),
        L_PHASE0_KINDS,
        "phases[0].kinds[1]: unknown item kind 'opinion'; expected one of: question,",
    ),
    (
        "unknown kind in a multi-line array",
        replace_line(VALID, L_PHASE1_KIND1, '  "proposals",'),
        L_PHASE1_KIND1,
        "phases[1].kinds[1]: unknown item kind 'proposals'",
    ),
    (
        "unknown contributor",
        replace_line(VALID, L_PHASE1_CONTRIB, 'contributors = ["coaches"]'),
        L_PHASE1_CONTRIB,
        "phases[1].contributors[0]: unknown contributor 'coaches'; expected one of: "
        "facilitator, client, consultants, everyone",
    ),
    (
        "missing field in a phase",
        replace_line(VALID, L_PHASE1_MINUTES, ""),
        L_PHASE1,
        "phases[1]: Object missing required field `minutes`",
    ),
    (
        "missing French in an inline table",
        replace_line(VALID, L_PHASE0_TITLE, 'title = { en = "Exposé" }'),
        L_PHASE0_TITLE,
        "phases[0].title: Object missing required field `fr`",
    ),
    (
        "missing French in a dotted key",
        replace_line(VALID, L_PHASE1_TITLE_FR, ""),
        L_PHASE1_TITLE_FR - 1,
        "phases[1].title: Object missing required field `fr`",
    ),
    (
        "unknown field in a phase",
        replace_line(VALID, L_PHASE1_MINUTES, "minutes = 20\ncolour = 'red'"),
        L_PHASE1_MINUTES + 1,
        "phases[1].colour: unknown field `colour`",
    ),
    (
        "unknown field at the top",
        replace_line(VALID, L_GROUP, "group_size = [4, 6]\nauthor = 'me'"),
        L_GROUP + 1,
        "author: unknown field `author`",
    ),
    (
        "unknown field in an inline table",
        replace_line(VALID, L_PHASE0_TITLE, 'title = { en = "E", fr = "E", de = "E" }'),
        L_PHASE0_TITLE,
        "phases[0].title.de: unknown field `de`",
    ),
    (
        "empty text in a sub-table",
        replace_line(VALID, L_PHASE1_INSTRUCTION_EN, 'en = ""'),
        L_PHASE1_INSTRUCTION_EN,
        'phases[1].instruction.en: Expected `str` of length >= 1, got ""',
    ),
    (
        "blank text",
        replace_line(VALID, L_PHASE1_INSTRUCTION_EN, 'en = "   "'),
        L_PHASE1_INSTRUCTION_EN,
        "phases[1].instruction.en: text is blank",
    ),
    (
        "duplicate phase keys",
        replace_line(VALID, L_PHASE1_KEY, 'key = "expose"'),
        L_PHASE1_KEY,
        "phases[1].key: duplicate phase key 'expose' (already used by phases[0])",
    ),
    (
        "bad phase key",
        replace_line(VALID, L_PHASE1_KEY, 'key = "Advice phase"'),
        L_PHASE1_KEY,
        "phases[1].key: Expected `str` matching regex",
    ),
    (
        "bad protocol key",
        replace_line(VALID, L_KEY, 'key = "9lives"'),
        L_KEY,
        "key: Expected `str` matching regex '^[a-z][a-z0-9_-]*$', got \"9lives\"",
    ),
    (
        "empty phase list",
        replace_line(HEAD, 3, "phases = []"),
        3,
        "phases: no phases: a protocol needs at least one [[phases]] table",
    ),
    (
        "kind listed twice",
        replace_line(VALID, L_PHASE1_KIND1, '  "advice",'),
        L_PHASE1_KIND1,
        "phases[1].kinds[1]: 'advice' is listed twice",
    ),
    (
        "kinds without contributors",
        replace_line(VALID, L_PHASE1_CONTRIB, "contributors = []"),
        L_PHASE1_CONTRIB,
        "phases[1].contributors: item kinds are given but no contributors",
    ),
    (
        "follow-up phase after another phase",
        replace_line(VALID, L_PHASE1_KEY, 'key = "advice"\nfollow_up = true'),
        L_PHASE1_KEY + 1,
        "phases[1].follow_up: a follow-up phase must come before the other phases",
    ),
    (
        "group size upside down",
        replace_line(VALID, L_GROUP, "group_size = [8, 4]"),
        L_GROUP,
        "group_size: minimum 8 is larger than maximum 4",
    ),
    (
        "group size too small",
        replace_line(VALID, L_GROUP, "group_size = [1, 4]"),
        L_GROUP,
        "group_size[0]: Expected `int` >= 2, got 1",
    ),
    (
        "group size with three numbers",
        replace_line(VALID, L_GROUP, "group_size = [3, 4, 5]"),
        L_GROUP,
        "group_size: Expected `array` of length 2, got 3",
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "line", "message"), MALFORMED, ids=[case[0] for case in MALFORMED]
)
def test_malformed_file_reports_file_and_line(
    name: str, text: str, line: int, message: str
) -> None:
    err = error_for(text)
    assert err.filename == "my.toml"
    assert err.line == line, (name, str(err))
    assert str(err).startswith(f"my.toml:{line}: "), (name, str(err))
    assert message in str(err), (name, str(err))
    assert isinstance(err, ValueError)


def test_no_phases_at_all_names_the_file() -> None:
    err = error_for(HEAD)
    assert str(err) == "my.toml: no phases: a protocol needs at least one [[phases]] table"
    assert err.line is None


def test_missing_top_level_field_names_the_file() -> None:
    err = error_for(replace_line(VALID, L_KEY, ""))
    assert str(err) == "my.toml: Object missing required field `key`"


def test_all_follow_up_is_rejected() -> None:
    text = VALID.replace('key = "expose"\n', 'key = "expose"\nfollow_up = true\n')
    text = text.replace('key = "advice"\n', 'key = "advice"\nfollow_up = true\n')
    err = error_for(text)
    assert "every phase is a follow-up phase" in str(err)
    assert err.line == L_PHASE0


def test_error_in_file_loaded_by_path_names_the_path(tmp_path: Path) -> None:
    f = tmp_path / "broken.toml"
    f.write_text(replace_line(VALID, L_PHASE1_MINUTES, "minutes = 0"), encoding="utf-8")
    with pytest.raises(ProtocolError) as info:
        load_protocol(f)
    assert str(info.value) == (
        f"{f}:{L_PHASE1_MINUTES}: phases[1].minutes: Expected `int` >= 1, got 0"
    )


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ProtocolError) as info:
        load_protocol(missing)
    assert str(info.value) == f"{missing}: file not found"
    with pytest.raises(ProtocolError, match="file not found"):
        load_protocol(str(missing))


def test_directory_and_binary_file(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="is a directory"):
        load_protocol(tmp_path)
    f = tmp_path / "bin.toml"
    f.write_bytes(b"\xff\xfe\x00key")
    with pytest.raises(ProtocolError, match="not a UTF-8 text file"):
        load_protocol(f)


def test_unknown_builtin_name() -> None:
    with pytest.raises(ProtocolError) as info:
        load_protocol("kodev")
    message = str(info.value)
    assert "unknown protocol 'kodev'" in message
    assert "codev, gapp" in message
    assert ".toml" in message


def test_line_finder_survives_odd_but_valid_toml() -> None:
    text = (
        VALID.replace('fr = "Un protocole."', "fr = '''Un \"\"\"protocole\"\"\" [x]'''")
        .replace("[[phases]]", "[[ phases ]]  # a phase")
        .replace("minutes = 20", 'minutes = 0 # zero "minutes"')
    )
    err = error_for(text)
    assert err.line == L_PHASE1_MINUTES
    quoted = VALID.replace('key = "advice"', '"key" = "advice"').replace(
        "minutes = 20", "'minutes' = -1"
    )
    assert error_for(quoted).line == L_PHASE1_MINUTES


# ------------------------------------------------------------------------------ docs


def docs_example() -> str:
    blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    return str(blocks[0])


def test_docs_example_loads(tmp_path: Path) -> None:
    f = tmp_path / "weekly.toml"
    f.write_text(docs_example(), encoding="utf-8")
    p = load_protocol(f)
    assert p.key == "weekly-codev"
    assert p.phases[0].follow_up
    assert len(p.phases_for(continuing=False)) == len(p.phases) - 1
    assert protocol_from_builtins(protocol_to_builtins(p)) == p


def test_docs_list_every_builtin_with_its_minutes() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    for key, p in builtin_protocols().items():
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{key}`"))
        minutes = [int(m) for m in re.findall(r" (\d+)(?= ·| \|)", row)]
        assert minutes == [ph.minutes for ph in p.phases], key


def test_docs_error_example_is_what_the_code_says() -> None:
    text = docs_example()
    lines = text.splitlines(keepends=True)
    # the second phase's minutes line
    n = [i for i, line in enumerate(lines, 1) if line.startswith("minutes")][1]
    err = error_for(replace_line(text, n, "minutes = 0"), filename="weekly.toml")
    doc = DOCS.read_text(encoding="utf-8")
    assert str(err) in doc


# -------------------------------------------------------------------------- property


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.integers(min_value=0, max_value=len(VALID)),
    length=st.integers(min_value=0, max_value=40),
    insert=st.text(alphabet="[]{}\"'=#,.\n abc019-_", max_size=12),
)
def test_damaged_files_raise_only_protocol_errors(start: int, length: int, insert: str) -> None:
    text = VALID[:start] + insert + VALID[start + length :]
    try:
        p = parse_protocol_toml(text, filename="x.toml")
    except ProtocolError as err:
        assert str(err).startswith("x.toml:")
        if err.line is not None:
            assert 1 <= err.line <= text.count("\n") + 1
    else:
        assert isinstance(p, Protocol)
        assert all(isinstance(ph, Phase) for ph in p.phases)
