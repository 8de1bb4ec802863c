"""Scenario fuzzing: mutants of the bundled scenarios through ``check`` and a 20-patient run."""
