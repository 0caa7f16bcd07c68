"""The `churnops` command: each subcommand parses its inputs and calls one library function."""

from __future__ import annotations

import argparse
import sys

from churnops.cli import demo, features, monitor, pipeline, registry, score, serve, train, tune
from churnops.config import ConfigError
from churnops.data.sources import SourceError

# Each module adds its subcommands; keep this list in the order `churnops --help` shows them.
COMMANDS = [features, train, tune, registry, score, serve, monitor, pipeline, demo]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="churnops", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command.

    Called without `argv` (the console script, Databricks' python_wheel_task trampoline, which
    calls the entry point and ignores what it returns), a failure raises `SystemExit(code)` so
    the process, and the job's task, end non-zero. Called with `argv` (tests, other Python), it
    returns the code: 0 ok, 1 a run that failed, 2 bad input, 3 a run refused.
    """
    code = run(argv)
    if argv is None and code != 0:
        raise SystemExit(code)
    return code


def run(argv: list[str] | None = None) -> int:
    """Parse `argv` (default sys.argv[1:]), run the command, return its exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse stops filling a trailing `overrides` list at the first flag, so
    # `tune rf --register a=1` would leave `a=1` over: KEY=VALUE words still belong to it.
    if extra and hasattr(args, "overrides") and all("=" in word for word in extra):
        args.overrides = [*(args.overrides or []), *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.run(args) or 0)
    except (ConfigError, SourceError, ValueError, FileNotFoundError) as exc:
        print(f"churnops {args.command}: error: {exc}", file=sys.stderr)
        return 2
