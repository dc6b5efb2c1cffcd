"""The partner-program simulator and its ground truth (oracles) — for tests, demo and benches.

Never imported by the service's request path.
"""

from simulation.program import Simulation, default_end, load_truth, simulate, write_simulation
from simulation.truth import Truth

__all__ = ["Simulation", "Truth", "default_end", "load_truth", "simulate", "write_simulation"]
