"""Tenant scopes. Every org node (region ▸ park ▸ enterprise) is a scope; a user sees their node
and everything below it, nothing beside or above. The org tree is small and read on every
request, so it is held in memory and rebuilt only when the catalog revision moves."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, select

from hazwatch.catalog.models import CatalogMeta, Org
from hazwatch.domain.batch import RawBatch


@dataclass(frozen=True)
class OrgNode:
    id: int
    code: str
    name: str
    kind: str
    parent: int | None


@dataclass(frozen=True)
class OrgTree:
    revision: int
    nodes: dict[int, OrgNode]

    def subtree(self, org_id: int) -> frozenset[int]:
        children: dict[int | None, list[int]] = {}
        for n in self.nodes.values():
            children.setdefault(n.parent, []).append(n.id)
        out, todo = set(), [org_id] if org_id in self.nodes else []
        while todo:
            cur = todo.pop()
            out.add(cur)
            todo.extend(children.get(cur, ()))
        return frozenset(out)

    def by_code(self, code: str) -> OrgNode | None:
        return next((n for n in self.nodes.values() if n.code == code), None)

    @classmethod
    def load(cls, engine: Engine) -> OrgTree:
        with engine.connect() as conn:
            rev = conn.scalar(select(CatalogMeta.revision).where(CatalogMeta.id == 1)) or 0
            rows = conn.execute(select(Org.id, Org.code, Org.name, Org.kind, Org.parent_id)).all()
        return cls(rev, {r[0]: OrgNode(*r) for r in rows})


class OrgTrees:
    """The current OrgTree, reloaded when `revision()` (a cheap in-memory read) moves past it."""

    def __init__(self, engine: Engine, revision: Callable[[], int]) -> None:
        self.engine = engine
        self.revision = revision
        self._tree: OrgTree | None = None
        self._subtrees: dict[int, frozenset[int]] = {}
        self._lock = threading.Lock()

    def current(self) -> OrgTree:
        tree = self._tree
        if tree is None or tree.revision != self.revision():
            with self._lock:
                tree = self._tree = OrgTree.load(self.engine)
                self._subtrees = {}
        return tree

    def invalidate(self) -> None:
        self._tree = None

    def code_of(self, org_id: int | None) -> str | None:
        """An org's code (None for an org that is gone, or none)."""
        node = self.current().nodes.get(org_id) if org_id is not None else None
        return node.code if node is not None else None

    def subtree(self, org_id: int) -> frozenset[int]:
        tree = self.current()
        hit = self._subtrees.get(org_id)
        if hit is None:
            hit = self._subtrees[org_id] = tree.subtree(org_id)
        return hit


class Scope:
    """Which orgs a principal may see. `org_ids is None` means the whole installation; objects that
    belong to no org (installation settings) are visible only then."""

    def __init__(self, org_ids: frozenset[int] | None, root: int | None = None) -> None:
        self.org_ids = org_ids
        self.root = root
        self._array = None if org_ids is None else np.fromiter(org_ids, np.int64, len(org_ids))

    @property
    def everything(self) -> bool:
        return self.org_ids is None

    def allows(self, org_id: int | None) -> bool:
        if self.org_ids is None:
            return True
        return org_id is not None and org_id in self.org_ids

    def mask(self, org_ids: np.ndarray) -> np.ndarray:
        """Vectorized allows() over an array of org ids (the hot path's sensor → enterprise array)."""
        if self._array is None:
            return np.ones(len(org_ids), bool)
        return np.isin(org_ids, self._array)

    def restrict(self, raw: RawBatch, sensor_org: np.ndarray, sensor_device: np.ndarray,
                 device_id: int | None) -> RawBatch:
        """A posted batch as this scope may write it: readings for sensors outside it read as unknown
        sensors; a device credential (`device_id`) may write only its own device's sensors, and is
        told so per reading (`denied`). `sensor_org`, `sensor_device`: the sensor index's arrays."""
        if self.everything and device_id is None:
            return raw
        known = raw.sensor >= 0
        sid = np.where(known, raw.sensor, 0)
        outside = known & ~self.mask(sensor_org[sid])
        if outside.any():
            raw.sensor = np.where(outside, -1, raw.sensor).astype(raw.sensor.dtype)
            known &= ~outside
        if device_id is not None:
            raw.denied = known & (sensor_device[sid] != device_id)
        return raw
