"""`hazwatch model fit` and `hazwatch model score`: the live engine's detector code, offline.

Both go through `Model.score`, the call the pipeline makes for a unit's rows, so a file scored
here gets the flags the live engine would give the same rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hazwatch.detect.multivariate import METHODS, FitError, Model, fit_model
from hazwatch.detect.multivariate.base import DEFAULT_METHOD
from hazwatch.detect.multivariate.frames import read_csv, write_scores

model_app = typer.Typer(help="Fit and run multivariate detectors on CSV files (ts + one column per sensor).",
                        no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _fail(e: Exception) -> None:
    err.print(f"[red]error:[/red] {e}")
    raise typer.Exit(2)


@model_app.command("fit")
def fit(csv: Annotated[list[Path], typer.Option("--csv", help="normal-operation data; repeat for several runs")],
        out: Annotated[Path, typer.Option("--out", help="where to write the model (JSON)")],
        target_far: Annotated[float, typer.Option("--target-far", help="false-alarm rate the threshold is set "
                                                                       "for, on held-out normal data")] = 0.01,
        method: Annotated[str, typer.Option("--method", help=f"one of {', '.join(METHODS)}")] = DEFAULT_METHOD
        ) -> None:
    """Fit a detector on all numeric columns but ts, and choose its threshold."""
    try:
        frames = [read_csv(p) for p in csv]
        columns = frames[0].columns
        for f in frames[1:]:
            if sorted(f.columns) != sorted(columns):
                raise FitError(f"{f.path} has columns {f.columns}, {frames[0].path} has {columns}; runs must "
                               "share their columns")
        model = fit_model([f.select(columns) for f in frames], columns, method, target_far)
    except FitError as e:
        _fail(e)
    out.write_text(json.dumps(model.to_dict(), indent=1))
    console.print(f"fitted {model.method} on {model.info['rows']} rows x {len(columns)} columns "
                  f"({model.info['runs']} run(s)); threshold {model.threshold:.6g} for a false-alarm rate of "
                  f"{target_far:g}; written to {out}")


def load_model(path: Path) -> Model:
    try:
        doc = json.loads(path.read_text())
    except OSError as e:
        raise FitError(f"{path}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise FitError(f"{path}: not JSON ({e})") from None
    return Model.from_dict(doc)


@model_app.command("score")
def score(model: Annotated[Path, typer.Option("--model", help="a model from `hazwatch model fit`")],
          csv: Annotated[Path, typer.Option("--csv", help="rows to score, in time order")],
          out: Annotated[Path, typer.Option("--out", help="scores CSV: ts,score,threshold,flag")]) -> None:
    """Score every row; flag 1 where the score is above the model's threshold."""
    try:
        m = load_model(model)
        frame = read_csv(csv)
        scores, flags = m.score(frame.select(m.columns))
    except FitError as e:
        _fail(e)
    write_scores(out, frame.ts, scores, m.threshold, flags)
    console.print(f"scored {len(scores)} rows: {int(flags.sum())} flagged "
                  f"({flags.mean():.1%}); written to {out}")
