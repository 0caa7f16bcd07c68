"""What the inference log costs a request: `InferenceLogWriter.append` (one journal write), without
and with fsync, while the committer process moves the rows into a real Delta table."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from churnops.benchmarks.report import write_results
from churnops.serving.inference_log import InferenceLogWriter, read_inference_log

COLUMNS = ["fsync", "rows", "mean_us", "p50_us", "p99_us", "logged"]
# A one-customer request and its answer, as the server logs them (18 features).
_REQUEST = "[" + ", ".join(f'"f{i}": {i}.5' for i in range(18)).join("{}") + "]"
_RESPONSE = '{"predictions":[{"probability":0.42,"prediction":0}],"served_entity":"champion"}'


def _run(folder: Path, rows: int, fsync: bool) -> dict:
    log = InferenceLogWriter(folder, batch_rows=1000, flush_seconds=1.0, fsync=fsync)
    costs = np.empty(rows)
    for i in range(rows):
        start = time.perf_counter()
        log.append(
            request_id=f"r{i}", client_request_id=None, endpoint="churn",
            served_entity="champion", model_name="churnops_churn", model_version="1",
            status_code=200, execution_time_ms=1.0, request=_REQUEST, response=_RESPONSE,
            num_rows=1,
        )  # fmt: skip
        costs[i] = time.perf_counter() - start
    log.close()
    us = costs * 1e6
    return {
        "fsync": fsync,
        "rows": rows,
        "mean_us": round(float(us.mean()), 1),
        "p50_us": round(float(np.percentile(us, 50)), 1),
        "p99_us": round(float(np.percentile(us, 99)), 1),
        "logged": len(read_inference_log(folder)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/benchmark serving_journal")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--results-dir", default=None)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, fsync in enumerate([False, True]):
            rows.append(_run(Path(tmp, f"log{i}"), args.rows, fsync))
    load_after = os.getloadavg()
    notes = [
        "cost of `InferenceLogWriter.append` on the request path; the server calls it once per "
        "answered request; the Delta commits run in the committer process meanwhile",
        "one unbuffered write(2) of the row as JSON to the journal before the answer leaves: "
        "survives the process being killed (SIGKILL, OOM); fsync: also survives a power cut",
        f"load average (1/5/15 min) before {tuple(round(x, 2) for x in load_before)}, "
        f"after {tuple(round(x, 2) for x in load_after)} on {os.cpu_count()} cores",
    ]
    write_results(
        "serving_journal",
        rows,
        COLUMNS,
        "Serving: the inference log's journal, cost per request",
        notes,
        Path(args.results_dir) if args.results_dir else None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
