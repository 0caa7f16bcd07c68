"""`python -m churnops.benchmarks NAME [args]`: run one benchmark (see the package docstring)."""

import importlib
import pkgutil
import sys

import churnops.benchmarks as benchmarks


def main(argv: list[str]) -> int:
    available = sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name not in ("report",)
    )
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: scripts/benchmark NAME [args]\n  NAME: {' | '.join(available)}")
        return 0 if argv else 2
    name = argv[0]
    if name not in available:
        print(
            f"unknown benchmark {name!r}: expected one of {', '.join(available)}", file=sys.stderr
        )
        return 2
    return int(importlib.import_module(f"churnops.benchmarks.{name}").main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
