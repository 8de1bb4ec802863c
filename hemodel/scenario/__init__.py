"""Scenario layer: the analyst's interface.

Units, quantities with uncertainty, distributions, the pydantic schema, YAML loading
(line numbers, ``extends:``), error messages, the names targets may use, the bundled files
and parameter sources. Imports nothing from the rest of hemodel and no heavy library, so a
scenario is checked at once; see ``docs/architecture.md``.
"""
