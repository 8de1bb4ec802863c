"""Credibility layer: the virtual SERENA-6 trial, validation against a scenario's
``targets:``, calibration, and the independent NumPy cross-check of the engine.

Imports from the run, engine, model and scenario layers; the analysis layer may use it
(e.g. virtual trials for EVSI).
"""
