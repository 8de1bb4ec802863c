"""``hemodel docs``: regenerate the field and output-column reference."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "docs",
        help="write the reference of every scenario field and output column (Markdown)",
        epilog="example:\n  hemodel docs --out docs/reference.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=Path("docs/reference.md"), help="file to write")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..present.reference import scenario_reference
    from ..run.files import atomic_write
    from .output import check_file

    check_file(args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, scenario_reference().encode("utf-8"))
    print(f"Wrote {args.out}")
    return 0
