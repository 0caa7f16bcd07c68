"""Your own customer table, as a new user meets it: the README's example as printed, a CSV with
its own delimiter and quirks, a model that scores by id and takes rows as pandas reads them."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnops.trainers.config import load_train_config
from churnops.trainers.train import train

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    """The tree under test first on the path, the venv running the tests for `.venv/bin`."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_DISABLE_TELEMETRY": "true"}


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Bring your own data") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def _run_as_printed(line: str, cwd: Path) -> subprocess.CompletedProcess:
    """One README line, run as a user runs it from the repository root: `.venv/bin/` is the
    venv running the tests, `scripts/` the repository's."""
    words = shlex.split(line)
    if words[0].startswith(".venv/bin/"):
        words[0] = str(Path(sys.executable).parent / words[0].removeprefix(".venv/bin/"))
    elif words[0].startswith("scripts/"):
        words[0] = str(ROOT / words[0])
    return subprocess.run(words, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=600)  # fmt: skip


@pytest.mark.slow
def test_readme_example_runs_as_printed_csv_in_model_served_out(tmp_path):
    generate, inspect, train_line = _readme_commands()
    for line in (generate, inspect):
        out = _run_as_printed(line, tmp_path)
        assert out.returncode == 0, out.stderr
    # The command `features customers` prints is the README's next line, and it is short.
    printed = out.stdout.split("train on it with")[1].splitlines()[1].strip()
    assert printed == train_line and len(printed) < 120
    out = _run_as_printed(train_line, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "RuntimeWarning" not in out.stderr  # scripts/train calls the CLI's function
    assert "MLflow run" in out.stdout and "score-batch" in out.stdout
    model_uri = re.search(r"^model (\S+)$", out.stdout, re.M).group(1)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / '.churnops/train/mlflow.db'}")
    model = mlflow.pyfunc.load_model(model_uri)
    rows = pd.read_csv(tmp_path / "customers.csv")  # tenure int64; TotalCharges text, " " blanks
    assert rows["tenure"].dtype == np.int64 and (rows["TotalCharges"] == " ").any()
    scored = model.predict(rows)
    assert scored["probability"].between(0, 1).all() and len(scored) == len(rows)
    blank = rows.index[rows["TotalCharges"] == " "]
    as_nan = rows.loc[blank].assign(TotalCharges=np.nan, tenure=rows.loc[blank, "tenure"] * 1.0)
    np.testing.assert_allclose(model.predict(as_nan)["probability"],
                               scored.loc[blank, "probability"], rtol=1e-6)  # fmt: skip


# A table as spreadsheets export it: ';' between fields, '1,889.5' totals, ' ' for a blank, a
# column left empty, Yes/No labels.
def _write_table(path: Path, n: int = 240, delimiter: str = ";", ids: bool = True) -> Path:
    rng = np.random.default_rng(7)
    lines = [delimiter.join((["customer_id"] if ids else []) + [
        "plan", "tenure", "monthly", "total", "calls", "notes", "churned"])]  # fmt: skip
    for i in range(n):
        plan = rng.choice(["basic", "plus", "premium"])
        tenure = int(rng.integers(0, 72))
        monthly = round(float(rng.uniform(20, 120)), 2)
        total = " " if tenure == 0 else f"{monthly * tenure:,.1f}"
        if delimiter == "," and "," in total:
            total = f'"{total}"'  # as a spreadsheet quotes it
        calls = int(rng.poisson(2))
        logit = -0.5 + 1.2 * (plan == "basic") - 0.04 * tenure + 0.4 * calls
        churn = "Yes" if rng.random() < 1 / (1 + np.exp(-logit)) else "No"
        fields = [str(plan), str(tenure), str(monthly), total, str(calls), " ", churn]
        lines.append(delimiter.join(([f"c{i:04d}"] if ids else []) + fields))
    path.write_text("\n".join(lines) + "\n")
    return path


def _overrides(tmp_path: Path, path: Path) -> list[str]:
    return [f"workdir={tmp_path / 'work'}", f"data.path={path}", "data.id_column=customer_id",
            "data.label_column=churned", "model=logistic_regression",
            "logger.log_plots=false"]  # fmt: skip


def test_a_semicolon_csv_trains_with_its_columns_typed_and_its_own_name(tmp_path):
    path = _write_table(tmp_path / "my_customers.csv")
    cfg = load_train_config([*_overrides(tmp_path, path), "data.delimiter=;"])
    result = train(cfg)
    assert result.model_uri is not None  # the input example is read from the clean table
    run = mlflow.MlflowClient(result.tracking_uri).get_run(result.run_id)
    assert run.info.run_name == "logistic_regression-my_customers"
    assert run.data.params["data.name"] == "my_customers"
    assert run.data.tags["feature_table.churnops.my_customers.customer_table"] == "0"
    # Every column but id and label, typed; the blank column reported, not a feature.
    assert run.data.params["features.columns"] == (
        '["plan", "tenure", "monthly", "total", "calls"]'
    )
    assert run.data.params["features.categorical"] == '["plan"]'
    report = result.data_report
    assert report.thousands["total"] > 100 and report.dropped == {"notes": "blank in every row"}
    assert report.missing["total"] == {"blank": int((pd.read_csv(
        path, sep=";", dtype=str)["total"] == " ").sum())}  # fmt: skip
    # The logged model takes the table as pandas reads it: tenure int64, total text.
    rows = pd.read_csv(path, sep=";")
    model = mlflow.pyfunc.load_model(result.model_uri)
    p = model.predict(rows)["probability"].to_numpy()
    x = rows.assign(total=pd.to_numeric(rows["total"].str.replace(",", ""), errors="coerce"))
    np.testing.assert_allclose(p, result.model.predict_proba(
        x[["plan", "tenure", "monthly", "total", "calls"]])[:, 1], rtol=1e-6)  # fmt: skip


def test_a_model_trained_on_a_customer_table_scores_by_customer_id(tmp_path):
    from churnops.scoring.table import score_table

    path = _write_table(tmp_path / "customers.csv", delimiter=",")
    result = train(load_train_config(_overrides(tmp_path, path)))
    assert result.feature_store_root is not None
    ids = ["c0003", "c0010", "c0100"]
    keys = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"customer_id": ids}), keys)
    out = tmp_path / "scored.parquet"
    rows = score_table(result.model_uri, keys, out, tracking_uri=result.tracking_uri,
                       root=str(result.feature_store_root))  # fmt: skip
    assert rows == 3
    scored = pq.read_table(out).to_pandas().set_index("customer_id").loc[ids]
    table = pd.read_csv(path).set_index("customer_id").loc[ids]
    want = mlflow.pyfunc.load_model(result.model_uri).predict(table.reset_index())
    np.testing.assert_allclose(scored["probability"], want["probability"], rtol=1e-6)


def test_a_table_without_ids_trains_with_numbered_rows(tmp_path):
    path = _write_table(tmp_path / "anon.csv", delimiter=",", ids=False)
    overrides = [o for o in _overrides(tmp_path, path) if not o.startswith("data.id_column")]
    with pytest.raises(ValueError, match=r"--id-column none \(data.id_column=null\)"):
        train(load_train_config(overrides))
    result = train(load_train_config([*overrides, "data.id_column=null"]))
    assert result.data_report.id_made and result.model_uri is not None
    assert result.feature_store_root is None  # row numbers are no key to score by


def test_one_data_file_serves_train_sweep_and_benchmark(tmp_path):
    from churnops.cli.tune import split_overrides
    from churnops.trainers.tuning import load_tune_config

    path = _write_table(tmp_path / "shop.csv")
    data_file = tmp_path / "shop.yaml"
    data_file.write_text(f"path: {path}\nid_column: customer_id\nlabel_column: churned\n"
                         "delimiter: ';'\n")  # fmt: skip
    cfg = load_train_config([f"data={data_file}"])
    assert (cfg.data.path, cfg.data.delimiter, cfg.data.name) == (str(path), ";", "shop")
    own, trials = split_overrides(["num_samples=2", f"data={data_file}", "trainer.max_epochs=3"])
    assert own == ["num_samples=2"] and trials == [f"data={data_file}", "trainer.max_epochs=3"]
    tune = load_tune_config("xgboost", own)
    assert load_train_config([*tune.train_overrides, *trials]).data.path == str(path)
    bench = subprocess.run(
        [str(ROOT / "scripts" / "benchmark"), "baselines", "--models", "logistic_regression",
         "--workdir", str(tmp_path / "bench"), "--results-dir", str(tmp_path / "results"),
         f"data={data_file}", "data.cv_folds=2"],
        env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    assert "| shop |" in (tmp_path / "results" / "baselines.md").read_text()


def test_benchmark_data_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,x,churn\na,1,churned\nb,2,stayed\n")
    out = subprocess.run(
        [str(ROOT / "scripts" / "benchmark"), "baselines", "--workdir", str(tmp_path / "w"),
         "--results-dir", str(tmp_path / "r"), f"data.path={bad}"],
        env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("scripts/benchmark baselines: error: data.path=")
    assert "label_values" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_scripts_run_without_a_runpy_warning(tmp_path):
    for script in ("train", "sweep"):
        out = subprocess.run([str(ROOT / "scripts" / script), "--help"], env=_env(),
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "RuntimeWarning" not in out.stderr and f"scripts/{script}" in out.stdout


def test_a_sweep_on_your_own_table_from_the_command_line(tmp_path, capsys):
    from churnops.cli import main

    path = _write_table(tmp_path / "shop.csv")
    data_file = tmp_path / "shop.yaml"
    data_file.write_text(f"path: {path}\nid_column: customer_id\nlabel_column: churned\n"
                         "delimiter: ';'\n")  # fmt: skip
    code = main(["tune", "random_forest", f"data={data_file}", f"workdir={tmp_path / 'work'}",
                 "num_samples=2", "backend=hyperopt", "spark_trials=false"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "2 trials" in printed and "refit on the train split: test/auroc" in printed
