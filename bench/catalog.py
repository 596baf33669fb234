"""Catalog checks at scale: a 10,000-org document (a chain, the deepest tree there is, and a flat
park of enterprises) validated (dry run), accepted, and refused in a tenant's scope, on the
embedded store. The checks are linear in the document; before they were cubic in the orgs.

    python bench/catalog.py [--orgs 10000] [--write-docs]

Goal (issue 20): each in at most 2 s on this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdocs import machine, write_section  # noqa: E402

from hazwatch.app import build  # noqa: E402
from hazwatch.catalog.errors import CatalogError  # noqa: E402
from hazwatch.catalog.io import parse_document  # noqa: E402
from hazwatch.settings import Settings  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    with contextlib.suppress(CatalogError):
        fn()
    return time.perf_counter() - start


def run(shape: str, n: int) -> dict[str, float]:
    services = build(Settings(data_dir=Path(tempfile.mkdtemp(prefix="hz-bench-catalog-")), ledger_enabled=False,
                              report_schedule=[], feed_interval_s=0))
    repo = services.catalog
    repo.apply(parse_document({"orgs": [{"code": "R0", "name": "r", "kind": "region"},
                                        {"code": "P0", "name": "p", "kind": "park", "parent": "R0"}]}, "b"), "b")
    park = services.orgs.current().by_code("P0").id
    if shape == "chain":
        orgs = [{"code": f"R{i}", "name": "r", "kind": "region", "parent": f"R{i - 1}"} for i in range(1, n)]
    else:
        orgs = [{"code": f"E{i}", "name": "e", "kind": "enterprise", "parent": "P0"} for i in range(1, n)]
    doc = parse_document({"orgs": orgs}, "bench")
    out = {"validated (dry run)": timed(lambda: repo.apply(doc, "bench", dry_run=True)),
           "refused (a scope that holds none of it)": timed(lambda: repo.apply(doc, "bench",
                                                                               allowed=frozenset({-1}))),
           "in a park's scope (dry run)": timed(lambda: repo.apply(doc, "bench", allowed=frozenset({park}),
                                                                   dry_run=True)),
           "accepted": timed(lambda: repo.apply(doc, "bench")),
           "accepted again (unchanged)": timed(lambda: repo.apply(doc, "bench"))}
    services.store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orgs", type=int, default=10_000)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    results = {shape: run(shape, args.orgs) for shape in ("chain", "flat")}
    for shape, r in results.items():
        print(shape, {k: f"{v:.2f} s" for k, v in r.items()})
    if args.write_docs:
        ops = list(results["chain"])
        rows = "\n".join(f"| {op} | {results['chain'][op]:.2f} s | {results['flat'][op]:.2f} s |" for op in ops)
        worst = max(v for r in results.values() for v in r.values())
        write_section("catalog", (
            f"## Catalog checks at scale\n\nCommand: `python bench/catalog.py --write-docs`  \n{machine()} "
            f"A document of {args.orgs:,} orgs on the embedded store, as a chain (each org under the last) and as "
            f"one park of enterprises.\n\n| operation | chain | flat |\n|---|---:|---:|\n{rows}\n\n"
            f"Goal: each at most 2 s; slowest measured {worst:.2f} s"
            + (" (met)." if worst <= 2 else " (**missed**).")))


if __name__ == "__main__":
    main()
