"""The `churnops` command: each subcommand parses its inputs and calls one library function."""

from __future__ import annotations

import argparse
import sys

from churnops.cli import demo, features, monitor, pipeline, registry, score, serve, train, tune
from churnops.config import ConfigError
from churnops.data.sources import SourceError

# Each module adds its subcommands; keep this list in the order `churnops --help` shows them.
COMMANDS = [features, train, tune, registry, score, serve, monitor, pipeline, demo]


def build_parser(command: str | None = None, prog: str | None = None) -> argparse.ArgumentParser:
    """The `churnops` parser; with `command` and `prog`, that command's usage and errors name
    `prog` (a script that runs one command, such as scripts/train)."""
    parser = argparse.ArgumentParser(prog="churnops", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    if command is not None and prog is not None:
        sub.choices[command].prog = parser.prog = prog
    return parser


def main(
    argv: list[str] | None = None, *, command: str | None = None, prog: str | None = None
) -> int:
    """Run one command.

    Called without `argv` (the console script, the scripts, Databricks' python_wheel_task
    trampoline, which calls the entry point and ignores what it returns), a failure raises
    `SystemExit(code)` so the process, and the job's task, end non-zero. Called with `argv`
    (tests, other Python), it returns the code: 0 ok, 1 a run that failed, 2 bad input, 3 a run
    refused. With `command`, `argv` holds that command's arguments only and `prog` names the
    program (scripts/train is `main(command="train", prog="scripts/train")`).
    """
    code = run(argv, command=command, prog=prog)
    if argv is None and code != 0:
        raise SystemExit(code)
    return code


def run(
    argv: list[str] | None = None, *, command: str | None = None, prog: str | None = None
) -> int:
    """Parse `argv` (default sys.argv[1:]), run the command, return its exit code."""
    parser = build_parser(command, prog)
    words = sys.argv[1:] if argv is None else argv
    args, extra = parser.parse_known_args(words if command is None else [command, *words])
    # argparse stops filling a trailing `overrides` list at the first flag, so
    # `tune rf --register a=1` would leave `a=1` over: KEY=VALUE words still belong to it.
    if extra and hasattr(args, "overrides") and all("=" in word for word in extra):
        args.overrides = [*(args.overrides or []), *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.run(args) or 0)
    except (ConfigError, SourceError, ValueError, FileNotFoundError) as exc:
        print(f"{prog or 'churnops ' + args.command}: error: {exc}", file=sys.stderr)
        return 2
