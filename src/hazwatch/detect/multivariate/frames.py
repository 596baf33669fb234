"""Sample tables on disk: CSV with a `ts` column (epoch seconds) and one numeric column per sensor,
the form `hazwatch model fit/score` reads and writes. Errors name the file, line and column."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hazwatch.detect.multivariate.base import FitError


@dataclass
class Frame:
    path: str
    ts: np.ndarray  # float64 epoch seconds
    columns: list[str]
    values: np.ndarray  # rows x columns, float64

    def select(self, columns: list[str]) -> np.ndarray:
        """The values in the given column order; a missing column is an error that names it."""
        pos = {c: i for i, c in enumerate(self.columns)}
        missing = [c for c in columns if c not in pos]
        if missing:
            raise FitError(f"{self.path}: the model needs column(s) {', '.join(missing)}, which the file lacks")
        return self.values[:, [pos[c] for c in columns]]


def _number(cell: str) -> float:
    cell = cell.strip()
    if not cell:
        raise ValueError("empty")
    return float(cell)


def read_csv(path: Path | str) -> Frame:
    """All numeric columns but `ts`; a text column (every cell non-numeric) is skipped, a column that
    is numeric with a bad cell is an error at that cell."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise FitError(f"{path}: {e.strerror or e}") from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows or not any(c.strip() for c in rows[0]):
        raise FitError(f"{path}: empty file; expected a header with ts and one column per sensor")
    header = [h.strip() for h in rows[0]]
    if "ts" not in header:
        raise FitError(f"{path}: no ts column (epoch seconds) in the header {header[:6]}")
    lines = [k + 1 for k in range(1, len(rows)) if any(c.strip() for c in rows[k])]  # 1-based file lines
    body = [rows[k - 1] for k in lines]
    if not body:
        raise FitError(f"{path}: no data rows")
    for n, r in enumerate(body):
        if len(r) != len(header):
            raise FitError(f"{path}: line {lines[n]} has {len(r)} cells, the header has {len(header)}")
    cols = list(zip(*body, strict=True))
    ts_col = header.index("ts")
    names: list[str] = []
    data: list[np.ndarray] = []
    ts = None
    for j, name in enumerate(header):
        cells = cols[j]
        try:
            arr = np.asarray(cells, dtype=np.float64) if all(c.strip() for c in cells) else None
        except ValueError:
            arr = None
        if arr is None:
            parsed = []
            bad = None
            for i, c in enumerate(cells):
                try:
                    parsed.append(_number(c))
                except ValueError:
                    parsed.append(np.nan)
                    bad = bad if bad is not None else i
            if all(np.isnan(parsed)) and j != ts_col:
                continue  # a text column (a label, a unit name): not a sensor
            raise FitError(f"{path}: line {lines[bad]}, column {name!r}: {cells[bad]!r} is not a number")
        if not np.isfinite(arr).all():
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise FitError(f"{path}: line {lines[i]}, column {name!r}: {cells[i]!r} is not finite")
        if j == ts_col:
            ts = arr
        else:
            names.append(name)
            data.append(arr)
    if not names:
        raise FitError(f"{path}: no numeric sensor columns besides ts")
    assert ts is not None
    if (np.diff(ts) < 0).any():
        i = int(np.flatnonzero(np.diff(ts) < 0)[0]) + 1
        raise FitError(f"{path}: line {lines[i]}: ts goes backwards; rows must be in time order")
    return Frame(path, ts, names, np.column_stack(data))


def write_scores(path: Path | str, ts: np.ndarray, scores: np.ndarray, threshold: float, flags: np.ndarray) -> None:
    with open(path, "w", newline="") as f:
        f.write("ts,score,threshold,flag\n")
        thr = repr(float(threshold))
        f.writelines(f"{t!r},{s!r},{thr},{int(g)}\n" for t, s, g in
                     zip(ts.tolist(), scores.tolist(), flags.tolist(), strict=True))
