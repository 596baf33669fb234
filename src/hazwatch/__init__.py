"""Hazwatch: industrial-internet safety production platform."""

__version__ = "0.1.0"
