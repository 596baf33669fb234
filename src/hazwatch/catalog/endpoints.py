"""Registered field endpoints: the only places the server connects to in the plant.

A sensor source (`opc.tcp://host:4840#node`) or an interlock target (`modbus://host:502/1/40`,
`mqtt://topic`) is typed by a tenant; the address part must equal an endpoint that an installation
administrator registered for the tenant's own enterprise, or the document is refused. The refusal
is decided from the catalog alone, before and without any connection, and reads the same for an
address of another enterprise and one nobody registered: it tells neither whether a host answers
nor whose it is."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from hazwatch.catalog.models import Device, Endpoint, Org, Sensor
from hazwatch.catalog.orgtree import not_an_enterprise, within
from hazwatch.catalog.schema import CatalogDoc

_DEFAULT_PORT = {"opc.tcp": 4840, "modbus": 502}
MQTT = "mqtt://"


def normal_address(address: str) -> str:
    """The one spelling of an endpoint address that registrations and references are compared in:
    lower-case host, explicit port (an OPC UA path is kept as given: servers may tell endpoints
    apart by it). Raises ValueError for what is no address."""
    if address.startswith(MQTT):
        topic = address[len(MQTT):].strip("/")
        if not topic or any(c in topic for c in "#+") or "//" in topic:
            raise ValueError(f"{address!r} is not an MQTT topic prefix")
        return MQTT + topic
    u = urlsplit(address)
    if u.scheme not in _DEFAULT_PORT or not u.hostname or u.username or u.password or u.query or u.fragment:
        raise ValueError(f"{address!r} is not an opc.tcp:// or modbus:// address")
    port = u.port or _DEFAULT_PORT[u.scheme]  # u.port raises ValueError for a port that is no number
    host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname.lower()
    path = u.path if u.scheme == "opc.tcp" else ""
    if u.scheme == "modbus" and u.path.strip("/"):
        raise ValueError(f"{address!r}: a Modbus endpoint is host and port only")
    return f"{u.scheme}://{host}:{port}{path}"


def endpoint_part(reference: str) -> str | None:
    """The endpoint a source or target lies on, in normal form; the topic itself for MQTT (matched
    against registered prefixes). None for a reference that is malformed."""
    try:
        if reference.startswith(MQTT):
            return normal_address(reference)
        if reference.startswith("opc.tcp://"):
            endpoint, _, node = reference.partition("#")
            return normal_address(endpoint) if node else None
        if reference.startswith("modbus://"):
            u = urlsplit(reference)
            parts = u.path.strip("/").split("/")
            if len(parts) != 2 or not all(p.isdigit() for p in parts):
                return None
            return normal_address(f"modbus://{u.netloc}")
    except ValueError:
        return None
    return None


def node_key(source: str) -> str | None:
    """A sensor source in normal form (endpoint and node), so two spellings of one node compare equal."""
    endpoint = endpoint_part(source)
    return None if endpoint is None else f"{endpoint}#{source.partition('#')[2]}"


@dataclass(frozen=True)
class EndpointBook:
    """Registered endpoints: normal address -> owning enterprise (org id, or code while checking a
    document)."""

    owners: dict[str, object]

    def owner(self, reference: str) -> object | None:
        """The enterprise whose registered endpoint `reference` lies on, else None."""
        at = endpoint_part(reference)
        if at is None:
            return None
        if not at.startswith(MQTT):
            return self.owners.get(at)
        topic, best = at[len(MQTT):], None
        for address, org in self.owners.items():  # the longest registered prefix at a level boundary
            prefix = address[len(MQTT):] if address.startswith(MQTT) else None
            if (prefix is not None and (topic == prefix or topic.startswith(prefix + "/"))
                    and (best is None or len(prefix) > len(best[0]))):
                best = (prefix, org)
        return None if best is None else best[1]

    @classmethod
    def load(cls, session: Session) -> EndpointBook:
        return cls({a: o for a, o in session.execute(select(Endpoint.address, Endpoint.org_id))})


def check(session: Session, doc: CatalogDoc, source: str, org_kind: dict[str, str],
          parent: dict[str, str | None]) -> list[str]:
    """Endpoints are well formed, of an enterprise and registered once; sensor sources and interlock
    targets lie on an endpoint of their own enterprise (a plan's: of an enterprise at or below its
    org); one OPC UA node feeds one sensor."""
    problems: list[str] = []
    org_code = dict(session.execute(select(Org.id, Org.code)).all())
    stored = {c: (org_code.get(o), a) for c, o, a in session.execute(select(Endpoint.code, Endpoint.org_id,
                                                                           Endpoint.address))}
    for i, e in enumerate(doc.endpoints):
        if (p := not_an_enterprise(f"{source}: endpoints[{i}].org", e.org, org_kind, "field endpoints")) is not None:
            problems.append(p)
        try:
            stored[e.code] = (e.org, normal_address(e.address))
        except ValueError as err:
            problems.append(f"{source}: endpoints[{i}].address: {err}")
            stored.pop(e.code, None)
    seen: dict[str, str] = {}
    for code, (_, address) in sorted(stored.items()):
        if address in seen:
            i = next((i for i, e in enumerate(doc.endpoints) if e.code == code), None)
            where = f"endpoints[{i}].address" if i is not None else "endpoints"
            problems.append(f"{source}: {where}: {address!r} is registered already as endpoint {seen[address]!r}")
        seen.setdefault(address, code)
    book = EndpointBook({a: o for o, a in stored.values()})

    if any(x.source for x in doc.sensors):
        dev_org = {c: org_code.get(o) for c, o in session.execute(select(Device.code, Device.org_id))}
        dev_org |= {d.code: d.org for d in doc.devices}
        in_doc = {x.tag for x in doc.sensors}
        feeds = {node_key(src): tag for tag, src in session.execute(select(Sensor.tag, Sensor.source).where(
            Sensor.source.is_not(None))) if tag not in in_doc}
        for i, x in enumerate(doc.sensors):
            if not x.source:
                continue
            org = dev_org.get(x.device)
            if org is not None and book.owner(x.source) != org:
                problems.append(f"{source}: sensors[{i}].source: {x.source!r} is not at a field endpoint registered "
                                f"for enterprise {org!r}")
                continue
            key = node_key(x.source)
            if key in feeds:
                problems.append(f"{source}: sensors[{i}].source: that node feeds sensor {feeds[key]!r} already")
            feeds[key] = x.tag

    for i, plan in enumerate(doc.plans):
        for j, step in enumerate(plan.steps):
            if step.interlock is None:
                continue
            owner = book.owner(step.interlock.target)  # an org code: the book is keyed by codes here
            if not within(parent, None if owner is None else str(owner), plan.org):
                problems.append(f"{source}: plans[{i}].steps[{j}].interlock.target: {step.interlock.target!r} is not "
                                f"at a field endpoint registered for an enterprise of {plan.org!r}")
    return problems


def check_scope(session: Session, doc: CatalogDoc, source: str, allowed: frozenset[int]) -> list[str]:
    """A scoped caller may carry its own endpoints unchanged (an exported document applied again)
    but registers and changes none: that is an installation administrator's act. A foreign code,
    an unknown one and a change read the same."""
    if not doc.endpoints:
        return []
    org_id = dict(session.execute(select(Org.code, Org.id)).all())
    stored = {e.code: e for e in session.scalars(select(Endpoint))}
    problems = []
    for i, e in enumerate(doc.endpoints):
        mine = stored.get(e.code)
        try:
            same = (mine is not None and mine.org_id in allowed and mine.org_id == org_id.get(e.org)
                    and mine.name == e.name and mine.address == normal_address(e.address))
        except ValueError:
            same = False
        if not same:
            problems.append(f"{source}: endpoints[{i}]: only an administrator of the whole installation registers "
                            "or changes a field endpoint")
    return problems
