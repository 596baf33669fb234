"""Roles and what each may do: one table, read by the API's single authorization dependency and
walked exhaustively by the tests (role × endpoint). Scope (which orgs) is separate from the role
(which actions): a park operator and an enterprise operator can do the same things, to different
objects."""

from __future__ import annotations

from typing import Final

# Permissions. Every API operation names exactly one of them (its `x-permission`).
PUBLIC: Final = "public"  # no credential needed (login, health)
SELF: Final = "self"  # who am I, revoke my own token
READ: Final = "data:read"  # catalog, sensors, series, alarms, orgs in scope
TELEMETRY_WRITE: Final = "telemetry:write"
ALARM_OPERATE: Final = "alarms:operate"  # acknowledge, shelve, unshelve
ALARM_ENGINEER: Final = "alarms:engineer"  # suppress by design, remove from service
ANNOTATE: Final = "annotate"  # comment on alarms
CATALOG_WRITE: Final = "catalog:write"
DEVICE_CREDENTIALS: Final = "devices:credentials"
ORGS_WRITE: Final = "orgs:write"
USERS_MANAGE: Final = "users:manage"
AUDIT_READ: Final = "audit:read"
OWN_CREDENTIALS: Final = "credentials:own"  # your own password, and API keys that act as you
REPORTS_REQUEST: Final = "reports:request"
SYSTEM_READ: Final = "system:read"  # health of the installation's protocol adapters
INCIDENT_RESPOND: Final = "incidents:respond"  # open, acknowledge, move through states, tasks, reports made
INTERLOCK_CONFIRM: Final = "interlocks:confirm"  # confirm a plan's write to the plant
RISK_ASSESS: Final = "risk:assess"  # LEC and matrix assessments of risk points
HIDDEN_REPORT: Final = "hidden_dangers:report"  # put a hidden danger on the register
HIDDEN_MANAGE: Final = "hidden_dangers:manage"  # move hidden dangers through review, rectification, acceptance

ALL: Final = frozenset({SELF, READ, TELEMETRY_WRITE, ALARM_OPERATE, ALARM_ENGINEER, ANNOTATE, CATALOG_WRITE,
                        DEVICE_CREDENTIALS, ORGS_WRITE, USERS_MANAGE, AUDIT_READ, OWN_CREDENTIALS, REPORTS_REQUEST,
                        SYSTEM_READ, INCIDENT_RESPOND, INTERLOCK_CONFIRM, RISK_ASSESS, HIDDEN_REPORT, HIDDEN_MANAGE})

ADMIN: Final = "admin"
REGULATOR: Final = "regulator"
PARK_ADMIN: Final = "park_admin"
ENTERPRISE_ADMIN: Final = "enterprise_admin"
OPERATOR: Final = "operator"
SUPERVISOR: Final = "supervisor"
VIEWER: Final = "viewer"
DEVICE: Final = "device"

_HUMAN = frozenset({SELF, READ, OWN_CREDENTIALS})

PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    # The installation's administrator (or, with an org, the administrator of one subtree).
    ADMIN: ALL,
    # Emergency-management bureau: sees everything in its region, comments, asks for reports, and takes
    # the incidents that climb to it (acknowledges them, records the reports passed up).
    REGULATOR: _HUMAN | {ANNOTATE, AUDIT_READ, REPORTS_REQUEST, INCIDENT_RESPOND, HIDDEN_REPORT},
    # Park management committee: enterprises, users and catalog of its park; does not run plants, but
    # takes incidents that climb to the park.
    PARK_ADMIN: _HUMAN | {ANNOTATE, AUDIT_READ, REPORTS_REQUEST, USERS_MANAGE, CATALOG_WRITE,
                          DEVICE_CREDENTIALS, ORGS_WRITE, INCIDENT_RESPOND, RISK_ASSESS, HIDDEN_REPORT,
                          HIDDEN_MANAGE},
    # The enterprise's safety department: users, catalog, device secrets, alarm engineering, incidents
    # and the plant writes their plans ask for.
    ENTERPRISE_ADMIN: _HUMAN | {ANNOTATE, AUDIT_READ, USERS_MANAGE, CATALOG_WRITE, DEVICE_CREDENTIALS,
                                ALARM_OPERATE, ALARM_ENGINEER, TELEMETRY_WRITE, INCIDENT_RESPOND, INTERLOCK_CONFIRM,
                                RISK_ASSESS, HIDDEN_REPORT, HIDDEN_MANAGE, REPORTS_REQUEST},
    # Shift supervisor: what an operator may do; a rung of its own on the escalation ladder, so an
    # incident nobody on the console acknowledges reaches the supervisor and not more operators.
    SUPERVISOR: _HUMAN | {ALARM_OPERATE, ANNOTATE, INCIDENT_RESPOND, INTERLOCK_CONFIRM, HIDDEN_REPORT},
    # Control-room operator: works the alarm console, the tasks of incidents, and the plant writes
    # their plans ask for (a plan may require a second person to confirm as well).
    OPERATOR: _HUMAN | {ALARM_OPERATE, ANNOTATE, INCIDENT_RESPOND, INTERLOCK_CONFIRM, HIDDEN_REPORT},
    VIEWER: _HUMAN,
    # A field device or gateway: writes telemetry for its own sensors and nothing else.
    DEVICE: frozenset({SELF, TELEMETRY_WRITE}),
}
ROLES: Final = tuple(PERMISSIONS)

# Which roles a user of each role may hand out (always within the granter's own scope).
GRANTS: Final[dict[str, frozenset[str]]] = {
    ADMIN: frozenset({ADMIN, REGULATOR, PARK_ADMIN, ENTERPRISE_ADMIN, SUPERVISOR, OPERATOR, VIEWER}),
    PARK_ADMIN: frozenset({PARK_ADMIN, ENTERPRISE_ADMIN, SUPERVISOR, OPERATOR, VIEWER}),
    ENTERPRISE_ADMIN: frozenset({ENTERPRISE_ADMIN, SUPERVISOR, OPERATOR, VIEWER}),
}

# The org kinds a role's user may be attached to (None: the whole installation).
ROLE_ORG_KINDS: Final[dict[str, frozenset[str | None]]] = {
    ADMIN: frozenset({None, "region", "park", "enterprise"}),
    REGULATOR: frozenset({"region"}),
    PARK_ADMIN: frozenset({"park"}),
    ENTERPRISE_ADMIN: frozenset({"enterprise"}),
    SUPERVISOR: frozenset({"park", "enterprise"}),
    OPERATOR: frozenset({"park", "enterprise"}),
    VIEWER: frozenset({"region", "park", "enterprise"}),
}


def allowed(role: str, permission: str) -> bool:
    return permission == PUBLIC or permission in PERMISSIONS.get(role, frozenset())


def markdown_table() -> str:
    """The role × permission table as docs/security.md shows it (a test keeps the two equal)."""
    perms = sorted(ALL)
    lines = ["| permission | " + " | ".join(ROLES) + " |", "|---|" + "---|" * len(ROLES)]
    for p in perms:
        lines.append(f"| `{p}` | " + " | ".join("✓" if p in PERMISSIONS[r] else "" for r in ROLES) + " |")
    return "\n".join(lines)
