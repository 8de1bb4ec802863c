"""Readable names for scenario parameters: ``assays.guardant360.cost`` → "Guardant360: cost",
grouped by the section a health economist would look in (costs, assays, switch therapy, ...).
"""

from __future__ import annotations

#: Sections of a scenario file in the order an analyst reads them, with their headings.
SECTIONS: dict[str, str] = {
    "costs": "Costs",
    "assays": "Assays",
    "switch_therapies": "Switch therapy",
    "targeted_second_line": "Second-line targeted therapy",
    "natural_history": "Natural history",
    "utilities": "Utilities",
    "schedule": "Clinic schedule",
    "cohort": "Cohort",
    "lab": "Laboratory",
}

#: Top-level settings of a scenario (not evidence), grouped as "Settings".
_SETTINGS = ("time_horizon", "discount_rates", "willingness_to_pay")

#: Words spelt as the clinic spells them.
_WORDS = {
    "cdk46": "CDK4/6",
    "esr1": "ESR1",
    "ctdna": "ctDNA",
    "ddpcr": "ddPCR",
    "guardant360": "Guardant360",
    "sdlog": "SD of log",
    "sd": "SD",
    "ai": "AI",
    "qalys": "QALYs",
}


def _words(part: str) -> str:
    return " ".join(_WORDS.get(w, w) for w in part.split("_"))


def _capital(text: str) -> str:
    """Upper-case the first letter, unless the first word is spelt as in :data:`_WORDS`."""
    if text.split(" ")[0] in _WORDS.values():
        return text
    return text[:1].upper() + text[1:]


def section_of(path: str) -> str:
    """The heading of the section a parameter belongs to (``Other`` if none)."""
    first = path.split(".")[0]
    return "Settings" if first in _SETTINGS else SECTIONS.get(first, "Other")


def parameter_label(path: str) -> str:
    """``natural_history.esr1_emergence.time.median`` → "ESR1 emergence time: median": the
    parts under the section name the thing, the last part names the quantity."""
    section = path.split(".")[0]
    parts = path.split(".")[1:] if section in SECTIONS else path.split(".")
    *thing, quantity = [_words(p) for p in parts] or [path]
    if quantity.isdigit():  # an item of a list, e.g. the second willingness to pay
        return f"{_capital(' '.join(thing))} #{int(quantity) + 1}"
    if not thing:  # directly under a section: the section names the thing
        return f"{SECTIONS[section]}: {quantity}" if section in SECTIONS else _capital(quantity)
    return f"{_capital(' '.join(thing))}: {quantity}"
