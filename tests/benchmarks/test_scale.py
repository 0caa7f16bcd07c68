"""`scripts/benchmark scale`: per-step processes measured, exponents and targets reported."""

from __future__ import annotations

import json

import pytest

from churnops.benchmarks import scale


def _row(step, customers, cpu, rss=1.0, engine="duckdb", ok=True):
    return {"step": step, "customers": customers, "engine": engine, "seconds": cpu,
            "cpu_seconds": cpu, "peak_rss_gb": rss, "load": 1.0, "ok": ok}  # fmt: skip


def test_exponents_compare_the_two_largest_duckdb_sizes():
    rows = [
        _row("features", 100_000, 1.0),
        _row("features", 1_000_000, 10.0),
        _row("features", 10_000_000, 100.0),
        _row("score", 1_000_000, 10.0),
        _row("score", 10_000_000, 200.0),
        _row("score", 10_000_000, 1.0, engine="spark-local"),
        _row("monitor", 1_000_000, 10.0),
        _row("monitor", 10_000_000, 1.0, ok=False),  # a failed step has no exponent
    ]
    assert scale.exponents(rows) == {"features": 1.0, "score": 1.3}
    assert scale.exponents(rows[:1]) == {}
    # CPU seconds of two machines do not compare (a row kept from another machine's run).
    elsewhere = [{**r, "machine": "another"} if r["customers"] == 1_000_000 else r for r in rows]
    assert scale.exponents(elsewhere) == {}


def test_a_step_runs_in_its_own_process_and_is_measured(tmp_path):
    log = tmp_path / "scale.log"
    row = scale.measure_step("generate", 2000, "duckdb", tmp_path / "c2000", None, log)
    assert row["ok"] and row["step"] == "generate" and row["customers"] == 2000
    # The child imported DuckDB and pyarrow and generated orders: real CPU time and memory.
    assert row["cpu_seconds"] > 0 and 0.05 < row["peak_rss_gb"] < 4
    assert "generate: " in log.read_text() and "orders" in log.read_text()
    assert (tmp_path / "c2000" / "clean" / "orders.parquet").exists()
    failed = scale.measure_step("score", 2000, "duckdb", tmp_path / "c2000", None, log)
    assert not failed["ok"]  # no model trained in this folder: the child fails, the row says so


def test_the_page_names_the_exponents_and_a_missed_target(tmp_path):
    rows = [_row("features", 1_000_000, 10.0), _row("features", 10_000_000, 100.0, rss=4.5)]
    scale.publish(rows, "scale", tmp_path, None)
    page = (tmp_path / "scale.md").read_text()
    assert "features 1.0" in page
    assert "missed by features at 10,000,000 (duckdb): 4.5 GiB" in page
    assert "spark-cluster rows: not run" in page
    assert len(json.loads((tmp_path / "scale.json").read_text())) == 2


def test_engines_pick_the_rows_to_run_and_refuse_a_name_they_do_not_know():
    args = scale.parse_args(["--engines", "spark-cluster", "--spark-master", "spark://h:7077"])
    assert args.engines == ["spark-cluster"]
    with pytest.raises(SystemExit):
        scale.parse_args(["--engines", "spark-yarn"])


def test_steps_run_in_the_pipeline_order_whatever_order_they_are_given_in():
    assert scale.parse_args(["--steps", "score,features"]).steps == ["features", "score"]
    with pytest.raises(SystemExit):
        scale.parse_args(["--steps", "deploy"])


def test_sizes_must_be_counts():
    with pytest.raises(SystemExit):
        scale.parse_args(["--sizes", "ten"])
    assert scale.parse_args(["--sizes", "100_000,1000000"]).sizes == [100_000, 1_000_000]


def test_cpu_of_a_process_its_parent_never_waited_for_is_collected(tmp_path):
    """Spark's JVM outlives the Python step that started it; its CPU time still counts."""
    import subprocess
    import sys

    script = """
import os, subprocess, sys, time
from churnops.benchmarks import scale
scale._set_subreaper(True)
busy = "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.5: pass"
# The parent starts a busy grandchild and exits without waiting for it.
start = f"import subprocess, sys; print(subprocess.Popen([sys.executable, '-c', {busy!r}]).pid)"
parent = subprocess.run([sys.executable, "-c", start], capture_output=True, text=True, check=True)
orphan = int(parent.stdout)
usages = scale._reap_orphans({orphan, 999999999})
print(len(usages), sum(u.ru_utime + u.ru_stime for u in usages))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    count, cpu = done.stdout.split()
    assert int(count) == 1 and float(cpu) >= 0.4


def test_append_names_a_results_file_it_cannot_keep_rows_from(tmp_path):
    from churnops.benchmarks.report import kept_rows

    (tmp_path / "scale.json").write_text(json.dumps([{"customers": 1, "engine": "duckdb"}]))
    with pytest.raises(ValueError, match=r"scale.json row 0 lacks step: expected a list of rows"):
        kept_rows("scale", [], scale.KEY, tmp_path)
    (tmp_path / "scale.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"scale.json is not JSON"):
        kept_rows("scale", [], scale.KEY, tmp_path)
    row = {"customers": 1, "engine": "duckdb", "step": "features", "machine": "m"}
    (tmp_path / "scale.json").write_text(json.dumps([row]))
    assert kept_rows("scale", [], scale.KEY, tmp_path) == [row]
    assert kept_rows("scale", [row], scale.KEY, tmp_path) == []
