"""Scenario layer: the analyst's interface.

Units, quantities with uncertainty, distributions, the pydantic schema, YAML loading
(line numbers, ``extends:``), error messages, parameter sources and the generated
reference. Imports nothing from the rest of hemodel; see ``docs/architecture.md``.
"""
