"""Run the fault-injection, hostile-input and authorization tests and write their last result into
docs/reliability.md (between its `results` markers): pass or fail, time taken, and the counts each
test recorded (readings acknowledged, stored, refused). The same tests run in `make test`, where the
property tests and the API fuzz replay fixed cases; here they draw new ones (a random seed, more
API examples). CI runs both. This is the record of one run, with the date and the machine.

    python scripts/reliability.py        (make reliability)
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
TESTS = [
    "tests/integration/test_crash_recovery.py",
    "tests/faults/test_broker_restarts.py",
    "tests/faults/test_postgres_outage.py",
    "tests/faults/test_disk_full.py",
    "tests/faults/test_hostile_senders.py",
    "tests/faults/test_orphaned_receiver.py",
    "tests/integration/test_edge_outage.py",
    "tests/scale/test_failover.py",
    "tests/ingest/test_payload_properties.py",
    "tests/catalog/test_catalog_properties.py",
    "tests/detect/test_rulelang_properties.py",
    "tests/ingest/test_mqttwire.py",
    "tests/api/test_schemathesis.py",
    "tests/api/test_hardening.py",
    "tests/auth/test_credential_sweep.py",
    "tests/auth/test_scope_walk.py",
]


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        # the long random runs: new property-test draws and a larger API fuzz with a fresh seed
        env = dict(os.environ, HAZWATCH_REQUIRE_SERVICES=os.environ.get("HAZWATCH_REQUIRE_SERVICES", "1"),
                   HYPOTHESIS_PROFILE="random", HZ_FUZZ_SEED="random",
                   HZ_FUZZ_EXAMPLES=os.environ.get("HZ_FUZZ_EXAMPLES", "30"))
        workers = os.environ.get("TEST_WORKERS", "3")  # as `make test`: shared-broker modules on one worker
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
                        "-o", "junit_family=xunit1", "-n", workers, "--dist", "loadgroup", *TESTS], cwd=ROOT, env=env)
        cases = ET.parse(xml).getroot().iter("testcase")
        out = []
        for c in cases:
            outcome = ("failed" if c.find("failure") is not None or c.find("error") is not None
                       else "skipped" if c.find("skipped") is not None else "passed")
            props = {p.get("name"): p.get("value") for p in c.iter("property")}
            out.append({"file": c.get("file") or c.get("classname", "").replace(".", "/") + ".py",
                        "name": c.get("name"), "seconds": float(c.get("time", 0)), "outcome": outcome,
                        "props": props})
        return out


def table(results: list[dict]) -> str:
    by_file: dict[str, list[dict]] = {}
    for r in results:
        by_file.setdefault(r["file"], []).append(r)
    lines = ["| test | result | time | counts |", "|---|---|---:|---|"]
    for f in TESTS:
        rs = by_file.get(f, [])
        if not rs:
            lines.append(f"| `{f}` | not run | | |")
            continue
        passed = sum(r["outcome"] == "passed" for r in rs)
        failed = [r for r in rs if r["outcome"] == "failed"]
        skipped = sum(r["outcome"] == "skipped" for r in rs)
        verdict = (f"{passed} passed" + (f", **{len(failed)} failed**" if failed else "")
                   + (f", {skipped} skipped" if skipped else ""))
        counts = "; ".join(f"{r['name'].split('[')[0]}: " + ", ".join(f"{k} {v}" for k, v in r["props"].items())
                           for r in rs if r["props"])
        lines.append(f"| `{f}` | {verdict} | {sum(r['seconds'] for r in rs):.0f} s | {counts} |")
    return "\n".join(lines)


def write(results: list[dict]) -> None:
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = DOC.read_text()
    body = (f"{start}\nLast run: {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}; `python scripts/reliability.py`.\n\n{table(results)}\n{end}")
    DOC.write_text(text[: text.index(start)] + body + text[text.index(end) + len(end):])


def main() -> None:
    results = run()
    write(results)
    failed = [r for r in results if r["outcome"] == "failed"]
    print(f"{len(results) - len(failed)} of {len(results)} passed; docs/reliability.md updated")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
