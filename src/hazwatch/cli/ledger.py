"""`hazwatch ledger ...` and `hazwatch witness serve`: keys, proofs, offline verification, and the
witness that a park or a regulator runs beside its own systems."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hazwatch.cli.common import settings_for
from hazwatch.ledger.note import COSIGNATURE_V1, ED25519, NoteError, Signer
from hazwatch.settings import Settings

ledger_app = typer.Typer(help="The tamper-evident ledger: keys, proofs and offline verification.",
                         no_args_is_help=True)
witness_app = typer.Typer(help="A witness that cosigns a log's checkpoints (C2SP tlog-witness).",
                          no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="The installation's files (default from "
                                                                   "HAZWATCH_DATA_DIR or .hazwatch/data)")]
VKeys = Annotated[list[str] | None, typer.Option("--witness-vkey", help="A witness's verifier key (or a file "
                                                                         "holding it); repeat for each")]


def _fail(msg: str) -> None:
    err.print(f"[red]error:[/] {msg}", highlight=False)
    raise typer.Exit(2)


@ledger_app.command("keygen")
def keygen(name: Annotated[str, typer.Argument(help="the key's name: the log's origin, or the witness's name "
                                                    "(a schema-less URL such as park.example/witness)")],
           out: Annotated[Path, typer.Option("--out", "-o", help="file for the private key (made 0600; never "
                                                                 "overwritten)")],
           witness: Annotated[bool, typer.Option("--witness", help="a witness cosignature key (type 0x04) "
                                                                   "instead of a log key (0x01)")] = False) -> None:
    """Make a signing key; prints its verifier key, which is what others configure to trust it."""
    from hazwatch.ledger.keys import write_signer

    try:
        signer = Signer.generate(name, COSIGNATURE_V1 if witness else ED25519)
        write_signer(out, signer)
    except FileExistsError:
        _fail(f"{out} exists; a key file is never overwritten")
    except NoteError as e:
        _fail(str(e))
    console.print(signer.verifier.vkey, highlight=False)


def _open(settings: Settings):
    from hazwatch.app import open_database
    from hazwatch.domain import SystemClock
    from hazwatch.ledger.keys import load_signer
    from hazwatch.ledger.log import Ledger

    if not settings.ledger_enabled:
        _fail("the ledger is turned off (HAZWATCH_LEDGER_ENABLED=false)")
    engine = open_database(settings)
    key = settings.ledger_key or settings.ledger_path / "log.key"
    if not key.exists():
        _fail(f"no log key at {key}: the server makes it on its first start")
    return Ledger(engine, settings.ledger_path, load_signer(key), SystemClock(), read_only=True)


@ledger_app.command("vkey")
def vkey(data_dir: DataDir = None) -> None:
    """The installation's log verifier key: what witnesses and regulators configure."""
    from hazwatch.ledger.keys import load_signer

    s = settings_for(data_dir)
    key = s.ledger_key or s.ledger_path / "log.key"
    if not key.exists():
        _fail(f"no log key at {key}: the server makes it on its first start")
    console.print(load_signer(key).verifier.vkey, highlight=False)


@ledger_app.command("prove")
def prove(entry: Annotated[int | None, typer.Option("--entry", help="the entry's index in the log")] = None,
          record: Annotated[str | None, typer.Option("--record", help="TABLE:ROW of a sealed record, e.g. "
                                                                      "alarm_journal:12")] = None,
          output: Annotated[Path | None, typer.Option("--output", "-o", help="write here (default: stdout)")] = None,
          data_dir: DataDir = None) -> None:
    """Export a self-contained proof (C2SP tlog-proof): the entry, its record, the inclusion path and
    the newest cosigned checkpoint. Verify it anywhere with `hazwatch ledger verify --proof`."""
    if (entry is None) == (record is None):
        _fail("give exactly one of --entry N or --record TABLE:ROW")
    ledger = _open(settings_for(data_dir))
    if record is not None:
        table, _, row = record.partition(":")
        if not row.isdigit():
            _fail("--record reads TABLE:ROW, e.g. alarm_journal:12")
        entry = ledger.record_index(table, int(row))
        if entry is None:
            _fail(f"{record} is not sealed (yet): the ledger seals new rows every few seconds while the server runs")
    try:
        text = ledger.prove(entry)
    except (LookupError, StopIteration) as e:
        _fail(str(e) or f"entry {entry} does not exist")
    if output:
        output.write_text(text)
        err.print(f"proof of entry {entry} written to {output}")
    else:
        sys.stdout.write(text)


@ledger_app.command("fetch")
def fetch(url: Annotated[str, typer.Argument(help="the log's prefix, e.g. http://plant:8000/ledger")],
          directory: Annotated[Path, typer.Argument(help="where to mirror checkpoint and tiles")]) -> None:
    """Mirror a log (checkpoint, every tile and entry bundle) for offline verification."""
    from hazwatch.ledger.mirror import mirror

    try:
        size, files = mirror(url, directory)
    except Exception as e:
        _fail(f"could not mirror {url}: {e}")
    console.print(f"mirrored {size} entries ({files} files) into {directory}")


@ledger_app.command("verify")
def verify(log_vkey: Annotated[str, typer.Option("--log-vkey", help="the log's verifier key (or a file)")],
           witness_vkey: VKeys = None,
           quorum: Annotated[int | None, typer.Option(help="witness cosignatures required (default: all given)")]
           = None,
           proof: Annotated[Path | None, typer.Option("--proof", help="a .tlog-proof file to check")] = None,
           tiles: Annotated[Path | None, typer.Option("--tiles", help="a log mirror (checkpoint + tile/) to "
                                                                      "recompute in full")] = None,
           old_checkpoint: Annotated[list[Path] | None, typer.Option(
               "--old-checkpoint", help="an earlier checkpoint the current one must extend; repeatable")] = None,
           data: Annotated[bool, typer.Option("--data", help="also check the installation's stored records and "
                                                             "readings against their digests (stop the embedded "
                                                             "server first: it holds the telemetry file)")] = False,
           data_dir: DataDir = None) -> None:
    """Check offline: checkpoint signatures and witness quorum, a record's inclusion, consistency with
    earlier checkpoints, a full recompute of the tree, and (with --data) the stored data. Exit 1 names
    the first entry that fails."""
    from hazwatch.ledger.keys import read_vkey
    from hazwatch.ledger.verify import Data, verify_log

    try:
        log_key = read_vkey(log_vkey)
        witnesses = [read_vkey(w) for w in witness_vkey or []]
    except NoteError as e:
        _fail(str(e))
    need = len(witnesses) if quorum is None else quorum
    if proof is None and tiles is None and not data:
        _fail("nothing to verify: give --proof FILE, --tiles DIR or --data")
    failed = False
    if proof is not None:
        failed |= not _verify_proof(proof, log_key, witnesses, need)
    if tiles is not None or data:
        settings = settings_for(data_dir)
        source = None
        if data:
            from hazwatch.app import open_database
            from hazwatch.store import open_store

            store = open_store(settings.store_url, settings.duckdb_memory_limit)
            from hazwatch.keyfile import load_key
            from hazwatch.ledger.commit import Committer

            key = load_key(settings.ledger_path / "commit.key", create=False)
            source = Data(open_database(settings), store.window, Committer(key) if key else None)
        olds = [p.read_text() for p in old_checkpoint or []]
        report = verify_log(tiles or settings.ledger_path, log_key, witnesses, need, olds, source)
        if report.checkpoint:
            console.print(f"checkpoint {report.checkpoint.origin} size {report.size}, cosigned by "
                          f"{', '.join(report.cosigners) or 'no witness'}", highlight=False)
        for what, n in report.checked.items():
            console.print(f"  checked {n} {what}", highlight=False)
        if report.ok:
            console.print("[green]log verified[/]: every entry, the tree and the checkpoint agree"
                          + (", and the stored data matches its digests" if data else ""))
        else:
            failed = True
            console.print(f"[red]FAILED[/] {report.first}", highlight=False)
            for f in sorted(report.failures)[:20]:
                if f != report.first:
                    console.print(f"  also: {f}", highlight=False)
            if len(report.failures) > 21:
                console.print(f"  and {len(report.failures) - 21} more", highlight=False)
    raise typer.Exit(1 if failed else 0)


def _verify_proof(path: Path, log_key, witnesses, quorum: int) -> bool:
    from hazwatch.ledger.merkle import ProofError
    from hazwatch.ledger.proof import ProofFormatError, verify_proof

    try:
        v = verify_proof(path.read_text(), log_key, witnesses, quorum)
    except (NoteError, ProofError, ProofFormatError, OSError) as e:
        console.print(f"[red]FAILED[/] {path}: {e}", highlight=False)
        return False
    console.print(f"[green]verified[/] entry {v.index} of {v.size} ({v.entry.get('kind')} "
                  f"{v.entry.get('subject')}), cosigned by {', '.join(v.cosigners) or 'no witness'}", highlight=False)
    if v.record is not None:
        import json

        console.print(f"  the {v.entry.get('table')} row it seals, unchanged since:", highlight=False)
        console.print(json.dumps(v.record, indent=2, ensure_ascii=False), highlight=False)
    return True


@witness_app.command("serve")
def witness_serve(key: Annotated[Path, typer.Option("--key", help="the witness's key file "
                                                                 "(`hazwatch ledger keygen --witness`)")],
                  log_vkey: Annotated[list[str], typer.Option("--log-vkey", help="verifier key of a log this "
                                                                                 "witness follows; repeatable")],
                  state: Annotated[Path, typer.Option("--state", help="JSON file of the latest checkpoint "
                                                                      "cosigned per log (replaced atomically)")],
                  host: Annotated[str, typer.Option()] = "127.0.0.1",
                  port: Annotated[int, typer.Option()] = 7380) -> None:
    """Serve POST /add-checkpoint: cosign a log's checkpoint only when it provably extends the last one."""
    import uvicorn

    from hazwatch.api.witness import create_witness_api
    from hazwatch.ledger.keys import load_signer, read_vkey
    from hazwatch.ledger.witness import Witness

    try:
        w = Witness(load_signer(key), [read_vkey(v) for v in log_vkey], state)
    except (NoteError, OSError, ValueError) as e:
        _fail(str(e))
    console.print(f"witness {w.signer.name} on http://{host}:{port}/add-checkpoint; verifier key "
                  f"{w.signer.verifier.vkey}", highlight=False)
    uvicorn.run(create_witness_api(w), host=host, port=port, log_level="warning")
