"""The public log proves without telling: after failed log-ins and an hour of the demo park, no
public byte under /ledger/ (the checkpoint and the entry bundles that witnesses and anyone mirror)
holds a user name, a name typed at the log-in, an org, site, hazard source, device or sensor code,
or an incident's text; and a regulator still verifies an alarm record offline, end to end."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from hazwatch.alarms.models import AlarmJournal
from hazwatch.auth.service import InvalidGrant
from hazwatch.demo import _demo_users, prepare
from hazwatch.incidents.models import Incident, IncidentEvent
from hazwatch.ledger.keys import read_vkey
from hazwatch.ledger.proof import verify_proof
from hazwatch.normalize import RawBatch
from hazwatch.sim import ParkSimulator
from tests.conftest import make_settings

TYPED = "hunter2-typed-into-the-name-field"


def test_the_public_log_names_nobody_and_an_alarm_record_still_verifies(tmp_path):
    settings = make_settings(tmp_path, ledger_enabled=True, ledger_interval_s=3600, ledger_window_s=60,
                             ledger_grace_s=0)
    services, doc, witnesses = prepare(settings)
    try:
        users = _demo_users(services)
        for name in (users[3], TYPED):
            for _ in range(3):
                with pytest.raises(InvalidGrant):
                    services.auth.login(name, "not the password", "127.0.0.9")
        services.pipeline.start()
        sim = ParkSimulator(doc)
        now = time.time_ns() // 1000
        last = None
        for k in range(3600):  # an hour of the park, a reading a second from every sensor
            tags, ts, values, quality = sim.step(float(k), now - (3600 - k) * 1_000_000)
            last = services.pipeline.ingest(RawBatch(tags, services.index.lookup(tags), ts, values, quality))
            if k % 30 == 29:  # the incident desk looks at the alarms as its timer would
                last.result()
                services.incidents.call(services.incidents.tick).result()
        services.ledger.integrate()
        assert services.ledger.cosign()

        with services.engine.connect() as conn:
            texts = [t for (t,) in conn.execute(select(Incident.title))]
            texts += [d for (d,) in conn.execute(select(IncidentEvent.detail))]
            row = conn.scalar(select(AlarmJournal.id).order_by(AlarmJournal.id))
        assert texts and row is not None
        secrets = {o.code for o in doc.orgs} | {x.code for x in doc.sites} | {x.code for x in doc.hazard_sources}
        secrets |= {x.code for x in doc.devices} | {s.tag for s in doc.sensors} | set(users) | {"admin", TYPED}
        secrets |= {t for t in texts if len(t) >= 8}
        d = settings.ledger_path
        public = [d / "checkpoint", *sorted((d / "tile" / "entries").rglob("*"))]
        blob = b"".join(p.read_bytes() for p in public if p.is_file())
        assert services.ledger.size > 500  # the catalog, the log-ins, the alarms and incidents of the hour
        told = sorted(s for s in secrets if s.encode() in blob)
        assert told == [], f"the public log names {told[:10]}"

        # the regulator's offline check of one alarm record, as `hazwatch ledger verify --proof` does
        index = services.ledger.record_index("alarm_journal", row)
        proof = services.ledger.prove(index)
        log_key = read_vkey(str(settings.ledger_path / "log.vkey"))
        v = verify_proof(proof, log_key, [read_vkey(str(w.vkey_file)) for w in witnesses], 2)
        assert v.record is not None and v.record["id"] == row and v.entry["table"] == "alarm_journal"
    finally:
        services.pipeline.stop()
        services.store.close()
        for w in witnesses:
            w.server.should_exit = True
