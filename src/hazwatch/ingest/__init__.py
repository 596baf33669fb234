"""Protocol adapters. Each turns its wire format into a RawBatch for the normalize stage."""
