"""``hemodel init NAME``: write a commented starter scenario to edit."""

from __future__ import annotations

import argparse
from pathlib import Path

TEMPLATES = {"tiny": "tiny.yaml", "serena6_us": "serena6_us.yaml"}


def register(sub) -> None:
    p = sub.add_parser(
        "init",
        help="write a commented starter scenario NAME.yaml",
        epilog="examples:\n  hemodel init my_model            # small teaching model\n"
        "  hemodel init payer_us --template serena6_us   # the full default scenario",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", help="scenario name; the file is NAME.yaml (NAME may include a folder)")
    p.add_argument(
        "--template",
        choices=sorted(TEMPLATES),
        default="tiny",
        help="starting point (default tiny)",
    )
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..run.files import atomic_write
    from ..scenario.load import default_scenario_path
    from ..scenario.problems import shorten
    from .arguments import UsageError

    name = Path(args.name)
    if "\0" in args.name or name.name in ("", ".", ".."):
        raise UsageError(f"{shorten(repr(args.name))} is not a file name: give e.g. my_model")
    target = name.with_suffix(".yaml")
    if target.exists():
        raise UsageError(f"{shorten(target)} exists already: choose another name or delete it")
    source = default_scenario_path().parent / TEMPLATES[args.template]
    lines = source.read_text().splitlines()
    body = [f"name: {target.stem}" if ln.startswith("name:") else ln for ln in lines]
    header = [
        f"# {target.name}: starter scenario written by `hemodel init` from {source.name}.",
        "# Edit the values (keep the units), then:",
        f"#   hemodel check {target}      # validate",
        f"#   hemodel run {target}        # simulate",
        "# Field reference: `hemodel docs`, or `hemodel schema` for editor completion.",
        "",
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, ("\n".join(header + body) + "\n").encode("utf-8"))
    print(f"Wrote {target}. Next: hemodel check {target}")
    return 0
