"""Detection stages: limit rules now; rate of change, compound rules and detectors later."""
