"""Questions about the org tree that a catalog document's checks ask, over plain code maps (the
tree as the store and the document together would leave it)."""

from __future__ import annotations


def within(parent: dict[str, str | None], org: str | None, top: str) -> bool:
    """Whether `org` is `top` or lies below it. Bounded by the tree's size: a cycle is reported by
    the cycle check, not looped on here."""
    for _ in range(len(parent) + 1):
        if org is None:
            return False
        if org == top:
            return True
        org = parent.get(org)
    return False


def not_an_enterprise(where: str, org: str, org_kind: dict[str, str], what: str) -> str | None:
    """The problem with naming `org` as the owner of something only an enterprise owns, if any."""
    if org not in org_kind:
        return f"{where}: unknown org {org!r}"
    if org_kind[org] != "enterprise":
        return f"{where}: {org!r} is a {org_kind[org]}, {what} belong to an enterprise"
    return None
