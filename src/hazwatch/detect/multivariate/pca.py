"""PCA monitoring (Hotelling's T² in the principal subspace, SPE/Q in the residual), optionally
dynamic (each row carries its `lags` predecessors, so the model sees how variables move together
in time, not only where they sit) and smoothed (an EWMA of the statistic, which trades a sample or
two of delay for catching small persistent shifts that single samples hide in noise).

T² and Q are each divided by their mean on the fitting data, so "combined" weighs them alike
whatever the number of variables; the threshold is set on held-out normal data (see base.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

STATISTICS = ("t2", "q", "combined")


def _lagged(x: np.ndarray, lags: int) -> np.ndarray:
    """Rows [x_t, x_{t-1}, ..., x_{t-lags}] for t = lags .. n-1."""
    if lags == 0:
        return x
    n = len(x)
    return np.hstack([x[lags - j: n - j] for j in range(lags + 1)])


class PcaDetector:
    kind = "pca"

    def __init__(self, statistic: str = "combined", variance: float = 0.9, lags: int = 0, smooth: float = 0.0,
                 adapt: float = 0.0, fast: bool = False) -> None:
        if statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {STATISTICS}")
        if not 0 < variance <= 1 or lags < 0 or not 0 <= smooth < 1 or not 0 <= adapt < 1:
            raise ValueError("variance in (0, 1], lags >= 0, smooth and adapt in [0, 1)")
        self.method = "pca"
        self.statistic, self.variance, self.lags, self.smooth, self.adapt = statistic, variance, lags, smooth, adapt
        self.fast = fast  # with smoothing: also the unsmoothed statistic, so abrupt faults are not delayed
        self.raw_scale = self.smooth_scale = 1.0
        self.mean = self.scale = self.loadings = self.eigen = None
        self.t2_norm = self.q_norm = 1.0
        self.width = 0
        self.reset()

    # -- fitting -------------------------------------------------------------------------------------
    def fit(self, segments: Sequence[np.ndarray]) -> None:
        raw = [np.asarray(s, dtype=np.float64) for s in segments if len(s) > self.lags]
        if not raw:
            raise ValueError(f"each run needs more than {self.lags} rows")
        self.width = raw[0].shape[1]
        x = np.vstack([_lagged(s, self.lags) for s in raw])
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        # a constant column carries no information; scale 1 keeps it from dividing by zero and lets
        # any later movement of it show in Q
        scale = np.where(scale > 1e-9 * np.maximum(1.0, np.abs(mean)), scale, 1.0)
        z = (x - mean) / scale
        _, sv, vt = np.linalg.svd(z, full_matrices=False)
        eig = sv ** 2 / max(len(z) - 1, 1)
        share = np.cumsum(eig) / max(eig.sum(), 1e-300)
        k = int(min(np.searchsorted(share, self.variance) + 1, len(eig)))
        self.mean, self.scale, self.loadings, self.eigen = mean, scale, vt[:k].T.copy(), np.maximum(eig[:k], 1e-12)
        t2, q = self._statistics(z)
        self.t2_norm, self.q_norm = max(float(t2.mean()), 1e-12), max(float(q.mean()), 1e-12)
        self.reset()
        if self.smooth and self.fast:
            # Put the raw and the smoothed statistic on one scale (each divided by its own upper tail
            # on the fitting data), so that the larger of the two can be the score; the alarm
            # threshold is still set on held-out data by the model.
            raw_scores, smoothed = [], []
            for seg in raw:
                self.reset()
                r, sm = self._both(self._z(seg, keep=True))
                raw_scores.append(r)
                smoothed.append(sm)
            self.raw_scale = max(float(np.quantile(np.concatenate(raw_scores), 0.99)), 1e-12)
            self.smooth_scale = max(float(np.quantile(np.concatenate(smoothed), 0.99)), 1e-12)
            self.reset()

    # -- scoring -------------------------------------------------------------------------------------
    def reset(self) -> None:
        self.history: np.ndarray | None = None  # the last `lags` raw rows
        self.level: float | None = None  # the EWMA of the statistic

    def _statistics(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # einsum, not BLAS: BLAS sums in an order that depends on how many rows there are, and a row
        # must score the same whether it arrives alone or in a file of thousands
        t = np.einsum("ij,jk->ik", z, self.loadings)
        t2 = np.einsum("ij,ij->i", t / self.eigen, t)
        resid = z - np.einsum("ik,jk->ij", t, self.loadings)
        q = np.einsum("ij,ij->i", resid, resid)
        return t2, q

    def _z(self, x: np.ndarray, keep: bool) -> np.ndarray:
        """Standardized (lagged) rows for x, continuing from the stream's history; before a stream has
        `lags` rows of its own, its first row stands in for the missing past."""
        x = np.asarray(x, dtype=np.float64)
        if self.lags:
            past = self.history if self.history is not None else np.repeat(x[:1], self.lags, axis=0)
            full = np.vstack([past, x])
            if keep:
                self.history = full[-self.lags:].copy()
            x = _lagged(full, self.lags)
        return (x - self.mean) / self.scale

    def _raw_score(self, z: np.ndarray) -> np.ndarray:
        t2, q = self._statistics(z)
        if self.statistic == "t2":
            return t2 / self.t2_norm
        if self.statistic == "q":
            return q / self.q_norm
        return 0.5 * (t2 / self.t2_norm + q / self.q_norm)

    def _ewma(self, s: np.ndarray) -> np.ndarray:
        """y_i = a*s_i + (1-a)*y_{i-1}, seeded with the stream's last level (or its first value)."""
        a = self.smooth
        out = np.empty_like(s)
        level = float(s[0]) if self.level is None else self.level
        for i, v in enumerate(s.tolist()):  # a recurrence; rows per call are few in the live engine
            level = a * v + (1 - a) * level
            out[i] = level
        self.level = level
        return out

    def _both(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The statistic of each row, and its EWMA."""
        raw = self._raw_score(z)
        return raw, self._ewma(raw)

    def score(self, x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.empty(0)
        z = self._z(x, keep=True)
        if not self.smooth:
            return self._raw_score(z)
        raw, smoothed = self._both(z)
        if not self.fast:
            return smoothed
        return np.maximum(raw / self.raw_scale, smoothed / self.smooth_scale)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Each sensor's part of the unsmoothed statistic: its squared residual (Q) plus its share of
        T², summed over the sensor's lagged copies. Leaves the stream untouched."""
        saved = self.history
        z = self._z(x, keep=False)
        self.history = saved
        t = z @ self.loadings
        resid = z - t @ self.loadings.T
        q_part = resid ** 2 / self.q_norm
        t2_part = np.maximum(z * ((t / self.eigen) @ self.loadings.T), 0.0) / self.t2_norm
        part = {"t2": t2_part, "q": q_part}.get(self.statistic, q_part + t2_part)
        return part.reshape(len(z), self.lags + 1, self.width).sum(axis=1)

    def learn(self, x: np.ndarray, flagged: np.ndarray) -> None:
        """With `adapt` > 0, the centre follows slow drift through rows that were not flagged."""
        if not self.adapt or not len(x):
            return
        ok = ~np.asarray(flagged, bool)
        if ok.any():
            m = np.asarray(x, dtype=np.float64)[ok].mean(axis=0)
            target = np.tile(m, self.lags + 1)
            w = 1 - (1 - self.adapt) ** int(ok.sum())
            self.mean = (1 - w) * self.mean + w * target

    # -- state ---------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"kind": self.kind, "statistic": self.statistic, "variance": self.variance, "lags": self.lags,
                "smooth": self.smooth, "adapt": self.adapt, "fast": self.fast, "raw_scale": self.raw_scale,
                "smooth_scale": self.smooth_scale, "width": self.width,
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "loadings": self.loadings.tolist(),
                "eigen": self.eigen.tolist(), "t2_norm": self.t2_norm, "q_norm": self.q_norm,
                "history": None if self.history is None else self.history.tolist(), "level": self.level}

    @classmethod
    def restore(cls, state: dict[str, Any]) -> PcaDetector:
        d = cls(state["statistic"], state["variance"], state["lags"], state["smooth"], state.get("adapt", 0.0),
                bool(state.get("fast", False)))
        d.raw_scale, d.smooth_scale = float(state.get("raw_scale", 1.0)), float(state.get("smooth_scale", 1.0))
        d.width = int(state["width"])
        d.mean, d.scale = np.asarray(state["mean"], float), np.asarray(state["scale"], float)
        d.loadings, d.eigen = np.asarray(state["loadings"], float), np.asarray(state["eigen"], float)
        d.t2_norm, d.q_norm = float(state["t2_norm"]), float(state["q_norm"])
        d.history = None if state.get("history") is None else np.asarray(state["history"], float)
        d.level = state.get("level")
        return d
