"""Exports of a session: readable minutes (Markdown, HTML) and a stable JSON.

Exports are built from a ``Snapshot`` only; the JSON schema is documented
in ``docs/file-format.md`` and versioned by its ``schema`` field.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import msgspec

from model.snapshot import Item, Snapshot

JSON_SCHEMA = "cercle-export/1"
FORMATS = ("md", "json", "html")

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "minutes": "Minutes", "summary": "Summary", "contract": "Contract",
        "questions": "Questions", "retained": "Retained advice", "actions": "Action plan",
        "learnings": "Learnings", "participants": "Participants", "facilitator": "Facilitator",
        "client": "Client", "scribe": "Scribe", "protocol": "Protocol", "planned": "planned",
        "actual": "actual", "min": "min", "owner": "Owner", "due": "Due", "status": "Status",
        "action": "Action", "answered": "answered", "none": "(none)",
        "question": "Question", "advice": "Advice", "note": "Note", "learning": "Learning",
        "hypothesis": "Hypothesis", "proposal": "Proposal", "for": "for",
        "open": "open", "in_progress": "in progress", "done": "done", "dropped": "dropped",
        "carried_over": "carried over",
    },
    "fr": {
        "minutes": "Compte rendu", "summary": "Synthèse", "contract": "Contrat",
        "questions": "Questions", "retained": "Conseils retenus", "actions": "Plan d'action",
        "learnings": "Apprentissages", "participants": "Participants",
        "facilitator": "Animation", "client": "Porteur", "scribe": "Secrétaire",
        "protocol": "Protocole", "planned": "prévu", "actual": "réel", "min": "min",
        "owner": "Responsable", "due": "Échéance", "status": "Statut", "action": "Action",
        "answered": "répondue", "none": "(aucun)", "question": "Question",
        "advice": "Conseil", "note": "Note", "learning": "Apprentissage",
        "hypothesis": "Hypothèse", "proposal": "Proposition", "for": "pour",
        "open": "ouverte", "in_progress": "en cours", "done": "faite",
        "dropped": "abandonnée", "carried_over": "reportée",
    },
}


def labels(lang: str) -> dict[str, str]:
    return _LABELS.get(lang, _LABELS["en"])


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _local(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


def _minutes(ms: int) -> int:
    return round(ms / 60000)


def to_data(snap: Snapshot) -> dict[str, Any]:
    """The export as plain data (the JSON schema ``cercle-export/1``)."""
    phases = snap.phases
    state = snap.control.phase
    roles = snap.control.roles

    def phase_key(index: int) -> str:
        return phases[index].key if 0 <= index < len(phases) else ""

    items = []
    for item in snap.items:
        entry: dict[str, Any] = {
            "id": item.id, "kind": item.kind, "text": item.text,
            "author": snap.name_of(item.speaker), "author_id": item.speaker,
            "phase": item.phase, "phase_key": phase_key(item.phase),
            "created": _iso(item.created),
        }
        if item.on_behalf:
            entry["written_by"] = snap.name_of(item.author)
        if item.kind == "question":
            entry["answered"] = item.answered
        elif item.kind in ("advice", "hypothesis"):
            entry["retained"] = item.retained
        elif item.kind == "action":
            entry.update(owner=snap.name_of(item.owner) if item.owner else "",
                         owner_id=item.owner, due=item.due, status=item.status or "open",
                         status_note=item.status_note)
        items.append(entry)
    return {
        "schema": JSON_SCHEMA,
        "id": snap.info.id,
        "title": snap.info.title,
        "created": _iso(snap.info.created),
        "protocol": snap.protocol.key if snap.protocol else "",
        "status": state.status,
        "current_phase": state.index,
        "roles": {
            "facilitator": snap.name_of(roles.facilitator),
            "client": snap.name_of(roles.client) if roles.client else "",
            "scribe": snap.name_of(roles.scribe) if roles.scribe else "",
        },
        "participants": [{"id": p.id, "name": p.name} for p in snap.participants],
        "phases": [
            {
                "index": i, "key": ph.key, "title": ph.title.en, "title_fr": ph.title.fr,
                "planned_minutes": ph.minutes,
                "actual_minutes": _minutes(state.actual_for(i)),
            }
            for i, ph in enumerate(phases)
        ],
        "transitions": [{"from": t.from_, "to": t.to, "at": _iso(t.at)}
                        for t in state.transitions],
        "items": items,
    }


def to_json(snap: Snapshot) -> bytes:
    return msgspec.json.format(msgspec.json.encode(to_data(snap)), indent=2) + b"\n"


def _item_line(snap: Snapshot, item: Item, lab: dict[str, str]) -> str:
    text = " ".join(item.text.split())
    extras = []
    if item.kind == "question" and item.answered:
        extras.append("✓ " + lab["answered"])
    if item.kind in ("advice", "hypothesis") and item.retained:
        extras.append("★")
    if item.kind == "action":
        if item.owner:
            extras.append(snap.name_of(item.owner))
        if item.due:
            extras.append(item.due)
        extras.append(lab.get(item.status or "open", item.status))
    suffix = f" ({', '.join(extras)})" if extras else ""
    return f"{text} — {snap.name_of(item.speaker)}{suffix}"


class _Doc:
    """The minutes' structure once, rendered by Markdown and HTML writers."""

    def __init__(self, snap: Snapshot, lang: str) -> None:
        self.snap = snap
        self.lang = lang
        self.lab = labels(lang)

    def sections(self) -> list[tuple[str, list[str]]]:
        snap, lab = self.snap, self.lab
        state = snap.control.phase
        out: list[tuple[str, list[str]]] = []
        for i, phase in enumerate(snap.phases):
            head = (f"{i + 1}. {phase.title.get(self.lang)} ({phase.minutes} {lab['min']} "
                    f"{lab['planned']}, {_minutes(state.actual_for(i))} {lab['min']} "
                    f"{lab['actual']})")
            lines = [f"{lab.get(it.kind, it.kind)}: {_item_line(snap, it, lab)}"
                     for it in snap.items if it.phase == i]
            out.append((head, lines))
        return out

    def summary(self) -> list[tuple[str, list[str]]]:
        snap, lab = self.snap, self.lab

        def lines(items: tuple[Item, ...]) -> list[str]:
            return [_item_line(snap, it, lab) for it in items] or [lab["none"]]

        return [
            (lab["contract"], lines(snap.items_of("contract"))),
            (lab["questions"], lines(snap.items_of("question"))),
            (lab["retained"], lines(tuple(
                it for it in snap.items_of("advice", "hypothesis") if it.retained))),
            (lab["actions"], lines(snap.items_of("action"))),
            (lab["learnings"], lines(snap.items_of("learning"))),
        ]

    def header(self) -> list[str]:
        snap, lab = self.snap, self.lab
        roles = snap.control.roles
        people = ", ".join(p.name for p in snap.participants)
        proto = snap.protocol.name.get(self.lang) if snap.protocol else "?"
        out = [f"{_local(snap.info.created)} · {lab['protocol']}: {proto}",
               f"{lab['participants']}: {people}",
               f"{lab['facilitator']}: {snap.name_of(roles.facilitator)}"]
        if roles.client:
            out[-1] += f" · {lab['client']}: {snap.name_of(roles.client)}"
        if roles.scribe:
            out[-1] += f" · {lab['scribe']}: {snap.name_of(roles.scribe)}"
        return out


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")


def to_markdown(snap: Snapshot, lang: str = "en") -> str:
    """Readable minutes: header, the phases in order, then the summary."""
    doc = _Doc(snap, lang)
    out = [f"# {_md_escape(snap.info.title)}", ""]
    out += [f"{_md_escape(line)}  " for line in doc.header()]
    out += ["", f"## {doc.lab['minutes']}", ""]
    for head, lines in doc.sections():
        out += [f"### {_md_escape(head)}", ""]
        out += [f"- {_md_escape(line)}" for line in lines] or [f"- {doc.lab['none']}"]
        out.append("")
    out += [f"## {doc.lab['summary']}", ""]
    for head, lines in doc.summary():
        out += [f"### {head}", ""] + [f"- {_md_escape(line)}" for line in lines] + [""]
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.5}h1{margin-bottom:.2rem}.meta{color:#555}
h2{border-bottom:2px solid #2a6f97;color:#2a6f97}h3{margin-bottom:.3rem}
li{margin:.15rem 0}@media print{body{margin:0}}
"""


def to_html(snap: Snapshot, lang: str = "en") -> str:
    """A self-contained HTML page (inline CSS, no external requests)."""
    doc = _Doc(snap, lang)
    esc = html.escape
    parts = [
        "<!doctype html>", f'<html lang="{esc(lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(snap.info.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(snap.info.title)}</h1>",
        '<p class="meta">' + "<br>".join(esc(line) for line in doc.header()) + "</p>",
        f"<h2>{esc(doc.lab['minutes'])}</h2>",
    ]
    for head, lines in doc.sections():
        parts.append(f"<h3>{esc(head)}</h3><ul>")
        parts += [f"<li>{esc(line)}</li>" for line in lines] or [
            f"<li>{esc(doc.lab['none'])}</li>"]
        parts.append("</ul>")
    parts.append(f"<h2>{esc(doc.lab['summary'])}</h2>")
    for head, lines in doc.summary():
        parts.append(f"<h3>{esc(head)}</h3><ul>")
        parts += [f"<li>{esc(line)}</li>" for line in lines]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render(snap: Snapshot, fmt: str, lang: str = "en") -> bytes:
    """The export of ``snap`` in ``fmt`` (md, json or html) as bytes."""
    if fmt == "json":
        return to_json(snap)
    if fmt == "md":
        return to_markdown(snap, lang).encode()
    if fmt == "html":
        return to_html(snap, lang).encode()
    raise ValueError(f"unknown export format '{fmt}' (choose md, json or html)")
