"""Engine layer: the SimPy discrete-event engine (:mod:`hemodel.engine.des`, with the lab in
:mod:`~hemodel.engine.lab` and the patient process in :mod:`~hemodel.engine.patient`).

Imports only from :mod:`hemodel.model` and :mod:`hemodel.scenario`.
"""
