"""The scope walk's registry and checks, shared by its case modules: `case` registers what one
route must do for every walker; `expect` is the rule each case applies (role first: 403; then
scope: 404; in scope and permitted it works)."""

from __future__ import annotations

from collections.abc import Callable

from hazwatch.auth import roles as R
from tests.auth.conftest import WALKERS
from tests.auth.world import SUBTREE, World

API = "/api/v1"
CASES: dict[tuple[str, str], Callable[[World, str], None]] = {}


def case(method: str, path: str):
    def register(fn):
        CASES[(method, API + path)] = fn
        return fn
    return register


def sees(w: World, user: str, org: str) -> bool:
    return org in SUBTREE[w.user_org[user]]


def may(user: str, permission: str) -> bool:
    return R.allowed(WALKERS[user][0], permission)


def expect(r, user: str, permission: str, visible: bool, ok=(200, 201, 204, 409, 422)) -> None:
    """The role is checked first (403), then the scope (404); in scope and permitted it works."""
    if not may(user, permission):
        assert r.status_code == 403, (user, r.status_code, r.text)
    elif not visible:
        assert r.status_code == 404, (user, r.status_code, r.text)
    else:
        assert r.status_code in ok, (user, r.status_code, r.text)


def admin_view(w: World, url: str):
    r = w.client.get(url)
    return r.status_code, r.json()


def orgs_of(codes, table) -> set[str]:
    return {table[c] for c in codes}
