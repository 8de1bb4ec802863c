"""Analysis layer: decision analysis on simulated results.

Cost-effectiveness (frontier, ICERs, NMB, CEAC/CEAF, EVPI/EVPPI) in :mod:`~hemodel.analysis.cea`,
which accepts any tidy table and knows nothing of the simulation; probabilistic and
deterministic sensitivity analysis, testing-frequency sweeps, threshold prices, budget impact
and Monte Carlo convergence. Draws no plots (:mod:`hemodel.present` does).
"""
