"""Run layer: :func:`~hemodel.run.simulation.simulate`, the execution back-ends (serial,
local processes, Dask) in :mod:`~hemodel.run.parallel`, checkpoints and
:class:`~hemodel.run.results.Results`.

Imports only from the engine, model and scenario layers.
"""
