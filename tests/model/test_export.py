"""Exports: Markdown minutes, the stable JSON schema, self-contained HTML."""

from __future__ import annotations

import json

import pytest

from model import export
from model.session import Session


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


def test_json_new_fields(played: Session) -> None:
    data = json.loads(export.render(played.snapshot, "json"))
    assert data["anonymous_kinds"] == []
    assert data["group"] == {"id": played.snapshot.group.id, "name": "Le cas de Claire",
                             "members": []}
    assert data["chain"] == [] and data["closed_actions"] == []
    assert data["proposals"] == [] and data["case"] is None
    assert data["next_meeting"] is None
    assert data["evaluation"] == {"count": 0, "mean": None, "feedback": [],
                                  "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}
    first = data["phases"][0]
    assert (first["planned_minutes"], first["extended_minutes"], first["actual_minutes"],
            first["overtime_minutes"]) == (15, 0, 10, 0)
    action = next(i for i in data["items"] if i["kind"] == "action")
    assert (action["origin"], action["history"], action["updates"]) == (None, [], [])


def test_review_sections(played: Session) -> None:
    bob = next(p.id for p in played.snapshot.participants if p.name == "Bob")
    played.set_next_meeting("2027-01-14", "18:30", "Salle B")
    played.evaluate(4, "Bien")
    data = json.loads(export.render(played.snapshot, "json"))
    assert data["next_meeting"] == {"date": "2027-01-14", "time": "18:30", "place": "Salle B",
                                    "minutes": 100}  # 85, and the follow-up's 15
    assert data["evaluation"]["count"] == 1 and data["evaluation"]["mean"] == 4.0
    assert data["evaluation"]["distribution"]["4"] == 1
    md = export.render(played.snapshot, "md").decode()
    assert "| 1. Presenting the situation | 15 |  | 10 |  |" in md
    assert "## Next meeting\n\n- 2027-01-14 18:30, 100 min — Salle B\n" in md
    assert "## Evaluation\n\n- 1 rating, mean 4.0 / 5 (1: 0, 2: 0, 3: 0, 4: 1, 5: 0)\n" \
           "- Feedback: Bien\n" in md
    fr = export.render(played.snapshot, "md", "fr").decode()
    assert "## Prochaine rencontre" in fr and "## Temps" in fr
    assert bob  # Bob's name is shown where people are listed


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
    assert "## Synthèse" in md and "### Plan d'action" in md and "Porteur\u00a0: Bob" in md


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
