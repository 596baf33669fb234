"""A C2SP tlog-witness (c2sp.org/tlog-witness): the `add-checkpoint` logic of a witness, and the
client a log uses to collect cosignatures.

A witness is an independent party (the park, the regulator) that remembers the latest checkpoint
it cosigned for each log and cosigns a new one only if the log proves the new tree extends the old
one. A log that rewrote history cannot produce that proof, so it cannot get the cosignatures that
verifiers demand: that is what makes the ledger's history fixed without a blockchain.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx

from hazwatch.ledger.merkle import ProofError, verify_consistency
from hazwatch.ledger.note import (
    COSIGNATURE_V1,
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    parse_note,
    parse_signature_line,
    verified_by,
)

log = logging.getLogger(__name__)
SIZE_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class Witness:
    """One witness key over a set of trusted logs; state is a JSON file replaced atomically."""

    def __init__(self, signer: Signer, logs: list[Verifier], state: Path) -> None:
        if signer.sig_type != COSIGNATURE_V1:
            raise NoteError("a witness key must be a cosignature key (type 0x04): make it with "
                            "`hazwatch ledger keygen --witness`")
        self.signer, self.state_path = signer, Path(state)
        self.logs: dict[str, list[Verifier]] = {}
        for v in logs:
            self.logs.setdefault(v.name, []).append(v)
        self._lock = threading.Lock()
        self.state: dict[str, dict] = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}

    def _save(self) -> None:
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(self.state, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)
        dfd = os.open(self.state_path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            return Answer(400, "request is not UTF-8\n")
        head, sep, note_text = text.partition("\n\n")
        if not sep:
            return Answer(400, "request reads: old <size>, proof lines, an empty line, then the checkpoint\n")
        lines = head.split("\n")
        if not lines[0].startswith("old ") or not lines[0][4:].isdigit() or (
                lines[0][4:] != "0" and lines[0][4:].startswith("0")):
            return Answer(400, "first line must be 'old <size>' in decimal without leading zeroes\n")
        old = int(lines[0][4:])
        if len(lines) - 1 > MAX_PROOF_LINES:
            return Answer(400, f"more than {MAX_PROOF_LINES} consistency proof lines\n")
        try:
            proof = [base64.b64decode(x, validate=True) for x in lines[1:]]
        except ValueError:
            return Answer(400, "a consistency proof line is not base64\n")
        try:
            note = parse_note(note_text)
            cp = Checkpoint.parse(note.text)
        except NoteError as e:
            return Answer(400, f"{e}\n")
        keys = self.logs.get(cp.origin)
        if not keys:
            return Answer(404, f"unknown log {cp.origin!r}\n")
        try:
            good = verified_by(note, keys)
        except NoteError as e:
            return Answer(403, f"{e}\n")
        if not good:
            return Answer(403, f"checkpoint carries no valid signature of the log {cp.origin}\n")
        if old > cp.size:
            return Answer(400, f"old size {old} is above the checkpoint size {cp.size}\n")
        with self._lock:  # check and persist together: a race must not roll the size back
            known = self.state.get(cp.origin)
            known_size = known["size"] if known else 0
            if old != known_size:
                return Answer(409, f"{known_size}\n", SIZE_TYPE)
            if known and cp.size == known_size and base64.b64decode(known["root"]) != cp.root:
                log.error("log %s forked: two roots at size %d", cp.origin, cp.size)
                return Answer(409, f"{known_size}\n", SIZE_TYPE)
            if known:
                try:
                    verify_consistency(known_size, cp.size, base64.b64decode(known["root"]), cp.root, proof)
                except ProofError as e:
                    log.error("log %s: checkpoint %d is not consistent with %d: %s", cp.origin, cp.size, known_size, e)
                    return Answer(422, f"consistency proof from {known_size} to {cp.size} does not verify: {e}\n")
            elif proof:
                return Answer(422, "the consistency proof from size 0 must be empty\n")
            self.state[cp.origin] = {"size": cp.size, "root": base64.b64encode(cp.root).decode()}
            self._save()
        return Answer(200, self.signer.sign_line(note.text))


class WitnessRefused(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body.strip()}")
        self.status, self.body = status, body


class WitnessClient:
    """How a log talks to one witness over HTTP."""

    def __init__(self, url: str, verifier: Verifier, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.verifier = verifier
        self.timeout_s = timeout_s
        self._http: httpx.Client | None = None  # one client (one SSL context, kept connections) for all requests

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout_s)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    @property
    def name(self) -> str:
        return self.verifier.name

    def add_checkpoint(self, old: int, proof: list[bytes], signed_note: str) -> str:
        """The witness's cosignature line for the note; WitnessRefused with its status otherwise."""
        body = f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof) + "\n" + signed_note
        r = self._client().post(f"{self.url}/add-checkpoint", content=body.encode())
        if r.status_code != 200:
            raise WitnessRefused(r.status_code, r.text)
        note = parse_note(signed_note)
        for line in r.text.splitlines(keepends=True):
            sig = parse_signature_line(line)
            if (sig.name, sig.id) == (self.verifier.name, self.verifier.id):
                cosigned = type(note)(note.text, (sig,))
                if verified_by(cosigned, [self.verifier]):
                    return sig.line
        raise WitnessRefused(502, f"no valid cosignature from {self.verifier.name} in the answer")
