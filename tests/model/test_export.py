"""Exports: Markdown minutes, the stable JSON schema, self-contained HTML."""

from __future__ import annotations

import json

import pytest

from model import export
from model.session import Session
from tests.replicas import FakeClock, replica_of, sync_pair


@pytest.fixture
def played(session: Session, clock: FakeClock) -> Session:
    """A short co-development session played to the end."""
    bob = replica_of(session, "Bob")
    sync_pair(session, bob)
    session.assign_role("client", bob.me)
    session.start()
    clock.advance(600)
    session.advance()  # questions
    q = session.add_item("question", "Depuis quand <l'équipe> résiste-t-elle ?")
    sync_pair(session, bob)
    bob.mark_answered(q)
    clock.advance(300)
    sync_pair(session, bob)
    session.advance()  # contract
    sync_pair(session, bob)
    bob.add_item("contract", "Comment embarquer l'équipe ?")
    sync_pair(session, bob)
    session.advance()  # advice
    a1 = session.add_item("advice", "Faire un atelier *participatif*")
    session.add_item("advice", "Attendre")
    sync_pair(session, bob)
    bob.mark_retained(a1)
    sync_pair(session, bob)
    session.advance()  # action plan
    sync_pair(session, bob)
    bob.add_item("action", "Planifier l'atelier", owner=bob.me, due="2026-12-10")
    sync_pair(session, bob)
    session.advance()  # learnings
    session.add_item("learning", "Les questions ouvrent des pistes")
    session.end()
    sync_pair(session, bob)
    return session


def test_json_schema(played: Session) -> None:
    data = json.loads(export.render(played.snapshot, "json"))
    assert data["schema"] == "cercle-export/1"
    assert data["title"] == "Le cas de Claire"
    assert data["status"] == "ended"
    assert data["roles"] == {"facilitator": "Anne", "client": "Bob", "scribe": ""}
    assert [p["key"] for p in data["phases"]] == [p.key for p in played.snapshot.phases]
    assert data["phases"][0]["actual_minutes"] == 10
    assert data["phases"][1]["actual_minutes"] == 5
    by_kind = {i["kind"]: i for i in data["items"]}
    assert set(by_kind) == {"question", "contract", "advice", "action", "learning"}
    assert by_kind["question"]["answered"] is True
    assert by_kind["question"]["author"] == "Anne"
    action = by_kind["action"]
    assert (action["owner"], action["due"], action["status"]) == ("Bob", "2026-12-10", "open")
    for item in data["items"]:
        assert {"id", "kind", "text", "author", "phase"} <= set(item)
    retained = [i["text"] for i in data["items"] if i.get("retained")]
    assert retained == ["Faire un atelier *participatif*"]


def test_markdown_minutes(played: Session) -> None:
    md = export.render(played.snapshot, "md").decode()
    assert md.startswith("# Le cas de Claire\n")
    assert "Facilitator: Anne · Client: Bob" in md
    summary = md[md.index("## Summary"):]
    assert summary.index("### Contract") < summary.index("### Retained advice") < summary.index(
        "### Action plan") < summary.index("### Learnings")
    assert "Faire un atelier \\*participatif\\*" in summary
    assert "Attendre" not in summary[summary.index("### Retained advice"):]
    assert "Planifier l'atelier — Bob (Bob, 2026-12-10, open)" in summary


def test_markdown_in_french(played: Session) -> None:
    md = export.render(played.snapshot, "md", "fr").decode()
    assert "## Synthèse" in md and "### Plan d'action" in md and "Porteur: Bob" in md


def test_html_is_self_contained_and_escaped(played: Session) -> None:
    page = export.render(played.snapshot, "html").decode()
    assert page.startswith("<!doctype html>")
    assert "&lt;l&#x27;équipe&gt;" in page
    assert "<l'équipe>" not in page
    for external in ("http://", "https://", "src=", "@import"):
        assert external not in page


def test_unknown_format(played: Session) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        export.render(played.snapshot, "pdf")
