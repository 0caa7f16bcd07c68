"""`churnops demo`: the end-to-end job on embedded defaults."""

from __future__ import annotations

import argparse

from churnops.cli.features import DEFAULT_CONFIG, print_summary
from churnops.cli.output import console
from churnops.config import load_config
from churnops.data.features.build import FeaturesJobConfig, build_features


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run the end-to-end demo on embedded defaults")
    demo.add_argument("--workdir", default=".churnops/demo", help="where the demo writes")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    console.rule("churnops demo: CDNOW features as of 1997-09-30 (duckdb engine)")
    cfg = load_config(FeaturesJobConfig, DEFAULT_CONFIG, [f"output_dir={args.workdir}/features"])
    print_summary(build_features(cfg), cfg)
    return 0
