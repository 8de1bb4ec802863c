"""What ships inside the package: the bundled scenarios (``serena6_us``, ``tiny``, ...) and
life tables (``hemodel/data/<name>.csv``), found by name."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_SCENARIO = "serena6_us.yaml"


def default_scenario_path() -> Path:
    """Path of the default scenario, from an installed wheel or a source checkout."""
    try:
        return Path(str(resources.files("hemodel.scenarios") / DEFAULT_SCENARIO))
    except ModuleNotFoundError:  # a checkout, or an editable install (no hemodel.scenarios)
        return Path(__file__).resolve().parents[2] / "scenarios" / DEFAULT_SCENARIO


def bundled_names() -> list[str]:
    """Names of the scenarios shipped with hemodel (``serena6_us``, ``tiny``, ...)."""
    return sorted(p.stem for p in default_scenario_path().parent.glob("*.yaml"))


def bundled_path(name: str | Path) -> Path | None:
    """The bundled scenario called ``name`` (``tiny`` or ``tiny.yaml``), if there is one."""
    name = Path(name)
    if name.parent != Path(".") or name.name in ("", ".", "..") or "\0" in str(name):
        return None
    bundled = default_scenario_path().parent / name.with_suffix(".yaml").name
    return bundled if bundled.exists() else None


def available_tables() -> list[str]:
    """Names of the bundled life tables (files ``hemodel/data/<name>.csv``)."""
    folder = resources.files("hemodel") / "data"
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".csv"))
