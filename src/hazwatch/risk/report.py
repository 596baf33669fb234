"""Periodic safety reports (daily, weekly, monthly) for an enterprise, a park or a region, in
English or Chinese, as HTML and PDF drawn from the same content: alarm rate over time, priority mix
against 80/15/5, top offenders, enterprise colours with their reasons, hidden-danger status and
incident response times, each as a plot and as a table.

Chinese needs a CJK font on the machine (Debian: fonts-wqy-microhei); it is embedded in the PDF
(subset), so the report reads the same anywhere. Without one a Chinese report is refused with the
package to install, rather than drawn as empty boxes."""

from __future__ import annotations

from pathlib import Path

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.units import mm

from hazwatch.documents import Document, cjk_font
from hazwatch.domain.errors import Invalid

COLOUR_HEX = {"blue": "#2f6fd6", "yellow": "#e8c21a", "orange": "#f07f16", "red": "#d62f2f"}

TEXT = {
    "en": {"title": "Safety report", "period": "Period", "scope": "Scope", "generated": "Generated",
           "alarms": "Alarm system", "rate": "Alarms raised per {unit}", "hour": "hour", "day": "day",
           "raised": "alarms raised", "per10": "per 10 minutes", "perhour": "per hour", "peak": "busiest 10 minutes",
           "flood": "10-minute periods in flood", "chatter": "chattering alarms", "fleeting": "fleeting activations",
           "standing": "standing alarms (> 24 h)", "ack": "median time to acknowledge",
           "mix": "Priority mix (guideline 80/15/5)", "low": "low", "medium": "medium", "high": "high + urgent",
           "top": "Top offenders", "alarm": "alarm", "count": "count", "share": "share %",
           "colours": "Enterprise risk colours", "enterprise": "enterprise", "colour": "colour", "why": "reasons",
           "hidden": "Hidden dangers", "state": "state", "general": "general", "major": "major",
           "overdue": "overdue", "incidents": "Incident response", "opened": "incidents opened",
           "to_ack": "median time to acknowledge", "to_contain": "median time to contain",
           "to_close": "median time to close", "none": "none", "blue": "blue", "yellow": "yellow",
           "orange": "orange", "red": "red", "min": "min", "s": "s", "actual": "this period",
           "guideline": "guideline", "pack": "pack", "sensor": "sensor", "name": "name",
           "conditions": "by condition"},
    "zh": {"title": "安全生产报告", "period": "统计周期", "scope": "范围", "generated": "生成时间",
           "alarms": "报警系统", "rate": "每{unit}报警数", "hour": "小时", "day": "天",
           "raised": "报警总数", "per10": "每10分钟", "perhour": "每小时", "peak": "最繁忙的10分钟",
           "flood": "报警泛滥的10分钟时段", "chatter": "振荡报警", "fleeting": "瞬时报警",
           "standing": "长期报警（超过24小时）", "ack": "确认时间中位数",
           "mix": "优先级分布（参考值 80/15/5）", "low": "低", "medium": "中", "high": "高及紧急",
           "top": "最频繁报警", "alarm": "报警", "count": "次数", "share": "占比 %",
           "colours": "企业风险四色", "enterprise": "企业", "colour": "颜色", "why": "原因",
           "hidden": "事故隐患", "state": "状态", "general": "一般", "major": "重大",
           "overdue": "逾期", "incidents": "事件处置", "opened": "事件数",
           "to_ack": "确认时间中位数", "to_contain": "控制时间中位数", "to_close": "关闭时间中位数",
           "none": "无", "blue": "蓝", "yellow": "黄", "orange": "橙", "red": "红", "min": "分钟", "s": "秒",
           "actual": "本期", "guideline": "参考值", "pack": "应用包", "sensor": "传感器", "name": "名称",
           "conditions": "按报警类型"},
}
STATE_ZH = {"reported": "已上报", "under_review": "审核中", "rectifying": "整改中",
            "awaiting_acceptance": "待验收", "accepted": "已验收", "closed": "已关闭"}


def _t(lang: str) -> dict[str, str]:
    return TEXT[lang]


def _duration(seconds: float | None, t: dict) -> str:
    if seconds is None:
        return "–"
    return f"{seconds / 60:.1f} {t['min']}" if seconds >= 120 else f"{seconds:.0f} {t['s']}"


def rate_chart(buckets: list[tuple[str, int]], title: str, font: str, width=170 * mm, height=55 * mm) -> Drawing:
    d = Drawing(width, height)
    d.add(String(0, height - 10, title, fontName=font, fontSize=9))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 30, 22, width - 40, height - 40
    chart.data = [[n for _, n in buckets] or [0]]
    chart.categoryAxis.categoryNames = [label for label, _ in buckets] or [""]
    step = max(1, len(buckets) // 12)
    chart.categoryAxis.categoryNames = [lab if i % step == 0 else "" for i, lab in enumerate(
        chart.categoryAxis.categoryNames)]
    chart.categoryAxis.labels.fontSize = chart.valueAxis.labels.fontSize = 6
    chart.categoryAxis.labels.fontName = chart.valueAxis.labels.fontName = font
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.HexColor("#1f5fa8")
    d.add(chart)
    return d


def mix_chart(priorities: dict, t: dict, font: str, width=170 * mm, height=45 * mm) -> Drawing:
    d = Drawing(width, height)
    d.add(String(0, height - 10, t["mix"], fontName=font, fontSize=9))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 30, 15, width / 2, height - 32
    keys = ("low", "medium", "high")
    chart.data = [[priorities[k]["percent"] for k in keys], [priorities[k]["guideline_percent"] for k in keys]]
    chart.categoryAxis.categoryNames = [t[k] for k in keys]
    chart.categoryAxis.labels.fontName = chart.valueAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, 100
    chart.bars[0].fillColor = colors.HexColor("#1f5fa8")
    chart.bars[1].fillColor = colors.HexColor("#bbbbbb")
    d.add(chart)
    x = chart.x + chart.width + 20
    for i, (label, fill) in enumerate(((t["actual"], "#1f5fa8"), (t["guideline"], "#bbbbbb"))):
        y = chart.y + chart.height - 12 * (i + 1)
        d.add(Rect(x, y, 8, 8, fillColor=colors.HexColor(fill), strokeColor=None))
        d.add(String(x + 12, y + 1, label, fontName=font, fontSize=7))
    return d


def bar_chart(title: str, labels: list[str], values: list[float], font: str, fills: list[str] | None = None,
              horizontal: bool = False, width=170 * mm, height=45 * mm) -> Drawing:
    """One series of bars, each bar its own colour where `fills` says."""
    d = Drawing(width, height)
    d.add(String(0, height - 10, title, fontName=font, fontSize=9))
    chart = HorizontalBarChart() if horizontal else VerticalBarChart()
    left = 90 if horizontal else 30
    chart.x, chart.y, chart.width, chart.height = left, 15, width - left - 15, height - 32
    chart.data = [values or [0]]
    chart.categoryAxis.categoryNames = labels or [""]
    chart.categoryAxis.labels.fontName = chart.valueAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = chart.valueAxis.labels.fontSize = 6
    chart.valueAxis.valueMin = 0
    if not any(values):
        chart.valueAxis.valueMax = 1  # an empty chart keeps a plain 0..1 axis
    if horizontal:
        chart.categoryAxis.reverseDirection = 1  # the first label on top
    chart.bars[0].fillColor = colors.HexColor("#1f5fa8")
    for i, fill in enumerate(fills or []):
        chart.bars[(0, i)].fillColor = colors.HexColor(fill)
    d.add(chart)
    return d


def charts(data: dict, lang: str, font: str) -> list[Drawing]:
    """Every plot of the report, in order: alarm rate, priority mix, top offenders, colours,
    hidden dangers by state, incident response times."""
    t = _t(lang)
    k, inc = data["kpis"]["alarms"], data["kpis"]["incidents"]
    order = ("blue", "yellow", "orange", "red")
    per_colour = [sum(1 for c in data["overview"] if c["colour"] == col) for col in order]
    states = ("reported", "under_review", "rectifying", "awaiting_acceptance", "accepted", "closed")
    per_state = [sum(1 for h in data["hidden"] if h["state"] == s) for s in states]
    spans = [inc[key]["median_s"] for key in ("acknowledge", "contain", "close")]
    top = k["top10"]
    return [
        rate_chart(data["rate"], t["rate"].format(unit=t[data["bucket"]]), font),
        mix_chart(k["priorities"], t, font),
        bar_chart(t["top"], [x["label"] for x in top], [x["count"] for x in top], font, horizontal=True,
                  height=max(45 * mm, (len(top) * 11 + 40))),
        bar_chart(t["colours"], [t[c] for c in order], per_colour, font, [COLOUR_HEX[c] for c in order]),
        bar_chart(t["hidden"], [STATE_ZH[s] if lang == "zh" else s.replace("_", " ") for s in states], per_state,
                  font),
        bar_chart(f"{t['incidents']} ({t['min']})", [t["to_ack"], t["to_contain"], t["to_close"]],
                  [round((s or 0) / 60, 1) for s in spans], font),
    ]


_PRIO_ZH = {"low": "低", "medium": "中", "high": "高", "urgent": "紧急"}


def reason_text(reason: dict, lang: str) -> str:
    """A colour's reason in the report's language (the API's `detail` is English)."""
    p = reason.get("params") or {}
    if lang != "zh" or not p:
        return reason["detail"]
    return {
        "hazard_grade": lambda: f"{p['code']} 为{p['level']}级重大危险源（R = {p['R']:g}）",
        "risk_point": lambda: f"最高风险点 {p['name']}（{'LEC' if p['method'] == 'lec' else '风险矩阵'} "
                              f"{p['value']:g}）",
        "alarms": lambda: f"{p['count']} 个{_PRIO_ZH.get(p['priority'], p['priority'])}优先级报警未消除",
        "incidents": lambda: f"{p['count']} 起{'紧急' if p['urgent'] else ''}事件未关闭",
        "hidden_dangers": lambda: f"{p['count']} 项{'重大' if p['grade'] == 'major' else '一般'}隐患逾期",
    }.get(reason["source"], lambda: reason["detail"])()


def sections(data: dict, lang: str) -> list[tuple[str, list[str], list[list[str]]]]:
    t = _t(lang)
    k, inc = data["kpis"]["alarms"], data["kpis"]["incidents"]
    summary = [[t["raised"], str(k["raised"])], [t["per10"], f"{k['per_10min']:g}"],
               [t["perhour"], f"{k['per_hour'] or 0:g}"], [t["peak"], str(k["peak_10min"])],
               [t["flood"], f"{k['flood_percent']:g} %"], [t["chatter"], str(len(k["chattering"]))],
               [t["fleeting"], str(k["fleeting"])], [t["standing"], str(len(k["standing"]))],
               [t["ack"], _duration(k["acknowledge"]["median_s"], t)]]
    top = [[x["label"], str(x["count"]), f"{x['share']:g}"] for x in k["top10"]]
    colours = [[c["enterprise"] + " " + c["name"], t[c["colour"]],
                ("；" if lang == "zh" else "; ").join(reason_text(r, lang) for r in c["reasons"]) or t["none"]]
               for c in data["overview"]]
    states: dict[str, dict[str, int]] = {}
    for h in data["hidden"]:
        row = states.setdefault(h["state"], {"general": 0, "major": 0, "overdue": 0})
        row[h["grade"]] += 1
        row["overdue"] += h["overdue"]
    hidden = [[STATE_ZH.get(s, s) if lang == "zh" else s, str(v["general"]), str(v["major"]), str(v["overdue"])]
              for s, v in states.items()]
    incidents = [[t["opened"], str(inc["opened"])], [t["to_ack"], _duration(inc["acknowledge"]["median_s"], t)],
                 [t["to_contain"], _duration(inc["contain"]["median_s"], t)],
                 [t["to_close"], _duration(inc["close"]["median_s"], t)]]
    packs = [(f"{sec['title']} ({t['pack']} {sec['pack']})", [t["sensor"], t["name"], t["count"], t["conditions"]],
              [[r["tag"], r["name"], str(r["raised"]), ", ".join(f"{c} {n}" for c, n in r["conditions"].items())]
               for r in sec["rows"]]) for sec in data.get("packs", [])]
    return [(t["alarms"], ["", ""], summary), (t["top"], [t["alarm"], t["count"], t["share"]], top),
            (t["colours"], [t["enterprise"], t["colour"], t["why"]], colours),
            (t["hidden"], [t["state"], t["general"], t["major"], t["overdue"]], hidden),
            (t["incidents"], ["", ""], incidents), *packs]


def document(data: dict, lang: str) -> Document:
    """The periodic report: the scope and period, the charts, then its tables (the colour column
    of the enterprise table filled with each colour)."""
    t = _t(lang)
    font = cjk_font() if lang == "zh" else "Helvetica"

    def colour_cells(title: str, rows: list[list[str]]) -> list[tuple]:
        from reportlab.lib import colors

        return [("BACKGROUND", (1, i), (1, i), colors.HexColor(COLOUR_HEX[c["colour"]]))
                for i, c in enumerate(data["overview"], start=1)] if title == t["colours"] else []

    return Document(title=f"{t['title']} {data['period']}", heading=f"{t['title']}: {data['scope_name']}",
                    meta=f"{t['period']}: {data['period']} ({data['start']} – {data['end']}) · "
                         f"{t['generated']}: {data['generated']}",
                    sections=sections(data, lang), lang=lang, none=t["none"],
                    drawings=[(c, "") for c in charts(data, lang, font)], font=font,
                    bold=font if lang == "zh" else "Helvetica-Bold", cell_style=colour_cells)


def write(data: dict, lang: str, html_path: Path, pdf_path: Path) -> None:
    if lang not in TEXT:
        raise Invalid(f"language must be one of {', '.join(TEXT)}, not {lang!r}")
    document(data, lang).write(html_path, pdf_path)
