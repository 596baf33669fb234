"""Multivariate detection on the Tennessee Eastman process, Hazwatch's detector beside PCA T² and Q.

Runs come from the `tep-studio` simulator (the `bench` extra): each run simulates a 24 h warm-up
that is thrown away (the controllers take 16-24 h to settle), then a 48 h window sampled every
3 minutes. Fault runs switch IDVn on at hour 8 of the window. Only the 41 XMEAS and 11 XMV columns
are used; the simulator's disturbance and state columns would hand a detector the answer.

- fitting: normal runs (seeds 1-4); thresholds for a 1 % false-alarm rate on held-out normal data;
- false alarms: on separate normal runs (seeds 101-106) and before onset in every fault run;
- detection rate: share of samples flagged after onset; delay: minutes from onset to the first
  flag. IDV6 shuts the plant down a few hours after onset; its run is scored on what there is.

Simulated runs are cached (`--cache`, default .cache/tep), so a second run only scores.

    python bench/detect_tep.py [--workers 2] [--write-docs]
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
WARMUP_H, WINDOW_H, ONSET_H, SAMPLE_H, STEP_H = 24.0, 48.0, 8.0, 0.05, 0.0005
TRAIN_SEEDS, NORMAL_SEEDS = (1, 2, 3, 4), (101, 102, 103, 104, 105, 106)
FAULTS = range(1, 29)
FAULT_SEED = 1000  # fault n runs with seed 1000 + n


def simulate(fault: int, seed: int) -> np.ndarray:
    """One run: rows of 41 XMEAS + 11 XMV over the window (fewer if the plant shut down)."""
    from tep_studio import ClosedLoopSimulation

    onset = WARMUP_H + ONSET_H

    def schedule(h: float) -> np.ndarray:
        v = np.zeros(28)
        if fault and h >= onset:
            v[fault - 1] = 1.0
        return v

    res = ClosedLoopSimulation(control_interval=STEP_H, horizon=WARMUP_H + WINDOW_H).run(
        seed=seed, disturbance_schedule=schedule, record_every=int(round(SAMPLE_H / STEP_H)))
    rows = [np.concatenate([r.measurements[:41], r.implemented_action[:11]])
            for r in res.results if r.time > WARMUP_H]
    return np.asarray(rows, dtype=np.float64)


def _job(args: tuple[int, int, str]) -> str:
    fault, seed, path = args
    np.save(path, simulate(fault, seed))
    return path


def generate(cache: Path, workers: int) -> dict[str, np.ndarray]:
    cache.mkdir(parents=True, exist_ok=True)
    plan = {f"train-{s}": (0, s) for s in TRAIN_SEEDS}
    plan |= {f"normal-{s}": (0, s) for s in NORMAL_SEEDS}
    plan |= {f"idv{f}": (f, FAULT_SEED + f) for f in FAULTS}
    todo = [(f, s, str(cache / f"{name}.npy")) for name, (f, s) in plan.items() if not (cache / f"{name}.npy").exists()]
    if todo:
        t0 = time.perf_counter()
        print(f"simulating {len(todo)} runs of {WARMUP_H + WINDOW_H:g} h on {workers} workers ...", flush=True)
        with ProcessPoolExecutor(workers) as pool:
            for _ in pool.map(_job, todo):
                pass
        print(f"simulated in {time.perf_counter() - t0:.0f} s", flush=True)
    return {name: np.load(cache / f"{name}.npy") for name in plan}


if __name__ == "__main__" and "--generate-only" in sys.argv:
    generate(ROOT / ".cache" / "tep", 2)
