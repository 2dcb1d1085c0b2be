"""Exports of a session: readable minutes (Markdown, HTML), a stable JSON, and
the next meeting as an iCalendar file.

Exports are built from a ``Snapshot`` only; the JSON schema is documented
in ``docs/file-format.md`` and versioned by its ``schema`` field. Items of
kinds the session made anonymous carry no author in any export: no name, no
participant id, no "written by" (see ``docs/anonymity.md``).
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from model import charts, ics
from model.records import ActionOrigin, ActionStep, ActionTrack, Item
from model.schema import ITEM_ID_LENGTH, ITEM_ID_PREFIX
from model.snapshot import Snapshot
from model.timestamps import local_from_ms, utc_from_ms

JSON_SCHEMA = "cercle-export/1"
FORMATS = ("md", "json", "html")  # the minutes
ALL_FORMATS = (*FORMATS, "ics")  # and the next meeting, when one is set
ANONYMOUS = "anonymous"  # the JSON author of an anonymous item

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
        "carried_over": "carried over", "group": "Group", "session_n": "session",
        "earlier": "earlier sessions", "time": "Time", "timeline": "Planned and actual time",
        "phase": "Phase", "extended": "added", "overtime": "overtime", "total": "Total",
        "case": "Choice of the case", "votes": "votes", "vote": "vote", "chosen": "chosen",
        "history": "Actions over time", "from": "from", "evaluation": "Evaluation",
        "ratings": "ratings", "rating": "rating", "mean": "mean", "feedback": "Feedback",
        "meeting": "Next meeting", "place": "place", "whole_day": "whole day",
        "anonymous_kinds": "Anonymous", ":": ": ",
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
        "dropped": "abandonnée", "carried_over": "reportée", "group": "Groupe",
        "session_n": "séance", "earlier": "séances précédentes", "time": "Temps",
        "timeline": "Temps prévu et temps réel", "phase": "Étape", "extended": "ajouté",
        "overtime": "dépassement", "total": "Total", "case": "Choix du cas",
        "votes": "voix", "vote": "voix", "chosen": "retenu", "history": "Suivi des actions",
        "from": "issue de", "evaluation": "Évaluation", "ratings": "notes", "rating": "note",
        "mean": "moyenne", "feedback": "Retours", "meeting": "Prochaine rencontre",
        "place": "lieu", "whole_day": "toute la journée", "anonymous_kinds": "Anonymes",
        ":": "\u00a0: ",  # French puts a (no-break) space before a colon
    },
}


def labels(lang: str) -> dict[str, str]:
    return _LABELS.get(lang, _LABELS["en"])


# Times come from peers' clocks: one that is no time at all (negative, NaN, year
# 20,000) is written as null in JSON and "?" in the minutes, never an exception.
UNKNOWN_TIME = "?"


def _iso(ms: int) -> str | None:
    moment = utc_from_ms(ms)
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _local(ms: int) -> str:
    moment = local_from_ms(ms)
    return UNKNOWN_TIME if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _minutes(ms: int) -> int:
    return round(ms / 60000) if math.isfinite(ms) else 0


def _day(ms: int) -> str:
    moment = local_from_ms(ms)
    return UNKNOWN_TIME if moment is None else moment.strftime("%Y-%m-%d")


def _origin_data(origin: ActionOrigin | None) -> dict[str, Any] | None:
    if origin is None:
        return None
    return {"session": origin.session, "title": origin.title,
            "created": _iso(origin.created), "item": origin.item}


def _steps_data(steps: tuple[ActionStep, ...]) -> list[dict[str, Any]]:
    return [{"session": s.session, "title": s.title, "created": _iso(s.created),
             "status": s.status,
             "updates": [{"status": u.status, "note": u.note, "by": u.by,
                          "at": _iso(u.at) if u.at else None} for u in s.updates]}
            for s in steps]


def _item_data(snap: Snapshot, item: Item, phase_key: str) -> dict[str, Any]:
    # An item id starts with its author's actor (format 3), which the participants' ids
    # would give away: an anonymous item is exported under its random part only.
    public = item.id[ITEM_ID_PREFIX:] if item.anonymous and len(item.id) == ITEM_ID_LENGTH \
        else item.id
    entry: dict[str, Any] = {"id": public, "kind": item.kind, "text": item.text}
    if item.anonymous:
        entry["author"] = ANONYMOUS
    else:
        entry["author"] = snap.name_of(item.speaker)
        entry["author_id"] = item.speaker
    entry.update(phase=item.phase, phase_key=phase_key, created=_iso(item.created))
    if item.on_behalf and not item.anonymous:
        entry["written_by"] = snap.name_of(item.author)
    if item.kind == "question":
        entry["answered"] = item.answered
    elif item.kind in ("advice", "hypothesis"):
        entry["retained"] = item.retained
    elif item.kind == "action":
        entry.update(owner=snap.owner_label(item), owner_id=snap.owner_id(item),
                     due=item.due, status=item.status or "open",
                     status_note=item.status_note,
                     updates=[{"status": u.status, "note": u.note, "by": snap.name_of(u.by),
                               "at": _iso(u.at)} for u in item.updates],
                     origin=_origin_data(item.origin), history=_steps_data(item.history))
    return entry


def to_data(snap: Snapshot) -> dict[str, Any]:
    """The export as plain data (the JSON schema ``cercle-export/1``)."""
    phases = snap.phases
    state = snap.control.phase
    roles = snap.control.roles
    control = snap.control

    def phase_key(index: int) -> str:
        return phases[index].key if 0 <= index < len(phases) else ""

    evaluation = snap.evaluation
    meeting = control.meeting
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
        "anonymous_kinds": list(snap.info.anonymous_kinds),
        "group": {"id": snap.group.id, "name": snap.group.name,
                  "members": list(snap.group.members)},
        "chain": [{"id": c.id, "title": c.title, "created": _iso(c.created)}
                  for c in snap.chain],
        "phases": [
            {
                "index": row.index, "key": row.key, "title": row.title.en,
                "title_fr": row.title.fr, "planned_minutes": row.planned_minutes,
                "actual_minutes": row.actual_minutes,
                "extended_minutes": row.extended_minutes,
                "overtime_minutes": row.overtime_minutes,
            }
            for row in snap.plan()
        ],
        "transitions": [{"from": t.from_, "to": t.to, "at": _iso(t.at)}
                        for t in state.transitions],
        "items": [_item_data(snap, item, phase_key(item.phase)) for item in snap.items],
        "closed_actions": [
            {"text": c.text, "owner": c.owner, "due": c.due, "status": c.status,
             "origin": _origin_data(c.origin), "history": _steps_data(c.history)}
            for c in snap.info.closed_actions],
        "proposals": [{"id": t.proposal, "text": t.text, "proposer": snap.name_of(t.proposer),
                       "votes": t.votes, "voters": [snap.name_of(v) for v in t.voters]}
                      for t in snap.tally],
        "case": control.case or None,
        "evaluation": {
            "count": evaluation.count,
            "mean": round(evaluation.mean, 2) if evaluation.count else None,
            "distribution": {str(r + 1): n for r, n in enumerate(evaluation.distribution)},
            "feedback": list(evaluation.feedback),
        },
        "next_meeting": None if meeting is None else {
            "date": meeting.date, "time": meeting.time, "place": meeting.place,
            "minutes": meeting.minutes},
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
        owner = snap.owner_label(item)
        if owner:
            extras.append(owner)
        if item.due:
            extras.append(item.due)
        extras.append(lab.get(item.status or "open", item.status))
        if item.status_note:
            extras.append(f"“{' '.join(item.status_note.split())}”")
        if item.origin is not None:
            extras.append(f"{lab['from']} “{item.origin.title}” {_day(item.origin.created)}")
    suffix = f" ({', '.join(extras)})" if extras else ""
    author = "" if item.anonymous else f" — {snap.author_name(item)}"
    return f"{text}{author}{suffix}"


def _track_line(track: ActionTrack, lab: dict[str, str]) -> str:
    steps = []
    for step in track.steps:
        notes = "".join(f" “{' '.join(n.split())}”" for n in step.notes)
        steps.append(f"{_day(step.created)} {lab.get(step.status, step.status)}{notes}")
    owner = f" ({track.owner})" if track.owner else ""
    return f"{' '.join(track.text.split())}{owner}{lab[':']}" + " → ".join(steps)


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
            lines = [f"{lab.get(it.kind, it.kind)}{lab[':']}{_item_line(snap, it, lab)}"
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
        out = [f"{_local(snap.info.created)} · {lab['protocol']}{lab[':']}{proto}"]
        if snap.chain:
            earlier = ", ".join(_day(link.created) for link in snap.chain)
            out.append(f"{lab['group']}{lab[':']}{snap.group.name} · {lab['session_n']} "
                       f"{len(snap.chain) + 1} ({lab['earlier']}{lab[':']}{earlier})")
        out += [f"{lab['participants']}{lab[':']}{people}",
                f"{lab['facilitator']}{lab[':']}{snap.name_of(roles.facilitator)}"]
        if roles.client:
            out[-1] += f" · {lab['client']}{lab[':']}{snap.name_of(roles.client)}"
        if roles.scribe:
            out[-1] += f" · {lab['scribe']}{lab[':']}{snap.name_of(roles.scribe)}"
        if snap.info.anonymous_kinds:
            kinds = ", ".join(lab.get(k, k) for k in snap.info.anonymous_kinds)
            out.append(f"{lab['anonymous_kinds']}{lab[':']}{kinds}")
        return out

    def plan_rows(self) -> list[list[str]]:
        """The time table: phase, planned, added, actual, overtime (minutes)."""
        rows = []
        for row in self.snap.plan():
            rows.append([f"{row.index + 1}. {row.title.get(self.lang)}",
                         str(row.planned_minutes),
                         f"+{row.extended_minutes}" if row.extended_minutes else "",
                         str(row.actual_minutes),
                         f"+{row.overtime_minutes}" if row.overtime_minutes else ""])
        return rows

    def plan_head(self) -> list[str]:
        lab = self.lab
        return [lab["phase"], f"{lab['planned']} ({lab['min']})", lab["extended"],
                f"{lab['actual']} ({lab['min']})", lab["overtime"]]

    def case(self) -> list[str]:
        snap, lab = self.snap, self.lab
        lines = []
        for row in snap.tally:
            chosen = f" — {lab['chosen']}" if row.proposal == snap.control.case else ""
            lines.append(f"{' '.join(row.text.split())} — {snap.name_of(row.proposer)}{lab[':']}"
                         f"{row.votes} {lab['votes'] if row.votes != 1 else lab['vote']}"
                         f"{chosen}")
        return lines

    def history(self) -> list[str]:
        if not self.snap.chain:
            return []
        return [_track_line(t, self.lab) for t in self.snap.action_tracks()]

    def evaluation(self) -> list[str]:
        ev, lab = self.snap.evaluation, self.lab
        if not ev.count and not ev.feedback:
            return []
        lines = []
        if ev.count:
            spread = ", ".join(f"{r + 1}: {n}" for r, n in enumerate(ev.distribution))
            noun = lab["rating"] if ev.count == 1 else lab["ratings"]
            lines.append(f"{ev.count} {noun}, {lab['mean']} {ev.mean:.1f} / 5 "
                         f"({spread})")
        lines += [f"{lab['feedback']}{lab[':']}{line}" for line in ev.feedback]
        return lines

    def meeting(self) -> list[str]:
        meeting, lab = self.snap.control.meeting, self.lab
        if meeting is None:
            return []
        when = f"{meeting.date} {meeting.time}" if meeting.time else (
            f"{meeting.date} ({lab['whole_day']})")
        if meeting.minutes and meeting.time:
            when += f", {meeting.minutes} {lab['min']}"
        return [when + (f" — {meeting.place}" if meeting.place else "")]

    def extras(self) -> list[tuple[str, str, list[str]]]:
        """The review sections after the summary, as (key, heading, lines); empty
        sections are left out."""
        lab = self.lab
        found = [("case", lab["case"], self.case()),
                 ("history", lab["history"], self.history()),
                 ("evaluation", lab["evaluation"], self.evaluation()),
                 ("meeting", lab["meeting"], self.meeting())]
        return [entry for entry in found if entry[2]]


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
    out += [f"## {doc.lab['time']}", "", _md_row(doc.plan_head()),
            "| --- | ---: | ---: | ---: | ---: |"]
    out += [_md_row(row) for row in doc.plan_rows()] + [""]
    for _, head, lines in doc.extras():
        out += [f"## {head}", ""] + [f"- {_md_escape(line)}" for line in lines] + [""]
    return "\n".join(out)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(_md_escape(c).replace("|", "\\|") for c in cells) + " |"


_CSS = """
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.5}h1{margin-bottom:.2rem}.meta{color:#555}
h2{border-bottom:2px solid #2a6f97;color:#2a6f97}h3{margin-bottom:.3rem}
li{margin:.15rem 0}table{border-collapse:collapse}td,th{padding:.15rem .6rem;
border-bottom:1px solid #ddd}td.n,th.n{text-align:right}svg.chart{max-width:100%;
height:auto;display:block;margin:.6rem 0}@media print{body{margin:0}}
"""


def to_html(snap: Snapshot, lang: str = "en") -> str:
    """A self-contained HTML page (inline CSS and SVG, no external requests)."""
    doc = _Doc(snap, lang)
    esc = charts.esc  # html.escape, without the control characters HTML forbids
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
    parts.append(f"<h2>{esc(doc.lab['time'])}</h2>")
    if snap.phases:
        parts.append(charts.timeline_svg(snap.plan(), lang=lang, labels=doc.lab))
    parts.append("<table><tr>" + "".join(
        f'<th{" class=n" if i else ""}>{esc(c)}</th>' for i, c in enumerate(doc.plan_head()))
        + "</tr>")
    for row in doc.plan_rows():
        parts.append("<tr>" + "".join(f'<td{" class=n" if i else ""}>{esc(c)}</td>'
                                      for i, c in enumerate(row)) + "</tr>")
    parts.append("</table>")
    for key, head, lines in doc.extras():
        parts.append(f"<h2>{esc(head)}</h2>")
        if key == "history":
            parts.append(charts.actions_svg(snap, snap.action_tracks(), labels=doc.lab))
        parts.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in lines) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render(snap: Snapshot, fmt: str, lang: str = "en") -> bytes:
    """The export of ``snap`` in ``fmt`` (md, json, html or ics) as bytes; ics
    raises ValueError when no next meeting is set."""
    if fmt == "json":
        return to_json(snap)
    if fmt == "md":
        return to_markdown(snap, lang).encode()
    if fmt == "html":
        return to_html(snap, lang).encode()
    if fmt == "ics":
        return ics.to_ics(snap, lang).encode()
    raise ValueError(f"unknown export format '{fmt}' (choose md, json, html or ics)")
