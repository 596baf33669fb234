"""A simulated chemical park with faults over time: for the demo, tests and benchmarks."""

from hazwatch.sim.park import park_catalog
from hazwatch.sim.plant import ParkSimulator

__all__ = ["ParkSimulator", "park_catalog"]
