"""Benchmarks: each module measures one part of churnops against its named baseline in one run.

`scripts/benchmark NAME` runs `churnops.benchmarks.NAME.main(argv)`, which prints a table and
writes `docs/results/NAME.json` and `docs/results/NAME.md` through `report.write_results`.
"""
