"""A refused catalog carries every problem found, each naming the file and where in it."""

from __future__ import annotations


class CatalogError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("catalog refused, nothing applied:\n  " + "\n  ".join(problems))
