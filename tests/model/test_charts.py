"""The review report's pictures: inline SVG, well-formed, escaped, self-contained."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from model import export
from model.charts import esc
from model.session import Session
from tests.replicas import FakeClock, replica_of, sync_pair

HOSTILE = 'Plan </svg><script>alert("x")</script> & <a href="https://evil.example">\x07'


def _svgs(page: str) -> list[ET.Element]:
    found = re.findall(r"<svg\b.*?</svg>", page, re.S)
    return [ET.fromstring(svg) for svg in found]  # noqa: S314 - our own output


def _no_external_reference(svg: ET.Element) -> None:
    for element in svg.iter():
        for name, value in element.attrib.items():
            assert "href" not in name, (element.tag, name)
            assert "url(" not in value and "://" not in value, (element.tag, value)
        assert element.tag not in ("image", "script", "foreignObject", "use", "style", "a")
    text = ET.tostring(svg, encoding="unicode")
    assert "http" not in text.replace("https://evil.example", "")


def _chain(clock: FakeClock, codev) -> Session:  # type: ignore[no-untyped-def]
    first = Session.create(title=HOSTILE, protocol=codev, name="Anne", clock=clock)
    bob = replica_of(first, "Bob")
    sync_pair(first, bob)
    first.start()
    bob.add_item("action", HOSTILE, owner=bob.me)
    sync_pair(first, bob)
    clock.advance(20 * 60)
    first.end()
    clock.advance(30 * 86_400)
    second = Session.continue_from(first.doc, name="Anne", clock=clock)
    action = second.snapshot.items[0].id
    second.update_action(action, "in_progress", HOSTILE)
    second.start()
    clock.advance(16 * 60)
    second.advance()
    return second


def test_timeline_and_action_history_are_well_formed_svg(clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    session = _chain(clock, codev)
    page = export.render(session.snapshot, "html").decode()
    timeline, actions = _svgs(page)
    assert timeline.get("class") == "chart timeline"
    assert actions.get("class") == "chart actions"
    for svg in (timeline, actions):
        _no_external_reference(svg)
        assert svg.get("role") == "img" and svg.findtext("title")
    phases = timeline.findall("g[@class='phase']")
    assert len(phases) == len(session.snapshot.phases) == 7
    first = phases[0]
    assert first.findtext("title") == (
        "Follow-up of open actions: 15 min planned, 16 min actual")
    rects = first.findall("rect")
    assert [r.get("fill") for r in rects] == ["#cfe3ef", "#2a6f97", "#c0392b"]  # overtime
    assert first.findall("text")[1].text == "16 / 15 min"
    steps = actions.findall("g[@class='step']")
    assert len(steps) == 2  # one action, two sessions
    assert [s.find("rect").get("fill") for s in steps] == ["#8d99ae", "#e09f3e"]  # type: ignore[union-attr]
    assert HOSTILE.replace("\x07", "") in (steps[1].findtext("title") or "")
    assert [t.text for t in steps[1].findall("text")] == ["in progress"]


def test_hostile_text_cannot_escape_the_picture(clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    page = export.render(_chain(clock, codev).snapshot, "html").decode()
    assert "<script>" not in page and "\x07" not in page
    assert 'href="https://evil.example"' not in page
    assert page.count("<svg") == page.count("</svg>") == 2
    assert esc('<a b="c">&\x00') == "&lt;a b=&quot;c&quot;&gt;&amp;"


def test_a_first_session_has_a_timeline_but_no_history(played: Session) -> None:
    page = export.render(played.snapshot, "html").decode()
    svgs = _svgs(page)
    assert [s.get("class") for s in svgs] == ["chart timeline"]
    assert "Actions over time" not in page


def test_a_session_dated_before_1970_still_draws_its_history(codev) -> None:  # type: ignore[no-untyped-def]
    """A laptop with a wrong clock (or a modified client) wrote a negative creation time:
    ``datetime.fromtimestamp`` raised there on Windows, and the export stopped."""
    clock = FakeClock(start=-90 * 86_400_000)
    page = export.render(_chain(clock, codev).snapshot, "html").decode()
    _, actions = _svgs(page)
    days = [text.find("title").tail for text in actions.findall("text")[:2]]  # type: ignore[union-attr]
    assert days == ["?", "?"]
