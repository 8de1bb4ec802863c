"""``hemodel evsi``: is another study worth it? EVSI, ENBS and the optimal study size."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import (
    MAX_SAMPLES,
    add_execution_arguments,
    add_scenario_arguments,
    count,
    execution,
    numbers,
    open_scenario,
)
from .output import output_folder

EXAMPLE = """examples:
  hemodel evsi                                        # every study of the default scenario
  hemodel evsi scenarios/serena6_us.yaml --samples 1000 --patients 1000 \\
      --study-sizes 100,200,400,800 --out evsi/
  hemodel evsi --studies guardant360_sensitivity --wtp 100000,150000,1000000

The studies come from the scenario's studies: block (a randomised trial between two
strategies, or an accuracy study of a probability); the population and discounting of ENBS
from its population: block. See docs/howto-evsi.md.
writes evsi.csv (study, wtp, study_size, evsi, evsi_se, evsi_moment_matching, evppi, evpi,
population, study_cost, enbs), evsi_optimal.csv, study_<name>.csv (each sample's simulated
summaries), psa_samples.csv, psa_parameters.csv, evsi_<name>.png and enbs_<name>.png
"""


def register(sub) -> None:
    p = sub.add_parser(
        "evsi",
        help="value of a proposed study: EVSI, ENBS and the optimal study size",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(p, patients=1000, patients_help="patients per PSA sample")
    p.add_argument("--samples", type=count(2, MAX_SAMPLES), default=500,
                   help="PSA samples (default 500)")  # fmt: skip
    p.add_argument(
        "--study-sizes",
        help="study sizes, comma-separated, e.g. 100,200,400,800 (default: each study's sizes:)",
    )
    p.add_argument("--studies", help="comma-separated studies (default: every study)")
    p.add_argument(
        "--wtp", help="willingness to pay per QALY, comma-separated (default: scenario's)"
    )
    p.add_argument("--out", type=Path, default=Path("evsi"), help="output folder (default evsi/)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_arguments(p, resume=False)
    p.set_defaults(handler=run)


def _sizes(text: str) -> list[int]:
    from ..scenario.studies import MAX_SIZE

    values = numbers(text, "--study-sizes")
    if any(v != int(v) or not 0 <= v <= MAX_SIZE for v in values) or len(set(values)) != len(
        values
    ):
        raise ValueError(
            f"--study-sizes must be different whole numbers from 0 to {MAX_SIZE:,}, got {text!r}"
        )
    return [int(v) for v in values]


def run(args) -> int:
    from ..analysis.evsi import check_studies
    from ..present.evsi_report import evsi_outputs

    path, scenario = open_scenario(args.scenario)
    try:
        sizes = _sizes(args.study_sizes) if args.study_sizes else None
        wtps = numbers(args.wtp, "--wtp") if args.wtp else None
        if wtps and any(not 0 <= w < float("inf") for w in wtps):
            raise ValueError(f"--wtp must be finite numbers >= 0, got {args.wtp!r}")
        studies = args.studies.split(",") if args.studies else None
        check_studies(scenario, args.samples, studies, "--samples")
        with output_folder(args.out, "evsi") as folder:
            outputs = evsi_outputs(
                scenario,
                args.samples,
                args.patients,
                args.seed,
                folder,
                studies=studies,
                sizes=sizes,
                wtps=wtps,
                progress=False if args.quiet else None,
                **execution(args),
            )
    except ValueError as exc:
        print(f"hemodel evsi: {path}: {exc}", file=sys.stderr)
        return 2
    cur = scenario.currency
    print(f"{scenario.name}: expected value of sample information ({cur}, discounted)\n")
    print(outputs["display"].to_string(index=False))
    print()
    for sentence in outputs["sentences"]:
        print(sentence)
    print(f"\n{outputs['note']}")
    names = ["evsi.csv", "evsi_optimal.csv"] + [p.name for p in outputs["pngs"]]
    print(f"\nWrote {', '.join(names)} and the simulated study data to {args.out}")
    return 0
