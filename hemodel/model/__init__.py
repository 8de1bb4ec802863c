"""Model layer: plain model inputs built from a scenario.

Engine-ready inputs (days, currency per day), keyed random streams, the cohort (baseline and
latent natural history per patient), the bundled life tables and the pure economics
(discounting and accrual). Imports only from :mod:`hemodel.scenario`.
"""
