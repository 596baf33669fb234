"""The close-out report of an incident, as HTML and PDF from the same content: summary, timeline,
tasks, reporting clocks, interlock writes, notifications, and a trend plot of each involved sensor
around the event (drawn once with reportlab's graphics, embedded as SVG in the HTML and as vector
graphics in the PDF)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.units import mm

from hazwatch.documents import Document
from hazwatch.domain.batch import US


def trend_drawing(tag: str, ts: list[int], values: list[float], info: dict, width: float = 170 * mm,
                  height: float = 60 * mm) -> Drawing:
    """Values against minutes from the first point, with the sensor's H and HH limits as lines."""
    d = Drawing(width, height)
    d.add(String(0, height - 10, f"{tag}: {info.get('name', '')} ({info.get('unit', '')})", fontSize=9))
    if not ts:
        d.add(String(0, height / 2, "no readings in the window", fontSize=8))
        return d
    t0 = ts[0]
    points = [((t - t0) / US / 60, v) for t, v in zip(ts, values, strict=True)]
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 30, 28, width - 45, height - 48
    plot.data = [points]
    plot.lines[0].strokeColor = colors.HexColor("#1f5fa8")
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    near = max(hi - lo, 1e-9 + 0.05 * abs(hi))  # limits this close to the data are drawn; far ones would flatten it
    limits = {k: v for k, v in (info.get("limits") or {}).items()
              if v is not None and lo - near <= v <= hi + near}
    lo, hi = min([lo, *limits.values()]), max([hi, *limits.values()])
    pad = (hi - lo) * 0.05 or 1.0
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = lo - pad, hi + pad
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0, max(points[-1][0], 1e-6)
    plot.xValueAxis.labels.fontSize = plot.yValueAxis.labels.fontSize = 7
    d.add(plot)
    for name, v in limits.items():
        span = plot.yValueAxis.valueMax - plot.yValueAxis.valueMin
        y = plot.y + (v - plot.yValueAxis.valueMin) / span * plot.height
        d.add(Line(plot.x, y, plot.x + plot.width, y, strokeColor=colors.red if name in ("HH", "LL") else colors.orange,
                   strokeDashArray=[3, 2]))
        d.add(String(plot.x + plot.width + 2, y - 3, name, fontSize=7))
    d.add(String(plot.x, 2, f"minutes from {_when(t0)}", fontSize=7))
    return d


def _when(us: int) -> str:
    return datetime.fromtimestamp(us / US, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _sections(detail: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table, shared by both formats."""
    return [
        ("Timeline", ["time", "actor", "event", "detail"],
         [[e["ts"], e["actor"], e["kind"], e["detail"]] for e in detail["timeline"]]),
        ("Tasks", ["#", "plan", "task", "role", "state", "due", "by"],
         [[str(t["id"]), t["plan"] or "", t["title"], t["role"], t["state"], t["due_at"],
           t["done_by"] or t["acknowledged_by"] or ""] for t in detail["tasks"]]),
        ("Reporting clocks", ["level", "started", "due", "reported", "status"],
         [[c["level"], c["started_at"], c["due_at"], c["reported_at"] or "", c["status"]] for c in detail["clocks"]]),
        ("Interlock writes", ["#", "target", "value", "confirmed by", "second", "state", "read back"],
         [[str(x["id"]), x["target"], f"{x['value']:g}", x["confirmed_by"] or "", x["second_by"] or "", x["state"],
           "" if x["readback"] is None else f"{x['readback']:g}"] for x in detail["interlocks"]]),
        ("Notifications", ["time", "channel", "to", "subject", "status", "attempts"],
         [[n["created_at"], n["channel"], n["address"] or "in-app", n["subject"], n["status"], str(n["attempts"])]
          for n in detail["notifications"]]),
    ]


def document(detail: dict, trends: dict) -> Document:
    """The close-out report: the incident's facts, a trend per sensor, then its tables."""
    return Document(
        title=f"Incident {detail['id']} close-out report", heading=f"Incident #{detail['id']}: {detail['title']}",
        meta=f"{detail['enterprise']} · {detail['hazard_type']} · priority {detail['priority']} · opened "
             f"{detail['opened_at']} by {detail['opened_by']} · {detail['state']} {detail['ended_at'] or ''} · "
             f"plans: {', '.join(detail['plans']) or 'none'}",
        sections=_sections(detail), body_size=7,
        drawings=[(trend_drawing(tag, ts, vs, info), tag) for tag, (ts, vs, info) in trends.items()])


def write_report(detail: dict, trends: dict, html_path: Path, pdf_path: Path) -> None:
    document(detail, trends).write(html_path, pdf_path)
