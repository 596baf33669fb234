"""Ingest with consoles open: the same columnar 10k-reading batches as bench/ingest.py, into a real
`hazwatch serve`, first with no console open and then with N live streams (`/api/v1/stream`, with
values: what an open console subscribes to), each read by a real WebSocket client. The rounds
alternate (none, N, none, N, ...) on one server, so drift of the machine or the store is shared.

    python bench/consoles.py [--consoles 20] [--seconds 10] [--rounds 2] [--write-docs]

Goal (issue 20): the ingest rate with 20 consoles open is within 10 % of the rate with none.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
from pathlib import Path

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdocs import machine, write_section  # noqa: E402
from ingest import TOKEN, catalog_file, free_port, http_rate, run_server  # noqa: E402


class Consoles:
    """N WebSocket clients reading the live stream as fast as it comes; counts what they got."""

    def __init__(self, port: int, n: int) -> None:
        self.messages = [0] * n
        self.sockets = [connect(f"ws://127.0.0.1:{port}/api/v1/stream?token={TOKEN}", open_timeout=10,
                                max_size=None) for _ in range(n)]
        self.threads = [threading.Thread(target=self._read, args=(i,), daemon=True) for i in range(n)]
        for t in self.threads:
            t.start()

    def _read(self, i: int) -> None:
        try:
            for _ in self.sockets[i]:
                self.messages[i] += 1
        except ConnectionClosed:
            pass

    def close(self) -> None:
        for ws in self.sockets:
            ws.close()
        for t in self.threads:
            t.join(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--consoles", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hz-bench-consoles-"))
    env = dict(os.environ, HAZWATCH_ADMIN_TOKEN=TOKEN, HAZWATCH_LOG_LEVEL="WARNING",
               HAZWATCH_STREAM_MAX_PER_PRINCIPAL=str(max(20, args.consoles)))
    catalog_file(tmp / "catalog.yaml", args.clients)
    port = free_port()
    proc = run_server(env, tmp, port)
    none, some, got = [], [], []
    try:
        http_rate(port, 3, args.clients)  # warm up
        for _ in range(args.rounds):
            none.append(http_rate(port, args.seconds, args.clients)[0])
            consoles = Consoles(port, args.consoles)
            try:
                some.append(http_rate(port, args.seconds, args.clients)[0])
            finally:
                consoles.close()
            got.append(min(consoles.messages))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    base, with_c = statistics.median(none), statistics.median(some)
    ratio = with_c / base
    print(f"no console: {base:,.0f} readings/s; {args.consoles} consoles: {with_c:,.0f} readings/s "
          f"({ratio:.1%}); fewest messages one console received in a round: {min(got)}")
    if args.write_docs:
        cmd = "python bench/consoles.py --write-docs"
        verdict = "within" if ratio >= 0.9 else "**not** within"
        write_section("consoles", (
            f"## Ingest with consoles open\n\nCommand: `{cmd}`  \n{machine()} The batches of `bench/ingest.py` "
            f"({args.clients} client) into one `hazwatch serve`, alternating rounds of {args.seconds:g} s with no "
            f"console and with {args.consoles} live streams (values and alarms) each read by a WebSocket client; "
            f"medians of {args.rounds} rounds each.\n\n"
            f"| consoles open | end to end (readings/s) | fraction of none |\n|---:|---:|---:|\n"
            f"| 0 | {base:,.0f} | 100 % |\n| {args.consoles} | {with_c:,.0f} | {ratio:.0%} |\n\n"
            f"Goal: within 10 % of the rate with none; measured: {verdict}. Each console received at least "
            f"{min(got)} messages in its round (the stream kept up with what it was given). The fan-out runs "
            "on its own thread, one message per scope and batch, never on the writer."))


if __name__ == "__main__":
    main()
