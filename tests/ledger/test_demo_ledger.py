"""The demo's ledger: the park's catalog, alarms and readings go into a log that the demo's two
witnesses cosign, and the regulator's verification passes on what the demo wrote."""

import time

from sqlalchemy import text

from hazwatch.demo import prepare
from hazwatch.ledger.commit import is_public_entry
from hazwatch.ledger.keys import read_vkey
from hazwatch.ledger.verify import Data, verify_log
from hazwatch.normalize import RawBatch
from hazwatch.sim import ParkSimulator
from tests.conftest import make_settings


def test_the_demo_park_is_sealed_and_cosigned_by_both_witnesses(tmp_path):
    settings = make_settings(tmp_path, ledger_enabled=True, ledger_interval_s=3600)
    services, doc, witnesses = prepare(settings)
    try:
        assert [w.name for w in witnesses] == ["park", "regulator"]
        services.pipeline.start()
        sim = ParkSimulator(doc)
        now = time.time_ns() // 1000
        for k in range(40):  # the first 40 s of the fault cycle: the TK103 overfill goes to HH
            tags, ts, values, quality = sim.step(float(k), now - (40 - k) * 1_000_000)
            services.pipeline.ingest(RawBatch(tags, services.index.lookup(tags), ts, values, quality)).result()
        services.ledger.integrate()
        assert services.ledger.cosign()
        log_key = read_vkey(str(settings.ledger_path / "log.vkey"))
        report = verify_log(settings.ledger_path, log_key, [read_vkey(str(w.vkey_file)) for w in witnesses], 2)
        assert report.ok, report.failures[:3]
        assert report.cosigners == ["park.demo.hazwatch/witness", "regulator.demo.hazwatch/witness"]
        # the public log holds commitments only: it names no org, sensor or user
        public = [e for _, e in services.ledger.tiles.entries()]
        assert public and all(is_public_entry(e) for e in public)
        assert not any(code.encode() in b"".join(public) for code in ("E-TANK", "TK103", "P-CHEM", "admin"))
        # the installation opens every one of them, and finds what it sealed
        opened = verify_log(settings.ledger_path, log_key, [read_vkey(str(w.vkey_file)) for w in witnesses], 2,
                            data=Data(services.engine, None, services.ledger.committer))
        assert opened.ok, opened.failures[:3]
        assert opened.checked["committed entries opened"] == len(public)
        with services.engine.connect() as conn:
            bodies = conn.execute(text("SELECT body FROM ledger_entries")).scalars().all()
        kinds = {bytes(e).split(b'"kind":"')[1].split(b'"')[0] for e in bodies}
        assert {b"catalog", b"alarm"} <= kinds
    finally:
        services.pipeline.stop()
        services.store.close()
        for w in witnesses:
            w.server.should_exit = True
