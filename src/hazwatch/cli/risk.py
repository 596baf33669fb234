"""`hazwatch risk grade FILE`: GB 18218-2018 grading from the command line, the same computation as
`POST /api/v1/risk/major-hazard/evaluate`.

FILE (YAML or JSON) is either that endpoint's body, `{"substances": [...], "exposed_people": N}`,
or a catalog document, in which case every hazard source in it is graded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from hazwatch.domain.errors import Invalid
from hazwatch.risk.grading import Grading, evaluate

risk_app = typer.Typer(help="Major-hazard grading (GB 18218-2018).", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _show(title: str, g: Grading) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("substance", "CAS", "category", "q t", "Q t", "q/Q", "β", "β·q/Q", "source"):
        table.add_column(col)
    for t in g.terms:
        table.add_row(t.substance, t.cas or "", t.category or "", f"{t.quantity_t:g}", f"{t.critical_t:g}",
                      f"{t.ratio:.4g}", f"{t.beta:g}", f"{t.weighted:.4g}", t.source)
    console.print(table)
    verdict = f"major hazard, level {g.level}" if g.is_major_hazard else "not a major hazard"
    console.print(f"S = {g.S:.4g}   α = {g.alpha:g} ({g.exposed_people} people within 500 m)   R = {g.R:.4g}   "
                  f"→ {verdict}")


@risk_app.command("grade")
def grade(file: Annotated[Path, typer.Argument(help="YAML or JSON: substances + exposed_people, or a catalog")],
          as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False) -> None:
    """Compute S, R, α and the level with every term shown."""
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        err.print(f"[red]error:[/red] cannot read {file}: {e}")
        raise typer.Exit(2) from None
    if not isinstance(doc, dict):
        err.print(f"[red]error:[/red] {file}: expected a mapping with `substances` or `hazard_sources`")
        raise typer.Exit(2)
    if "substances" in doc:
        items = [(str(file), doc.get("substances") or [], int(doc.get("exposed_people", 0)))]
    else:
        items = [(h.get("code", f"hazard_sources[{i}]"), h.get("substances") or [], int(h.get("exposed_people", 0)))
                 for i, h in enumerate(doc.get("hazard_sources") or [])]
        if not items:
            err.print(f"[red]error:[/red] {file}: no `substances` and no `hazard_sources` to grade")
            raise typer.Exit(2)
    results, failed = {}, False
    for name, substances, people in items:
        try:
            g = evaluate(substances, people)
        except (Invalid, KeyError, TypeError, ValueError) as e:
            err.print(f"[red]error:[/red] {name}: {getattr(e, 'message', None) or e}")
            failed = True
            continue
        results[name] = g.as_dict()
        if not as_json:
            _show(name, g)
    if as_json:
        console.print_json(json.dumps(results if len(items) > 1 else next(iter(results.values()), {})))
    if failed:
        raise typer.Exit(2)
