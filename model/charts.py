"""Pictures for the review report, as inline SVG.

Two charts, drawn from a ``Snapshot`` only: the session's timeline (planned
against actual minutes per phase) and, for a chain of sessions, the status of
each action session after session. The SVG is meant to sit inside an HTML
page: it has no ``xmlns`` (the HTML parser puts it in the SVG namespace), no
link, image, font or style sheet to fetch, and every text is escaped, so the
page makes no request and a participant's text cannot inject markup. Each
chart is also well-formed XML on its own.
"""

from __future__ import annotations

import html
import re

from model.records import ActionTrack, PlanRow
from model.snapshot import Snapshot
from model.timestamps import local_from_ms

STATUS_COLOURS = {
    "open": "#8d99ae",
    "in_progress": "#e09f3e",
    "carried_over": "#7b68ee",
    "done": "#2e8b57",
    "dropped": "#9e2a2b",
}
_PLANNED = "#cfe3ef"
_ACTUAL = "#2a6f97"
_OVERTIME = "#c0392b"
_FONT = 'font-family="system-ui,sans-serif" font-size="12"'

# Characters XML 1.0 does not allow, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def esc(text: str) -> str:
    """Text safe inside an SVG (or HTML) element or a quoted attribute."""
    return html.escape(_NOT_XML.sub("", text), quote=True)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def timeline_svg(rows: tuple[PlanRow, ...], *, lang: str = "en", labels: dict[str, str]) -> str:
    """Planned (light bar) against actual (dark bar, red beyond the time box)
    minutes per phase."""
    label_w, chart_w, row_h, top = 190, 360, 26, 8
    scale_max = max([1.0] + [max(r.planned_minutes + r.extended_minutes, r.actual_ms / 60_000)
                             for r in rows])
    unit = chart_w / scale_max
    height = top + row_h * len(rows) + 30
    width = label_w + chart_w + 130
    title = labels["timeline"]
    out = [f'<svg class="chart timeline" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" {_FONT}>',
           f"<title>{esc(title)}</title>"]
    for n, row in enumerate(rows):
        y = top + n * row_h
        box = row.planned_minutes + row.extended_minutes
        actual = row.actual_ms / 60_000
        name = row.title.get(lang)
        tip = (f"{name}: {row.planned_minutes} {labels['min']} {labels['planned']}"
               + (f" (+{row.extended_minutes})" if row.extended_minutes else "")
               + f", {_num(actual)} {labels['min']} {labels['actual']}")
        out.append(f'<g class="phase"><title>{esc(tip)}</title>')
        out.append(f'<text x="0" y="{y + 16}">{esc(_short(f"{row.index + 1}. {name}", 30))}'
                   "</text>")
        out.append(f'<rect x="{label_w}" y="{y + 2}" width="{_num(box * unit)}" height="20" '
                   f'fill="{_PLANNED}"/>')
        within = min(actual, box)
        if within > 0:
            out.append(f'<rect x="{label_w}" y="{y + 7}" width="{_num(within * unit)}" '
                       f'height="10" fill="{_ACTUAL}"/>')
        if actual > box:
            out.append(f'<rect x="{_num(label_w + box * unit)}" y="{y + 7}" '
                       f'width="{_num((actual - box) * unit)}" height="10" fill="{_OVERTIME}"/>')
        figures = f"{round(actual)} / {box} {labels['min']}"
        out.append(f'<text x="{_num(label_w + max(box, actual) * unit + 6)}" y="{y + 16}">'
                   f"{esc(figures)}</text></g>")
    legend_y = top + row_h * len(rows) + 18
    out.append(f'<g class="legend"><rect x="0" y="{legend_y - 10}" width="12" height="12" '
               f'fill="{_PLANNED}"/><text x="16" y="{legend_y}">{esc(labels["planned"])}</text>'
               f'<rect x="90" y="{legend_y - 7}" width="12" height="6" fill="{_ACTUAL}"/>'
               f'<text x="106" y="{legend_y}">{esc(labels["actual"])}</text>'
               f'<rect x="170" y="{legend_y - 7}" width="12" height="6" fill="{_OVERTIME}"/>'
               f'<text x="186" y="{legend_y}">{esc(labels["overtime"])}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def _day(ms: int) -> str:
    """The local day of a time some laptop wrote; "?" for one no clock could have written
    (negative, far future: ``datetime.fromtimestamp`` raised there, on Windows for any
    negative time)."""
    moment = local_from_ms(ms)
    return moment.strftime("%Y-%m-%d") if moment is not None else "?"


def actions_svg(snap: Snapshot, tracks: tuple[ActionTrack, ...], *,
                labels: dict[str, str]) -> str:
    """One row per action, one column per session of the chain: the action's
    status at the end of each session it lived in (notes in the tooltips)."""
    sessions = [(link.id, link.title, link.created) for link in snap.chain]
    sessions.append((snap.info.id, snap.info.title, snap.info.created))
    column = {sid: n for n, (sid, _, _) in enumerate(sessions)}
    label_w, cell_w, row_h, top = 250, 96, 24, 34
    width = label_w + cell_w * len(sessions) + 10
    height = top + row_h * len(tracks) + 34
    title = labels["history"]
    out = [f'<svg class="chart actions" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" {_FONT}>',
           f"<title>{esc(title)}</title>"]
    for n, (_, name, created) in enumerate(sessions):
        x = label_w + n * cell_w
        out.append(f'<text x="{x + 4}" y="20"><title>{esc(name)}</title>'
                   f"{esc(_day(created))}</text>")
    for r, track in enumerate(tracks):
        y = top + r * row_h
        who = f" ({track.owner})" if track.owner else ""
        out.append(f'<g class="action"><title>{esc(track.text + who)}</title>'
                   f'<text x="0" y="{y + 15}">{esc(_short(track.text + who, 40))}</text></g>')
        for step in track.steps:
            col = column.get(step.session)
            if col is None:  # a session missing from the chain (an edited file)
                continue
            x = label_w + col * cell_w
            status = labels.get(step.status, step.status)
            tip = "; ".join((f"{step.title}: {status}", *step.notes))
            out.append(f'<g class="step"><title>{esc(tip)}</title>'
                       f'<rect x="{x}" y="{y + 2}" width="{cell_w - 6}" height="18" rx="3" '
                       f'fill="{STATUS_COLOURS.get(step.status, "#cccccc")}"/>'
                       f'<text x="{x + 5}" y="{y + 15}" fill="#ffffff">'
                       f"{esc(_short(status, 14))}</text></g>")
    legend_y = top + row_h * len(tracks) + 20
    x = 0
    out.append('<g class="legend">')
    for status, colour in STATUS_COLOURS.items():
        name = labels.get(status, status)
        out.append(f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" '
                   f'fill="{colour}"/><text x="{x + 16}" y="{legend_y}">{esc(name)}</text>')
        x += 22 + 7 * len(name)
    out.append("</g></svg>")
    return "\n".join(out)
