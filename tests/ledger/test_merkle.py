"""The Merkle tree against the public RFC 6962 test vectors (transparency-dev/merkle; see
tests/ledger/data/SOURCE.md), and the proofs it generates against its own verifier."""

import base64
import json
from pathlib import Path

import pytest

from hazwatch.ledger.merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    memory_nodes,
    range_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

DATA = Path(__file__).parent / "data"
ROOTS = json.loads((DATA / "roots.json").read_text())
LEAVES = [leaf_hash(bytes.fromhex(x)) for x in ROOTS["leaves"]]


def _b64(x):
    return [base64.b64decode(p) for p in (x or [])]


def _cases(kind):
    files = sorted((DATA / kind).glob("*/*.json"))
    assert files, f"no {kind} vectors"
    return [pytest.param(json.loads(f.read_text()), id=f"{f.parent.name}/{f.stem}") for f in files]


@pytest.mark.parametrize("size", range(len(ROOTS["roots"])))
def test_roots_match_the_reference_vectors(size):
    assert root_from_leaves(LEAVES[:size]).hex() == ROOTS["roots"][size]
    assert range_hash(memory_nodes(LEAVES), 0, size).hex() == ROOTS["roots"][size]


def test_empty_tree_root_is_the_hash_of_nothing():
    assert EMPTY_ROOT.hex() == ROOTS["roots"][0]


@pytest.mark.parametrize("case", _cases("inclusion"))
def test_inclusion_vectors(case):
    index = case.get("leafIdx", case.get("leafIndex"))
    args = (index, case["treeSize"], base64.b64decode(case["leafHash"]), _b64(case["proof"]),
            base64.b64decode(case["root"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("case", _cases("consistency"))
def test_consistency_vectors(case):
    args = (case["size1"], case["size2"], base64.b64decode(case["root1"]), base64.b64decode(case["root2"]),
            _b64(case["proof"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_generated_proofs_equal_the_vectors():
    """The proofs the log serves are byte for byte the ones in the reference data."""
    node = memory_nodes(LEAVES)
    for f in sorted((DATA / "inclusion").glob("*/happy-path.json")):
        c = json.loads(f.read_text())
        assert inclusion_proof(node, c.get("leafIdx", c.get("leafIndex")), c["treeSize"]) == _b64(c["proof"])
    for f in sorted((DATA / "consistency").glob("*/happy-path.json")):
        c = json.loads(f.read_text())
        assert consistency_proof(node, c["size1"], c["size2"]) == _b64(c["proof"])


def test_every_proof_in_a_larger_tree_verifies_and_a_changed_leaf_does_not():
    leaves = [leaf_hash(str(i).encode()) for i in range(70)]
    node = memory_nodes(leaves)
    for size in (1, 2, 3, 7, 8, 9, 31, 64, 70):
        root = root_from_leaves(leaves[:size])
        for i in range(size):
            proof = inclusion_proof(node, i, size)
            verify_inclusion(i, size, leaves[i], proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(i, size, leaf_hash(b"forged"), proof, root)
        for old in range(0, size + 1):
            verify_consistency(old, size, root_from_leaves(leaves[:old]), root, consistency_proof(node, old, size))
    # a rewritten history is not consistent with what was seen before
    rewritten = leaves[:10] + [leaf_hash(b"rewritten")] + leaves[11:40]
    p = consistency_proof(memory_nodes(rewritten), 20, 40)
    with pytest.raises(ProofError):
        verify_consistency(20, 40, root_from_leaves(leaves[:20]), root_from_leaves(rewritten), p)
