"""Serving benchmark: churnops serve vs `mlflow models serve --env-manager local`, same model.

Builds CDNOW features as of the protocol cutoff (configs/data/cdnow.yaml) into a SQLite online
store, registers two logistic regression versions in MLflow on SQLite (champion, challenger),
starts both servers as subprocesses and drives them over loopback from this process. churnops
requests carry only `customer_id` (online lookup); mlflow requests carry the 18 features (it
cannot look them up).
Cases: single-row at 200 rps, single-row at the maximum rate (closed loop), 100-row at 200 rps.
Then every model family (`--models`), logged as the churnops pyfunc and served alone through the
same path, at single-row 200 rps (`model` column).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from churnops.benchmarks.report import write_results
from churnops.data.features import FEATURE_COLUMNS
from churnops.serving.loadgen import build_request, run_load

TABLE = "churnops.cdnow.customer_features_monthly"
COLUMNS = ["server", "model", "case", "requests", "rps", "p50_ms", "p95_ms", "p99_ms", "errors"]
FAMILIES = ("logistic_regression", "random_forest", "xgboost", "mlp")


def prepare_world(workdir: Path, families: tuple[str, ...] = ()) -> dict[str, Any]:
    """Features in a SQLite online store, models `churn` v1 (champion) and v2 (challenger),
    and `churn_<family>` v1 for each of `families` (the churnops pyfunc)."""
    import mlflow
    from mlflow import MlflowClient
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from churnops.data.datasets import cdnow_cutoff
    from churnops.data.engines import engine_for
    from churnops.data.feature_store.online.sqlite import SQLiteOnlineStore
    from churnops.data.features import compute_customer_features, compute_labels
    from churnops.data.sources import SourceConfig, prepare_orders
    from churnops.trainers.tracking import ensure_experiment

    orders_path = workdir / "orders.parquet"
    prepare_orders(SourceConfig(kind="cdnow"), orders_path)
    cutoff = cdnow_cutoff()
    with engine_for("duckdb") as engine:
        orders = engine.read_parquet(orders_path)
        features = engine.to_arrow(compute_customer_features(orders, cutoff))
        labels = engine.to_arrow(compute_labels(orders, cutoff, 180)).to_pandas()
    online = workdir / "online" / "features.db"
    store = SQLiteOnlineStore(online)
    store.write_rows(TABLE, ["customer_id"], features, version=0, replace=True)
    store.close()
    frame = features.to_pandas().merge(labels[["customer_id", "churn"]], on="customer_id")
    x = frame[list(FEATURE_COLUMNS)].astype("float64")
    tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_experiment(experiment_id=ensure_experiment("serving-benchmark"))  # artifacts beside
    for c in (1.0, 0.1):
        model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(C=c))
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                model.fit(x, frame["churn"]),
                name="model",
                input_example=x.head(3),
                registered_model_name="churn",
                pip_requirements=["scikit-learn"],
                skops_trusted_types=["numpy.dtype"],
            )
    for family in families:
        _log_family(family, x.to_numpy("float32"), frame["churn"].to_numpy(), x.head(3), workdir)
    client = MlflowClient()
    client.set_registered_model_alias("churn", "champion", "1")
    client.set_registered_model_alias("churn", "challenger", "2")
    return {"tracking_uri": tracking_uri, "online": online, "frame": frame}


def _fit_family(family: str, x: np.ndarray, y: np.ndarray, workdir: Path) -> Any:
    """`family` as `train(cfg)` builds and fits it (`build_model`, the config's defaults); the
    net for a few epochs only: real weights, and latency is the point."""
    from churnops.trainers.config import load_train_config
    from churnops.trainers.estimators import build_model

    overrides = [f"model={family}", f"workdir={workdir / family}", "logger=none"]
    overrides += ["trainer.progress_bar=false", "trainer.max_epochs=3"]
    return build_model(load_train_config(overrides)).fit(x, y)


def _log_family(family: str, x: np.ndarray, y: np.ndarray, example: Any, workdir: Path) -> None:
    import mlflow

    from churnops.models.feature_spec import FeatureSpec
    from churnops.models.pyfunc import log_pyfunc_model

    with mlflow.start_run(run_name=family):
        log_pyfunc_model(
            _fit_family(family, x, y, workdir),
            FeatureSpec(list(FEATURE_COLUMNS)),
            name=family,
            input_example=example,
            registered_model_name=f"churn_{family}",
        )


def _family_yaml(workdir: Path, world: dict[str, Any], family: str) -> Path:
    """One served entity, the family's pyfunc, all the traffic; lookup, auth, inference log."""
    data = yaml.safe_load(_endpoint_yaml(workdir, world).read_text())
    data["served_entities"] = [
        {"name": "champion", "entity_name": f"churn_{family}", "entity_version": "1"}
    ]
    data["traffic_config"] = {
        "routes": [{"served_model_name": "champion", "traffic_percentage": 100}]
    }
    data["auto_capture_config"] = {"path": str(workdir / f"inference_log_{family}")}
    path = workdir / f"endpoint_{family}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _run_family(
    workdir: Path, world: dict[str, Any], family: str, env: dict[str, str], bodies: list[bytes],
    count: int,
) -> dict[str, Any]:  # fmt: skip
    port = _free_port()
    cfg = _family_yaml(workdir, world, family)
    cmd = [sys.executable, "-m", "churnops.serving", "--config", str(cfg), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/health", proc)
        headers = {"Authorization": "Bearer bench-token"}
        path = "/serving-endpoints/churn/invocations"
        reqs = [build_request("127.0.0.1", port, path, b, headers) for b in bodies]
        run_load("127.0.0.1", port, reqs, 300, concurrency=2)  # warm-up
        res = run_load("127.0.0.1", port, reqs, count, 200.0, 4)
    finally:
        _stop(proc)
    return {"server": "churnops", "model": family, "case": "1row-200rps", **res.summary()}


def _endpoint_yaml(workdir: Path, world: dict[str, Any]) -> Path:
    cfg = {
        "name": "churn",
        "tracking_uri": world["tracking_uri"],
        "served_entities": [
            {"name": "champion", "entity_name": "churn", "alias": "champion"},
            {"name": "challenger", "entity_name": "churn", "alias": "challenger"},
        ],
        "traffic_config": {
            "routes": [
                {"served_model_name": "champion", "traffic_percentage": 80},
                {"served_model_name": "challenger", "traffic_percentage": 20},
            ]
        },
        "auto_capture_config": {"path": str(workdir / "inference_log")},
        "feature_lookup": {"online": {"kind": "sqlite", "path": str(world["online"])}},
        "auth": {"enabled": True, "tokens": ["bench-token"]},
    }
    path = workdir / "endpoint.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)  # graceful: in-flight requests finish, the log flushes
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _cases(args: argparse.Namespace) -> list[tuple[str, int, float | None, int]]:
    return [
        ("1row-200rps", args.requests, 200.0, 1),
        ("1row-max", args.max_requests, None, 1),
        ("100rows-200rps", args.batch_requests, 200.0, 100),
    ]


def _bodies(
    customers: list[str], features: list[list[Any]], rows: int, lookup: bool
) -> list[bytes]:
    out = []
    for start in range(0, min(len(customers), 5000), rows):
        ids = customers[start : start + rows]
        if len(ids) < rows:
            break
        if lookup:
            out.append(orjson.dumps({"dataframe_records": [{"customer_id": c} for c in ids]}))
        else:
            data = features[start : start + rows]
            split = {"columns": list(FEATURE_COLUMNS), "data": data}
            out.append(orjson.dumps({"dataframe_split": split}))
    return out


def _client_note(case: str, res: Any) -> str:
    note = f"{case} {100 * res.client_cpu_share:.0f}% of a core"
    if res.late_ms:
        note += f", sent p99 {float(np.percentile(res.late_ms, 99)):.2f} ms after due"
    return note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/benchmark serving", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="1row-200rps requests")
    parser.add_argument("--max-requests", type=int, default=10_000, help="1row-max requests")
    parser.add_argument("--batch-requests", type=int, default=1000, help="100rows requests")
    parser.add_argument("--concurrency", type=int, default=4, help="1row-max connections")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument(
        "--models", default=",".join(FAMILIES), help=f"families to serve one by one: {FAMILIES}"
    )
    parser.add_argument("--workdir", help="keep the servers' files here (default: a temp dir)")
    parser.add_argument("--results-dir", help="default: docs/results")
    args = parser.parse_args(argv)

    tmp = None
    if args.workdir:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="churnops-serving-bench-")
        workdir = Path(tmp.name)
    load_before = os.getloadavg()
    print(f"preparing features and models under {workdir} ...", flush=True)
    families = tuple(f for f in args.models.split(",") if f)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        parser.error(f"--models: unknown {unknown}; expected some of {list(FAMILIES)}")
    world = prepare_world(workdir, families)
    frame = world["frame"].sample(frac=1.0, random_state=0)
    customers = frame["customer_id"].tolist()
    feats = frame[list(FEATURE_COLUMNS)].astype("float64")
    features = [[None if v != v else v for v in row] for row in feats.itertuples(index=False)]
    # `mlflow models serve` runs `uvicorn` from PATH: put this interpreter's bin first.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "MLFLOW_TRACKING_URI": world["tracking_uri"], "PATH": path}
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    auth_header = {"Authorization": "Bearer bench-token"}

    # Both servers up at once, each case run on one then the other back to back, so both meet
    # the same background load (an idle server costs nothing).
    servers: dict[str, dict[str, Any]] = {}
    port = _free_port()
    cfg_path = _endpoint_yaml(workdir, world)
    cmd = [sys.executable, "-m", "churnops.serving", "--config", str(cfg_path), "--port", str(port)]
    servers["churnops"] = {"proc": subprocess.Popen(cmd, env=env), "port": port}
    if not args.skip_mlflow:
        port = _free_port()
        cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/churn/1"]
        cmd += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
        servers["mlflow"] = {"proc": subprocess.Popen(cmd, env=env), "port": port}
    acknowledged = 0
    client: list[str] = []  # what the load generator itself cost, per churnops case
    try:
        for name, srv in servers.items():
            port = srv["port"]
            if name == "churnops":
                _wait_ready(f"http://127.0.0.1:{port}/health", srv["proc"])
                path, headers, lookup = "/serving-endpoints/churn/invocations", auth_header, True
            else:
                _wait_ready(f"http://127.0.0.1:{port}/ping", srv["proc"])
                path, headers, lookup = "/invocations", {}, False
            srv["reqs"] = {
                n: [
                    build_request("127.0.0.1", port, path, b, headers)
                    for b in _bodies(customers, features, n, lookup)
                ]
                for n in (1, 100)
            }
            warm = run_load("127.0.0.1", port, srv["reqs"][1], 300, concurrency=2)
            if name == "churnops":
                acknowledged += warm.statuses.get(200, 0)
        for case, count, rate, n in _cases(args):
            for name, srv in servers.items():
                res = run_load(
                    "127.0.0.1", srv["port"], srv["reqs"][n], count, rate, args.concurrency
                )
                rows.append(
                    {"server": name, "model": "logistic_regression", "case": case, **res.summary()}
                )
                print(rows[-1], flush=True)
                if name != "churnops":
                    continue
                acknowledged += res.statuses.get(200, 0)
                client.append(_client_note(case, res))
                if case == "1row-max":
                    total = sum(res.served.values())
                    share = 100 * res.served.get("champion", 0) / max(total, 1)
                    notes.append(
                        f"traffic split over the {total:,} 1row-max requests (sticky by "
                        f"customer): champion {share:.2f}% / challenger {100 - share:.2f}% "
                        "(configured 80/20)"
                    )
    finally:
        for srv in servers.values():
            _stop(srv["proc"])
    main_rows = list(rows)
    single = _bodies(customers, features, 1, True)
    for family in families:
        rows.append(_run_family(workdir, world, family, env, single, args.requests))
        print(rows[-1], flush=True)
    from churnops.serving.inference_log import read_inference_log

    log = read_inference_log(workdir / "inference_log" / "churn").to_pandas()
    # A request whose customers went to both models is two rows (one per model), one id.
    ok = log[(log["status_code"] == 200) & ~log["is_shadow"]]
    logged = int(ok["databricks_request_id"].nunique())
    notes.append(
        f"inference log after SIGTERM: {logged:,} requests with status 200; acknowledged "
        "requests "
        f"{acknowledged:,} ({'equal' if logged == acknowledged else 'NOT equal'})"
    )
    ours = {r["case"]: r for r in main_rows if r["server"] == "churnops"}
    theirs = {r["case"]: r for r in main_rows if r["server"] == "mlflow"}
    for case in ours:
        if case in theirs and ours[case]["p50_ms"] > 0:
            notes.append(
                f"{case}: mlflow p50 / churnops p50 = "
                f"{theirs[case]['p50_ms'] / ours[case]['p50_ms']:.1f}x"
            )
    rates = {case: rate for case, _, rate, _ in _cases(args) if rate}
    for r in rows:
        rate = rates.get(r["case"])
        if rate and r["rps"] < 0.95 * rate:
            notes.append(
                f"{r['server']} {r['case']}: held {r['rps']:.0f} of {rate:.0f} rps; the server "
                "fell behind, so its latencies are mostly time queued (open loop)"
            )
    notes.append("errors: answers other than 200, or none within 30 s (the client's timeout)")
    notes.append("load generator (one thread, this process), churnops cases: " + "; ".join(client))
    load_after = os.getloadavg()
    notes += [
        "churnops: 1 uvicorn process (uvloop, httptools, heap frozen after load), requests "
        "carry only customer_id (SQLite online lookup), bearer auth and the Delta inference log "
        "on (the server journals each answer, a committer process writes Delta); the pipeline "
        "is scored by its verified numpy kernel, requests ready together are "
        "batched; "
        "mlflow: `mlflow models serve --env-manager local -w 1`, the 18 features in the request",
        "the first rows (both servers) serve a scikit-learn logistic-regression pipeline logged "
        "with MLflow's sklearn flavour, champion 80 / challenger 20; the per-family rows after "
        "them serve each family logged as the churnops pyfunc (`log_pyfunc_model`), alone, "
        "same lookup, auth and inference log (journal, committer process), one server at a "
        "time; the mlp is a 2-layer net fitted for 30 full-batch steps (latency, not quality)",
        "both servers run side by side; each case runs on churnops, then at once on mlflow; "
        "latency at a fixed rate counts from when each request was due (open loop); "
        f"1row-max is closed loop with {args.concurrency} connections",
        f"load average (1/5/15 min) before {tuple(round(x, 2) for x in load_before)}, "
        f"after {tuple(round(x, 2) for x in load_after)} on {os.cpu_count()} cores",
    ]
    write_results(
        "serving",
        rows,
        COLUMNS,
        "Serving: churnops vs mlflow models serve (loopback)",
        notes,
        Path(args.results_dir) if args.results_dir else None,
    )
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
