"""Which partition a reading belongs to.

A sensor's partition is its enterprise's: compound rules, multivariate units, flood control and
first-out groups all span sensors of one enterprise, and each needs a single writer. One
enterprise is small beside a province (thousands of points against a million), so partitions by
enterprise stay even enough.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from hazwatch.catalog.index import SensorIndex

SUBJECT = "hz.tel"


def subject(partition: int) -> str:
    return f"{SUBJECT}.{partition}"


def of_orgs(org_id: np.ndarray | int, count: int):
    """Partition of each enterprise id (vectorized)."""
    return np.asarray(org_id) % count


def scoped(index: SensorIndex, owned: Iterable[int], count: int) -> SensorIndex:
    """The index as a worker owning `owned` sees it: other partitions' sensors do not exist, their
    rules, units and devices are left out, so no tick, replay or alarm touches them."""
    owned = frozenset(owned)
    mine = np.isin(of_orgs(index.org_id, count), list(owned)) if owned else np.zeros(index.size, bool)
    keep = lambda org: org is not None and int(org) % count in owned  # noqa: E731
    return dataclasses.replace(
        index, exists=index.exists & mine,
        devices={c: d for c, d in index.devices.items() if keep(d.org_id)},
        units={u: v for u, v in (index.units or {}).items() if keep(v.org_id)},
        rules={r: v for r, v in (index.rules or {}).items() if keep(v.org_id)},
        suppress_when={s: c for s, c in (index.suppress_when or {}).items() if mine[s]})
