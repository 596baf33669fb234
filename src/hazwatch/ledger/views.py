"""What the ledger shows a reader: its status (size, published checkpoint, witnesses) and proofs,
entry by entry or for one sealed record. The caller (the scoping facade) decides first whether the
reader may see a record; these say only what the log holds, with the reason when it cannot prove."""

from __future__ import annotations

from dataclasses import dataclass

from hazwatch.domain.errors import Conflict, NotFound
from hazwatch.ledger.log import Ledger


@dataclass(frozen=True)
class LedgerView:
    ledger: Ledger
    interval_s: float  # how often new rows are sealed (said when a row is not sealed yet)

    def status(self) -> dict:
        ledger, pub, sizes = self.ledger, self.ledger.published(), self.ledger.witness_sizes()
        return {"origin": ledger.origin, "log_vkey": ledger.signer.verifier.vkey, "size": ledger.size,
                "published_size": pub[0] if pub else 0, "checkpoint": pub[1] if pub else None,
                "quorum": ledger.quorum,
                "witnesses": [{"name": w.name, "url": w.url, "vkey": w.verifier.vkey,
                               "cosigned_size": sizes.get(w.name, 0)} for w in ledger.witnesses]}

    def entry_proof(self, index: int) -> str:
        """Any entry's proof, without the record it seals (entries are public; records are not)."""
        if index >= self.ledger.size:
            raise NotFound(f"the log has {self.ledger.size} entries; there is no entry {index}")
        return self._prove(index, False)

    def record_proof(self, table: str, row: int, what: str) -> str:
        """The tlog-proof of one sealed row (`what`, as the reader knows it), the row itself included."""
        index = self.ledger.record_index(table, row)
        if index is None:
            raise Conflict(f"{what} is not sealed yet: the ledger seals new rows every {self.interval_s:g} s")
        return self._prove(index, True)

    def _prove(self, index: int, with_record: bool) -> str:
        try:
            return self.ledger.prove(index, with_record=with_record)
        except LookupError as e:
            raise Conflict(str(e)) from None
