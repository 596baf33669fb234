"""ISA-18.2 alarm states. The process side is two independent flags (active, acknowledged);
shelved, suppressed-by-design and out-of-service overlay them without losing them."""

from __future__ import annotations

NORMAL = "normal"
ACTIVE_UNACK = "active_unacknowledged"
ACTIVE_ACK = "active_acknowledged"
RETURNED_UNACK = "returned_unacknowledged"
SHELVED = "shelved"
SUPPRESSED = "suppressed"
OUT_OF_SERVICE = "out_of_service"

FILTERS = ("active", "unacknowledged", "shelved", "suppressed", "out_of_service", "all")


def process_state(active: bool, acknowledged: bool) -> str:
    if active:
        return ACTIVE_ACK if acknowledged else ACTIVE_UNACK
    return NORMAL if acknowledged else RETURNED_UNACK


def state_name(active: bool, acknowledged: bool, shelved: bool, suppressed: bool, out_of_service: bool) -> str:
    if out_of_service:
        return OUT_OF_SERVICE
    if suppressed:
        return SUPPRESSED
    if shelved:
        return SHELVED
    return process_state(active, acknowledged)


def matches(filter_: str, state: str) -> bool:
    if filter_ == "all":
        return True
    if filter_ == "active":
        return state in (ACTIVE_UNACK, ACTIVE_ACK)
    if filter_ == "unacknowledged":
        return state in (ACTIVE_UNACK, RETURNED_UNACK)
    return state == filter_
