"""RFC 9162 §2.1 Merkle tree hashing, and the inclusion and consistency proofs over it.

The tree is the one Certificate Transparency, Sigstore and the Go checksum database use:

    leaf = SHA-256(0x00 || entry)        node = SHA-256(0x01 || left || right)

so that any verifier written to RFC 6962/9162 checks Hazwatch's proofs. Proof generation needs the
hash of arbitrary *complete* subtrees; it asks a `NodeHashes` callable for them (tiles on disk, or a
list in memory), so the algorithms stay independent of where the tree is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# node(level, index): the hash of the complete subtree of 2**level leaves starting at leaf index << level
NodeHashes = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof that does not verify, with the reason."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def leaf_hashes(entries: Sequence[bytes]) -> list[bytes]:
    sha = hashlib.sha256
    return [sha(b"\x00" + e).digest() for e in entries]


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def complete_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) as maximal complete subtrees (level, index), left to right, where start is a
    multiple of the largest one (true of every range the RFC's recursions visit)."""
    out = []
    while start < end:
        size = end - start
        level = size.bit_length() - 1
        # the subtree must also be aligned at start
        while start & ((1 << level) - 1):
            level -= 1
        out.append((level, start >> level))
        start += 1 << level
    return out


def range_hash(node: NodeHashes, start: int, end: int) -> bytes:
    """MTH(D[start:end]) from complete subtree hashes: the RFC's right-leaning fold."""
    if start >= end:
        return EMPTY_ROOT
    parts = [node(level, index) for level, index in complete_subtrees(start, end)]
    h = parts[-1]
    for p in reversed(parts[:-1]):
        h = node_hash(p, h)
    return h


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (reference implementation, for small trees and tests)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_from_leaves(leaves[:k]), root_from_leaves(leaves[k:]))


def memory_nodes(leaves: Sequence[bytes]) -> NodeHashes:
    """A NodeHashes over an in-memory list of leaf hashes (computes each subtree it is asked for)."""

    def node(level: int, index: int) -> bytes:
        return root_from_leaves(leaves[index << level:(index + 1) << level])

    return node


# -- proofs (RFC 9162 §2.1.3.1 and §2.1.4.1) --------------------------------------------------------

def inclusion_proof(node: NodeHashes, index: int, size: int) -> list[bytes]:
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    # walk down from the root, collecting the sibling of each subtree that holds the leaf
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(range_hash(node, start + k, end))
            end = start + k
        else:
            path.append(range_hash(node, start, start + k))
            start = start + k
    path.reverse()
    return path


def consistency_proof(node: NodeHashes, size1: int, size2: int) -> list[bytes]:
    if not 0 <= size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to {size2}")
    if size1 == 0 or size1 == size2:
        return []
    path: list[bytes] = []
    start, end, m, complete = 0, size2, size1, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            path.append(range_hash(node, start + k, end))
            end = start + k
        else:
            path.append(range_hash(node, start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        path.append(range_hash(node, start, end))
    path.reverse()
    return path


# -- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) --------------------------------------------------

def _check_hashes(proof: Sequence[bytes]) -> None:
    for i, p in enumerate(proof):
        if len(p) != HASH_SIZE:
            raise ProofError(f"proof hash {i} is {len(p)} bytes, not {HASH_SIZE}")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_hashes(proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raises ProofError unless `leaf` sits at `index` of the tree of `size` with `root`."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root of the tree of size {size}")


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Raises ProofError unless the tree (size2, root2) extends the tree (size1, root1)."""
    if not 0 <= size1 <= size2:
        raise ProofError(f"size {size1} cannot grow into size {size2}")
    _check_hashes(proof)
    if size1 == size2:
        if proof:
            raise ProofError("a tree is consistent with itself by an empty proof, not a longer one")
        if root1 != root2:
            raise ProofError(f"two different roots for the same size {size1}: a fork")
        return
    if size1 == 0:
        if proof:
            raise ProofError("consistency from the empty tree needs an empty proof")
        return
    if not proof:
        raise ProofError("empty consistency proof between different sizes")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root is a node of the new tree
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than needed")
    if fr != root1:
        raise ProofError(f"consistency proof does not rebuild the old root of size {size1}")
    if sr != root2:
        raise ProofError(f"consistency proof does not lead to the new root of size {size2}")
