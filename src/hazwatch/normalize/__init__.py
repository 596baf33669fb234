"""Raw readings to a validated batch: catalog lookup, range, time and duplicate checks."""

from hazwatch.normalize.validate import NO_HISTORY, History, Normalizer, RawBatch

__all__ = ["NO_HISTORY", "History", "Normalizer", "RawBatch"]
