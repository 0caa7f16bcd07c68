"""Scale run: each step of the churn workflow on synthetic customers, one process per step, so
every step's CPU time and peak memory are its own.

    scripts/benchmark scale [--sizes 100000,1000000,10000000] [--spark-sizes 1000000]
                            [--spark-master URL] [--workdir DIR] [--keep]

Steps, in order, each a fresh `python -m churnops.benchmarks.scale --step ...` process:

- generate: synthetic orders (`churnops.data.sources.synthetic`) and their cleaning
  (`prepare_orders`), written once: the later steps link to the clean file;
- features: `build_features` at the cutoff and the snapshot merged into the feature table;
- training_set: the point-in-time training set (`trainers.training_set.build_training_set`);
- train_lr / train_net: `train(cfg)` with logistic regression / the net for one epoch;
- score: `score_table` of the training set with the logistic regression, to a Delta table;
- monitor: the replay (`monitoring.replay`) at the cutoff: an inference log, predictions and
  labels, as the monitor reads them.

Each row: seconds (wall), cpu_seconds (user + system, children included), peak_rss_gb (the
largest resident set of the step's processes, from the child's rusage), load (1-minute load
average at the step's start and end, averaged). Wall time depends on what else the machine
runs; CPU time and peak memory are what the targets judge. The table ends with each step's
CPU-time exponent between the two largest DuckDB sizes: log(cpu ratio) / log(size ratio).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from churnops.benchmarks.report import kept_rows, results_lock, write_results
from churnops.benchmarks.report import machine as report_machine
from churnops.config import CONFIG_DIR, load_config
from churnops.data.features.build import FeaturesJobConfig

COLUMNS = ["step", "customers", "engine", "seconds", "cpu_seconds", "peak_rss_gb", "load", "ok",
           "note"]  # fmt: skip
STEPS = ["generate", "features", "training_set", "train_lr", "train_net", "score", "monitor"]
# Steps that run on a DataFrame engine; the others are the same whatever the engine.
ENGINE_STEPS = ("features", "training_set", "score", "monitor")
KEY = ("customers", "engine", "step")  # a row's identity: --append replaces rows by it
# The synthetic orders' protocol, as `churnops features build --config` reads it.
SYNTHETIC = load_config(FeaturesJobConfig, CONFIG_DIR / "features" / "synthetic.yaml")
CUTOFF, HORIZON_DAYS = SYNTHETIC.as_of, SYNTHETIC.horizon_days
TABLE = "scale.features.customer_ts"
TARGET_RSS_GB = 4.0
TARGET_EXPONENT = 1.1


def _source_dir(customers: int, workdir: Path) -> Path:
    return workdir.parent / f"source-c{customers}"


def _source(customers: int, workdir: Path) -> Any:
    from churnops.data.sources import SourceConfig

    return SourceConfig(
        kind="synthetic",
        customers=customers,
        path=str(_source_dir(customers, workdir) / "orders.parquet"),
    )


def run_step(
    step: str, customers: int, engine: str, workdir: Path, master: str | None,
    net_batches: float = 1.0,
) -> str:  # fmt: skip
    """Run one step in this process; returns a one-line note. `net_batches`: the fraction of
    the net's one epoch that trains (`trainer.limit_train_batches`; below 1 the data, split,
    validation and test phases still run at full size)."""

    workdir.mkdir(parents=True, exist_ok=True)
    source = _source(customers, workdir)
    options = {"master": master} if engine == "spark" and master else {}
    engine_name = "spark" if engine.startswith("spark") else "duckdb"
    if step == "generate":
        from churnops.data.sources import prepare_orders

        report = prepare_orders(source, workdir / "clean" / "orders.parquet")
        return f"{report.orders:,} orders"
    if step == "features":
        from churnops.data.engines import get_engine
        from churnops.data.feature_store import LocalFeatureStore
        from churnops.data.feature_store.timeseries import write_snapshots
        from churnops.data.features.build import build_features

        cfg = FeaturesJobConfig(
            source=source, as_of=CUTOFF, horizon_days=HORIZON_DAYS, engine=engine_name,
            output_dir=str(workdir / "features"),
        )  # fmt: skip
        eng = get_engine(engine_name, **options)
        try:
            built = build_features(cfg, engine=eng)
            store = LocalFeatureStore(str(workdir / "store"), engine=eng)
            write_snapshots(store, TABLE, built.features_path)  # streamed from the file
        finally:
            eng.stop()
        return f"{built.customers:,} customers"
    if step == "training_set":
        from churnops.trainers.config import DataConfig
        from churnops.trainers.training_set import build_training_set

        data = DataConfig(source=source, as_of=CUTOFF, horizon_days=HORIZON_DAYS)
        built = build_training_set(
            workdir / "training_set.parquet", data, workdir / "training_store", engine=engine_name
        )
        return f"{built.rows:,} rows"
    if step in ("train_lr", "train_net"):
        from churnops.trainers.config import load_train_config
        from churnops.trainers.train import train

        common = [f"workdir={workdir / step}", f"data.path={workdir / 'training_set.parquet'}",
                  "data.name=synthetic", "trainer.progress_bar=false",
                  "trainer.accelerator=cpu"]  # fmt: skip
        if step == "train_lr":
            overrides = [*common, "model=logistic_regression", "logger.log_plots=false",
                         f"logger.tracking_uri=sqlite:///{workdir / 'mlflow.db'}"]  # fmt: skip
        else:
            overrides = [*common, "model=mlp", "trainer.max_epochs=1",
                         "trainer.batch_size=4096", "logger=none",
                         f"trainer.limit_train_batches={net_batches}"]  # fmt: skip
        result = train(load_train_config(overrides))
        if result.model_uri:
            (workdir / "model_uri.txt").write_text(result.model_uri)
        return f"test/auroc {result.metrics['test/auroc']:.4f}, {result.n_train:,} train rows"
    if step == "score":
        from churnops.scoring.table import score_table

        tracking = f"sqlite:///{workdir / 'mlflow.db'}"
        rows = score_table(
            (workdir / "model_uri.txt").read_text(),
            workdir / "training_set.parquet",
            workdir / f"scored-{engine}",
            engine=engine_name,
            tracking_uri=tracking,
            root=str(workdir / "store"),
        )
        return f"{rows:,} rows scored"
    if step == "monitor":
        from churnops.scenarios.replay import ReplayArm, ReplayConfig, replay

        out = workdir / f"monitor-{engine}"
        cfg = ReplayConfig(
            source=source, start=CUTOFF, end=CUTOFF, horizon_days=HORIZON_DAYS,
            arms=[ReplayArm(name="champion", model_uri=(workdir / "model_uri.txt").read_text(),
                            traffic_percentage=100, model_name="churn", model_version="1")],
            engine=engine_name, inference_log=str(out / "inference_log"),
            labels=str(out / "labels"), predictions=str(out / "predictions"),
            tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}", rows_per_request=1000,
        )  # fmt: skip
        result = replay(cfg)
        return f"{result.prediction_rows:,} predictions, {result.log_rows:,} requests"
    raise ValueError(f"--step {step!r}: expected one of {', '.join(STEPS)}")


def measure_step(
    step: str, customers: int, engine: str, workdir: Path, master: str | None, log: Path,
    net_batches: float = 1.0,
) -> dict[str, Any]:  # fmt: skip
    """Run `step` in a child process; its wall and CPU seconds, peak RSS and the load.

    CPU: the rusage of the child and of every descendant, those it did not wait for (Spark's
    JVM) included: this process is their subreaper and waits for them. Peak RSS: the larger of
    the largest single process (rusage maxrss) and the largest sum of the step's processes'
    resident sets seen while it ran (sampled every 0.2 s), so a driver and its JVM count
    together.
    """
    command = [sys.executable, "-m", "churnops.benchmarks.scale", "--step", step]
    command += ["--customers", str(customers), "--engine", engine, "--workdir", str(workdir)]
    command += ["--net-batches", str(net_batches)]
    if master:
        command += ["--spark-master", master]
    env = {**os.environ, "CHURNOPS_ORDERS_CACHE": str(workdir.parent / "orders-cache")}
    # Spark's Python workers run this interpreter (pandas, mlflow), not whatever `python3` is.
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    _set_subreaper(True)
    load_start = os.getloadavg()[0]
    start = time.perf_counter()
    tree_peak, seen = 0, set()
    with log.open("a") as out:
        out.write(f"\n=== {step} {customers} {engine} {datetime.now(UTC).isoformat()}\n")
        out.flush()
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            rss, pids = _tree_rss(child.pid)
            tree_peak, seen = max(tree_peak, rss), seen | pids
            time.sleep(0.2)
        child.returncode = os.waitstatus_to_exitcode(status)
    cpu, maxrss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
    for orphan in _reap_orphans(seen - {child.pid}):
        cpu += orphan.ru_utime + orphan.ru_stime
        maxrss = max(maxrss, orphan.ru_maxrss)
    # Back to normal: orphans of anything else this process starts later (a test's runner)
    # go to init again, which reaps them; we would leave them zombies.
    _set_subreaper(False)
    seconds = time.perf_counter() - start
    peak = max(maxrss * 1024, tree_peak)  # ru_maxrss is in KiB on Linux
    return {
        "step": step,
        "customers": customers,
        "engine": engine,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "peak_rss_gb": round(peak / (1 << 30), 2),
        "load": round((load_start + os.getloadavg()[0]) / 2, 1),
        "ok": child.returncode == 0,
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),  # rows may be appended
    }


def _set_subreaper(on: bool) -> None:
    """While on, orphaned descendants (a JVM its Python parent never waited for) become our
    children, so their CPU time can be collected (Linux prctl PR_SET_CHILD_SUBREAPER)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not Linux: orphans go unmeasured
        ctypes.CDLL(None, use_errno=True).prctl(36, int(on), 0, 0, 0)


def _reap_orphans(pids: set[int], grace_s: float = 60.0) -> list[Any]:
    """Wait for the step's descendants that its child left behind; their rusage. A pid that
    is not our child (reaped by the step itself, its time already counted) is skipped."""
    usages, waiting = [], set(pids)
    deadline = time.monotonic() + grace_s
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            try:
                done, _, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                waiting.discard(pid)
                continue
            if done:
                usages.append(usage)
                waiting.discard(pid)
        if waiting:
            time.sleep(0.2)
    return usages


def _tree_rss(root: int) -> tuple[int, set[int]]:
    """Resident bytes of `root` and its descendants, from /proc, and their pids."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()  # from the state on: names hold spaces
        parents[int(entry.name)] = int(fields[1])
        rss[int(entry.name)] = int(fields[21]) * _PAGE
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return sum(rss.get(pid, 0) for pid in tree), tree


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def exponents(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per step, log(cpu ratio) / log(size ratio) between the two largest DuckDB sizes."""
    duck = [r for r in rows if r["engine"] == "duckdb" and r["ok"] and not r.get("note")]
    sizes = sorted({r["customers"] for r in duck})
    if len(sizes) < 2:
        return {}
    small, large = sizes[-2], sizes[-1]
    by = {(r["step"], r["customers"]): r for r in duck}
    out = {}
    for step in STEPS:
        a, b = by.get((step, small)), by.get((step, large))
        # CPU seconds of two machines do not compare: a row kept from an earlier run on
        # another machine (--append) gives no exponent with one measured here.
        if a and b and a.get("machine") == b.get("machine"):
            out[step] = round(
                math.log(b["cpu_seconds"] / a["cpu_seconds"]) / math.log(large / small), 2
            )
    return out


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every step at every size and engine, as rows."""
    root = Path(args.workdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    log = root / "scale.log"
    plan = [(n, "duckdb") for n in args.sizes] + [(n, "spark-local") for n in args.spark_sizes]
    if args.spark_master:
        plan += [(n, "spark-cluster") for n in args.spark_sizes]
    plan = [(n, engine) for n, engine in plan if engine in args.engines]
    rows = []
    for customers, engine in plan:
        workdir = root / f"c{customers}"
        source_kept = (
            args.keep_source and (_source_dir(customers, workdir) / "orders.parquet").exists()
        )
        if engine == "duckdb" and args.steps == STEPS:  # each size from scratch (a subset of
            # steps resumes: it reuses what the earlier steps of an earlier --keep run wrote)
            for folder in (workdir, _source_dir(customers, workdir), root / "orders-cache"):
                if not (source_kept and folder == _source_dir(customers, workdir)):
                    shutil.rmtree(folder, ignore_errors=True)
        # The Spark runs reuse the DuckDB run's orders and model: their own steps are re-run.
        steps = STEPS if engine == "duckdb" else [s for s in STEPS if s in ENGINE_STEPS]
        steps = [s for s in steps if s in args.steps]
        if engine != "duckdb" and not (workdir / "model_uri.txt").exists():
            steps = ["generate", "train_lr", *steps]
        master = args.spark_master if engine == "spark-cluster" else None
        for step in steps:
            row = measure_step(step, customers, engine, workdir, master, log, args.net_batches)
            if step == "train_net" and args.net_batches < 1:  # its CPU is not the epoch's
                row["note"] = f"{args.net_batches:g} of the epoch trained (limit_train_batches)"
            if step == "generate" and source_kept:
                row["note"] = "cleaning only: the orders were generated by an earlier run"
            if engine != "duckdb" and step not in ENGINE_STEPS:
                continue  # set-up for a Spark run, already measured on duckdb
            rows.append(row)
            print(row, flush=True)
        if not args.keep and engine == "duckdb" and customers != max(args.spark_sizes, default=0):
            shutil.rmtree(workdir, ignore_errors=True)
            shutil.rmtree(_source_dir(customers, workdir), ignore_errors=True)
    return rows


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated counts") from None
    if any(n < 1000 for n in sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: expected counts of at least 1000 customers")
    return sizes


ENGINE_CASES = ("duckdb", "spark-local", "spark-cluster")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a fraction in (0, 1]")
    return value


def _steps(text: str) -> list[str]:
    steps = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not steps:
        raise argparse.ArgumentTypeError(f"{text!r}: expected some of {', '.join(STEPS)}")
    return [s for s in STEPS if s in steps]  # in the pipeline's order


def _engines(text: str) -> list[str]:
    engines = [e.strip() for e in text.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINE_CASES]
    if unknown or not engines:
        raise argparse.ArgumentTypeError(f"{text!r}: expected some of {', '.join(ENGINE_CASES)}")
    return engines


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/benchmark scale", description=__doc__)
    p.add_argument("--sizes", type=_sizes, default=[100_000, 1_000_000, 10_000_000],
                   help="customers per DuckDB run, comma-separated")  # fmt: skip
    p.add_argument("--spark-sizes", type=_sizes, default=[1_000_000],
                   help="customers per Spark run ('' for none)")  # fmt: skip
    p.add_argument("--spark-master", help="a Spark master URL: adds spark-cluster rows")
    p.add_argument("--net-batches", type=_fraction, default=1.0,
                   help="fraction of the net's epoch to train (a memory check)")  # fmt: skip
    p.add_argument("--steps", type=_steps, default=list(STEPS),
                   help="steps to run, resuming a --keep run (default: all)")  # fmt: skip
    p.add_argument("--engines", type=_engines, default=list(ENGINE_CASES),
                   help="engines to run, comma-separated (default: all)")  # fmt: skip
    p.add_argument("--workdir", default=".churnops/scale")
    p.add_argument("--keep", action="store_true", help="keep every size's data")
    p.add_argument("--keep-source", action="store_true",
                   help="reuse generated orders (generate measures the cleaning)")  # fmt: skip
    p.add_argument("--results-dir", type=Path, help="write scale.json/.md here (default docs/)")
    p.add_argument("--name", default="scale", help="results file name")
    p.add_argument("--append", action="store_true",
                   help="keep earlier rows of sizes and engines not run now")  # fmt: skip
    # One step in this process (what the runner starts for each row).
    p.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    p.add_argument("--customers", type=int, help=argparse.SUPPRESS)
    p.add_argument("--engine", default="duckdb", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def publish(
    rows: list[dict[str, Any]],
    name: str,
    results_dir: Path | None,
    spark_master: str | None,
    extra_notes: list[str] = (),  # type: ignore[assignment]
) -> None:
    """Write the rows, with the exponents and the targets' verdicts, as NAME.json / NAME.md."""
    machine = report_machine()
    rows = [{"machine": machine, **r} for r in rows]  # a kept row names its own machine
    slopes = exponents(rows)
    # The target is DuckDB's on one machine; a Spark row counts its driver and JVM.
    over = [r for r in rows if r["engine"] == "duckdb" and r["peak_rss_gb"] > TARGET_RSS_GB]
    spark = [r["peak_rss_gb"] for r in rows if r["engine"] != "duckdb"]
    notes = [
        f"Synthetic customers (seed 0), features as of {CUTOFF}, churn over {HORIZON_DAYS} days; "
        "each step its own process; the machine of each row is in the JSON (above: this "
        "run's, and those of rows kept from earlier runs).",
        "cpu_seconds: user + system of the step's processes, Spark's JVM included; "
        "peak_rss_gb: the larger of the largest process's maxrss and the largest sum of the "
        "step's processes' resident sets sampled every 0.2 s (a Spark step: driver + JVM). "
        "load: 1-minute load average during the step (2 cores, shared).",
        "CPU-time exponent between the two largest DuckDB sizes (target <= "
        f"{TARGET_EXPONENT}): "
        + (", ".join(f"{s} {e}" for s, e in slopes.items()) or "needs two sizes"),
        f"Peak RSS target <= {TARGET_RSS_GB} GiB per DuckDB step: "
        + (
            "met by every step."
            if not over
            else "missed by "
            + ", ".join(
                f"{r['step']} at {r['customers']:,} ({r['engine']}): {r['peak_rss_gb']} GiB"
                for r in over
            )
            + "."
        ),
    ]
    if spark:
        notes.append(
            f"Spark rows: the step's driver process and its JVM peak at {min(spark)} to "
            f"{max(spark)} GiB (a cluster's executors are not counted)."
        )
    if not spark_master and not any(r["engine"] == "spark-cluster" for r in rows):
        notes.append("spark-cluster rows: not run (no --spark-master given).")
    notes += list(extra_notes)
    write_results(name, rows, COLUMNS,
                  "Scale: each step's CPU time and peak memory by customers", notes,
                  results_dir=results_dir)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.step:
        note = run_step(args.step, args.customers, args.engine, Path(args.workdir),
                        args.spark_master, args.net_batches)  # fmt: skip
        print(f"{args.step}: {note}", flush=True)
        return 0
    if args.append:  # a results file it cannot keep rows from is refused before any run
        kept_rows(args.name, [], KEY, args.results_dir)
    rows = run(args)
    ok = all(r["ok"] for r in rows)
    with results_lock(args.name, args.results_dir):  # another --append run may share the page
        if args.append:
            rows = kept_rows(args.name, rows, KEY, args.results_dir) + rows
        order = {engine: i for i, engine in enumerate(ENGINE_CASES)}
        rows.sort(key=lambda r: (order[r["engine"]], r["customers"], STEPS.index(r["step"])))
        publish(rows, args.name, args.results_dir, args.spark_master)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
