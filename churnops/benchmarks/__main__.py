"""`python -m churnops.benchmarks NAME [args]`: run one benchmark (see the package docstring)."""

import importlib
import pkgutil
import sys

import churnops.benchmarks as benchmarks

# `report` is the metrics page (metrics_report.py); report.py itself is the shared writer.
ALIASES = {"report": "metrics_report"}
NOT_BENCHMARKS = ("report", "metrics_report")


def main(argv: list[str]) -> int:
    modules = [
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if not m.name.startswith("_")
    ]
    available = sorted([*(m for m in modules if m not in NOT_BENCHMARKS), *ALIASES])
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: scripts/benchmark NAME [args]\n  NAME: {' | '.join(available)}")
        return 0 if argv else 2
    name = argv[0]
    if name not in available:
        print(
            f"unknown benchmark {name!r}: expected one of {', '.join(available)}", file=sys.stderr
        )
        return 2
    module = importlib.import_module(f"churnops.benchmarks.{ALIASES.get(name, name)}")
    try:
        return int(module.main(argv[1:]) or 0)
    except (ValueError, FileNotFoundError) as exc:  # bad data or config: its message, one line
        print(f"scripts/benchmark {name}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
