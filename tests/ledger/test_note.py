"""Signed notes, checkpoints and cosignatures in the encodings the Go reference tools use."""

import base64
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hazwatch.ledger.note import (
    COSIGNATURE_V1,
    Checkpoint,
    Note,
    NoteError,
    Signer,
    Verifier,
    cosignature_time,
    open_checkpoint,
    parse_note,
    verified_by,
)

# The example key and note of golang.org/x/mod/sumdb/note (its package documentation): a note
# signed by that implementation, so ours must produce and accept it byte for byte.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (GO_TEXT + "\n\u2014 PeterNeumann "
           "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")


def test_go_reference_key_and_note_byte_for_byte():
    signer = Signer.parse(GO_SKEY)
    assert signer.skey == GO_SKEY
    assert signer.verifier.vkey == GO_VKEY
    assert GO_TEXT + "\n" + signer.sign_line(GO_TEXT) == GO_NOTE
    good = verified_by(parse_note(GO_NOTE), [Verifier.parse(GO_VKEY)])
    assert set(good) == {"PeterNeumann"}


def test_an_altered_note_fails_and_unknown_keys_are_ignored():
    v = Verifier.parse(GO_VKEY)
    with pytest.raises(NoteError, match="does not verify"):
        verified_by(parse_note(GO_NOTE.replace("answer", "Answer")), [v])
    other = Signer.generate("someone.else")
    assert verified_by(parse_note(GO_NOTE), [other.verifier]) == {}


@pytest.mark.parametrize("bad", [
    "no blank line\n\u2014 k AAAA\n", "text\n\n", "text\n\n- k AAAAAAAA\n", "text\n\n\u2014 k not*base64\n",
    "te\x01xt\n\n\u2014 k AAAAAAAA\n", "text\n\n\u2014 k AAAAAAAA"])
def test_malformed_notes_are_refused_with_a_reason(bad):
    with pytest.raises(NoteError):
        parse_note(bad)


@pytest.mark.parametrize("bad", ["PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                                 "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                                 "PeterNeumann+c74f20a3+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                                 "PeterNeumann+c74f20a3"])
def test_bad_verifier_keys_are_refused(bad):
    with pytest.raises(NoteError):
        Verifier.parse(bad)


def test_cosignature_follows_tlog_cosignature_v1():
    """The signed message is cosignature/v1, the time line and the checkpoint text; the signature
    carries the 8-byte big-endian timestamp first. Checked with the raw Ed25519 primitive."""
    w = Signer.generate("witness.example/w1", COSIGNATURE_V1)
    cp = Checkpoint("example.com/log", 5, bytes(range(32))).text()
    line = w.sign_line(cp, timestamp=1679315147)
    name, b64 = line[2:].split()
    raw = base64.b64decode(b64)
    assert name == "witness.example/w1" and len(raw) == 4 + 8 + 64
    assert raw[:4] == struct.pack(">I", w.verifier.id)
    assert struct.unpack(">Q", raw[4:12])[0] == 1679315147
    msg = b"cosignature/v1\ntime 1679315147\n" + cp.encode()
    Ed25519PrivateKey.from_private_bytes(w.seed).public_key().verify(raw[12:], msg)
    good = verified_by(Note(cp, (parse_note(cp + "\n" + line).signatures[0],)), [w.verifier])
    assert cosignature_time(good["witness.example/w1"]) == 1679315147
    # the same key as a plain note key has another id: it does not count as the witness
    plain = Verifier("witness.example/w1", 0x01, w.verifier.public)
    assert plain.id != w.verifier.id and verified_by(parse_note(cp + "\n" + line), [plain]) == {}


def test_checkpoint_round_trip_and_quorum():
    log = Signer.generate("example.com/log")
    ws = [Signer.generate(f"w{i}.example", COSIGNATURE_V1) for i in range(3)]
    text = Checkpoint("example.com/log", 70_000, b"\x07" * 32).text()
    note = text + "\n" + log.sign_line(text) + ws[0].sign_line(text) + ws[2].sign_line(text)
    cp, _, good = open_checkpoint(note, log.verifier, [w.verifier for w in ws], 2)
    assert (cp.origin, cp.size, cp.root) == ("example.com/log", 70_000, b"\x07" * 32)
    assert set(good) == {"example.com/log", "w0.example", "w2.example"}
    with pytest.raises(NoteError, match="2 valid witness cosignature.*needs 3"):
        open_checkpoint(note, log.verifier, [w.verifier for w in ws], 3)
    with pytest.raises(NoteError, match="not signed by the log"):
        open_checkpoint(text + "\n" + ws[0].sign_line(text), log.verifier, [ws[0].verifier], 0)


@pytest.mark.parametrize("text", ["example.com/log\n012\nAAAA\n", "example.com/log\n5\nAAAA\n",
                                  "example.com/log\n5\n", "\n5\n" + base64.b64encode(b"\0" * 32).decode() + "\n"])
def test_bad_checkpoints_are_refused(text):
    with pytest.raises(NoteError):
        Checkpoint.parse(text)
