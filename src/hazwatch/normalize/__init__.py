"""Raw readings to a validated batch: catalog lookup, range, time and duplicate checks."""

from hazwatch.normalize.validate import Normalizer, RawBatch

__all__ = ["Normalizer", "RawBatch"]
