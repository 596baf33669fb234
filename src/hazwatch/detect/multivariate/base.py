"""The detector contract and the fitted model around it.

A `Detector` turns rows of sensor values (one column per sensor, in the model's column order) into
one score per row, higher meaning further from normal. Scoring is a stream: a dynamic detector
remembers the last rows and its smoothed statistic between calls, so a file scored in one call and
the same rows scored in many live batches give the same scores. All state is plain data
(`snapshot()` / `restore()`), so a model is a JSON file a user can read, diff and version.

`Model` adds what the detector alone does not know: the sensor names and the alarm threshold.
The threshold is chosen on normal data the detector was *not* fitted on (blocked cross-validation:
each run, or each quarter of a single run, is scored by a detector fitted on the rest), because a
threshold set on the fitting data itself sits too low and the false-alarm rate on new normal data
comes out well above the target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

FORMAT = "hazwatch-model/1"


class FitError(ValueError):
    """The data cannot make a model (too few rows, a column that is not numeric ...)."""


class Detector(Protocol):
    method: str

    def fit(self, segments: Sequence[np.ndarray]) -> None:
        """Learn normal behaviour from runs of normal rows (lags never cross from one run to the next)."""

    def score(self, x: np.ndarray) -> np.ndarray:
        """One score per row, continuing the stream from the previous call."""

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per row and column, each sensor's share of the score (for naming the culprits)."""

    def reset(self) -> None:
        """Forget the stream (a new run starts)."""

    def learn(self, x: np.ndarray, flagged: np.ndarray) -> None:
        """Follow slow drift with the rows that were not flagged; flagged rows never teach."""

    def snapshot(self) -> dict[str, Any]: ...


def _registry() -> dict[str, type]:
    from hazwatch.detect.multivariate.pca import PcaDetector

    return {"pca": PcaDetector}


# method name -> (class, parameters), as chosen by the evaluations in docs/benchmarks.md (bench/detect_tep.py,
# bench/detect_skab.py). The smoothed methods score each row by the larger of its statistic and the
# statistic's EWMA (each on its own scale): the EWMA finds small persistent shifts, the raw statistic
# keeps abrupt faults from waiting for the average to catch up.
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "pca": ("pca", {"statistic": "combined"}),
    "pca-t2": ("pca", {"statistic": "t2"}),
    "pca-q": ("pca", {"statistic": "q"}),
    "pca-ewma": ("pca", {"statistic": "combined", "variance": 0.9, "smooth": 0.1, "fast": True}),
    "dpca-ewma": ("pca", {"statistic": "combined", "variance": 0.95, "lags": 5, "smooth": 0.1, "fast": True}),
}
DEFAULT_METHOD = "dpca-ewma"


def make(method: str, **overrides: Any) -> Detector:
    if method not in METHODS:
        raise FitError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    kind, params = METHODS[method]
    det = _registry()[kind](**{**params, **overrides})
    det.method = method
    return det


def restore(state: dict[str, Any]) -> Detector:
    kind = state.get("kind")
    cls = _registry().get(kind)
    if cls is None:
        raise FitError(f"unknown detector kind {kind!r} in the model")
    return cls.restore(state)


def _folds(segments: list[np.ndarray], k: int = 4) -> list[tuple[list[np.ndarray], np.ndarray]]:
    """Held-out pieces for calibration: whole runs when there are several, else quarters of one."""
    if len(segments) >= 2:
        return [(segments[:i] + segments[i + 1:], segments[i]) for i in range(len(segments))]
    x = segments[0]
    cuts = np.linspace(0, len(x), k + 1).astype(int)
    return [([p for p in (x[:a], x[b:]) if len(p)], x[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


@dataclass
class Model:
    columns: list[str]
    detector: Detector
    threshold: float
    target_far: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.detector.method

    def score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores and flags for the next rows of the stream; unflagged rows may teach the detector."""
        if not getattr(self.detector, "adapt", 0.0):
            s = self.detector.score(x)
            return s, s > self.threshold
        # a detector that learns does so row by row, so its scores do not depend on how the rows
        # were cut into batches (a file scored at once and the same rows arriving live agree)
        s = np.empty(len(x))
        for i in range(len(x)):
            s[i] = self.detector.score(x[i:i + 1])[0]
            self.detector.learn(x[i:i + 1], s[i:i + 1] > self.threshold)
        return s, s > self.threshold

    def culprits(self, x: np.ndarray, top: int = 3) -> list[list[tuple[str, float]]]:
        """For each row, the sensors that contribute most to its score, with their shares."""
        c = self.detector.contributions(x)
        total = np.maximum(c.sum(axis=1, keepdims=True), 1e-300)
        share = c / total
        order = np.argsort(-share, axis=1)[:, :top]
        return [[(self.columns[j], round(float(share[i, j]), 3)) for j in order[i]] for i in range(len(x))]

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "method": self.method, "columns": self.columns, "threshold": self.threshold,
                "target_far": self.target_far, "info": self.info, "detector": self.detector.snapshot()}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Model:
        if doc.get("format") != FORMAT:
            raise FitError(f"not a Hazwatch model (format {doc.get('format')!r}, expected {FORMAT!r})")
        try:
            det = restore(doc["detector"])
            det.method = doc["method"]
            return cls(list(doc["columns"]), det, float(doc["threshold"]), float(doc["target_far"]),
                       dict(doc.get("info") or {}))
        except (KeyError, TypeError, ValueError) as e:
            raise FitError(f"model file is damaged: {type(e).__name__}: {e}") from None


def fit_model(segments: Sequence[np.ndarray], columns: list[str], method: str = DEFAULT_METHOD,
              target_far: float = 0.01, **params: Any) -> Model:
    """Fit a detector on normal runs and set its threshold for `target_far` on held-out normal data."""
    if not 0 < target_far < 0.5:
        raise FitError(f"target false-alarm rate must be between 0 and 0.5, got {target_far}")
    segs = [np.asarray(s, dtype=np.float64) for s in segments if len(s)]
    if not segs:
        raise FitError("no rows to fit on")
    width = segs[0].shape[1]
    if width != len(columns) or any(s.ndim != 2 or s.shape[1] != width for s in segs):
        raise FitError("every run must have the same columns")
    for s in segs:
        bad = ~np.isfinite(s)
        if bad.any():
            j = int(np.flatnonzero(bad.any(axis=0))[0])
            raise FitError(f"column {columns[j]!r} has empty or non-numeric values; a model needs complete rows")
    rows = sum(len(s) for s in segs)
    if rows < max(20, 2 * width):
        raise FitError(f"{rows} rows are too few to fit {width} columns; give at least {max(20, 2 * width)}")
    held: list[np.ndarray] = []
    for train, test in _folds(segs):
        if not len(test) or sum(len(t) for t in train) < width + 2:
            continue
        det = make(method, **params)
        det.fit(train)
        held.append(det.score(test))
    det = make(method, **params)
    det.fit(segs)
    if not held:  # too little data to hold any back
        held = [det.score(s) for s in segs]
        det.reset()
    scores = np.concatenate(held)
    threshold = float(np.quantile(scores, 1.0 - target_far))
    return Model(list(columns), det, threshold, target_far,
                 {"rows": rows, "runs": len(segs), "calibration_rows": int(len(scores))})
