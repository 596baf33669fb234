"""The one skeleton of Hazwatch's documents (the incident close-out report, the periodic safety
report): a title, a line of facts, figures, then sections of tables, as HTML (Jinja2, escaped)
and as PDF (reportlab), written so that a reader never sees half a file. Each report only says
what goes into it; how a document looks is decided here once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from jinja2 import Environment, PackageLoader, select_autoescape

from hazwatch.domain.errors import Invalid

_ENV = Environment(loader=PackageLoader("hazwatch.documents", "templates"), autoescape=select_autoescape(["html"]))
CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
             "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
HEADER_FILL = "#e8eef6"
Section = tuple[str, list[str], list[list[str]]]  # title, header (may be all empty), rows of text


def cjk_font(candidates=CJK_FONTS) -> str:
    """Register the first CJK font found for reportlab; its name. Refuses when there is none."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "HazwatchCJK" in pdfmetrics.getRegisteredFontNames():
        return "HazwatchCJK"
    for path in candidates:
        if Path(path).exists():
            pdfmetrics.registerFont(TTFont("HazwatchCJK", path, subfontIndex=0))
            return "HazwatchCJK"
    raise Invalid("a Chinese report needs a CJK font: install fonts-wqy-microhei (Debian) or fonts-noto-cjk")


@dataclass
class Document:
    """What a report puts on paper. `drawings`: reportlab drawings (the PDF draws them, the HTML
    embeds them as SVG with their captions); `cell_style(title, rows)`: extra reportlab table
    styles for a section (the colour cells of the risk table)."""

    title: str  # the document's name (PDF metadata, the HTML <title>)
    heading: str
    meta: str
    sections: list[Section]
    lang: str = "en"
    none: str = "none"
    drawings: list[tuple[Any, str]] = field(default_factory=list)  # (drawing, caption)
    font: str = "Helvetica"
    bold: str = "Helvetica-Bold"
    body_size: float = 8
    cell_style: Callable[[str, list[list[str]]], list[tuple]] | None = None

    def html(self) -> str:
        from reportlab.graphics import renderSVG

        figures = [(renderSVG.drawToString(d), caption) for d, caption in self.drawings]
        return _ENV.get_template("base.html").render(doc_title=self.title, heading=self.heading, meta=self.meta,
                                                     figures=figures, sections=self.sections, lang=self.lang,
                                                     none=self.none)

    def pdf(self, path: Path) -> None:
        from reportlab.lib import colors
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.styles import getSampleStyleSheet
        from reportlab.lib.units import mm
        from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

        styles = getSampleStyleSheet()
        body = styles["BodyText"].clone("hz-body", fontName=self.font, fontSize=self.body_size,
                                        leading=self.body_size * 1.25)
        story: list = [Paragraph(escape(self.heading), styles["Title"].clone("hz-title", fontName=self.bold)),
                       Paragraph(escape(self.meta), body), Spacer(1, 4 * mm)]
        for drawing, _ in self.drawings:
            story += [drawing, Spacer(1, 3 * mm)]
        head = styles["Heading2"].clone("hz-h2", fontName=self.bold)
        for title, header, rows in self.sections:
            story.append(Paragraph(escape(title), head))
            if not rows:
                story.append(Paragraph(escape(self.none), body))
                continue
            cells = ([[Paragraph(escape(h), body) for h in header]] if any(header) else []) + \
                [[Paragraph(escape(c), body) for c in r] for r in rows]
            style = [("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
            if any(header):
                style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(HEADER_FILL)))
            if self.cell_style is not None:
                style += self.cell_style(title, rows)
            table = Table(cells, repeatRows=1 if any(header) else 0)
            table.setStyle(TableStyle(style))
            story.append(table)
        SimpleDocTemplate(str(path), pagesize=A4, title=self.title, author="Hazwatch", leftMargin=15 * mm,
                          rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm).build(story)

    def write(self, html_path: Path, pdf_path: Path) -> None:
        """Both files, each written aside and moved into place: a reader sees the old file or the new."""
        html_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = html_path.with_suffix(".html.tmp")
        tmp.write_text(self.html(), encoding="utf-8")
        tmp_pdf = pdf_path.with_suffix(".pdf.tmp")
        self.pdf(tmp_pdf)
        tmp.replace(html_path)
        tmp_pdf.replace(pdf_path)
