"""`churnops monitor`: create (first full refresh), refresh, show and decide from a YAML config."""

from __future__ import annotations

import yaml

from churnops.cli import main
from tests.monitoring.synthetic_tables import baseline_for, predictions, write


def test_monitor_commands_run_end_to_end(tmp_path, capsys):
    write(tmp_path / "preds", predictions(4, 200, shift_at=2, shift=2.0, seed=3))
    write(tmp_path / "baseline", baseline_for(1000))
    config = tmp_path / "monitor.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "table": str(tmp_path / "preds"),
                "output_dir": str(tmp_path / "out"),
                "baseline_table": str(tmp_path / "baseline"),
                "retrain": {"min_rows": 50},
            }
        )
    )
    assert main(["monitor", "create", "--config", str(config)]) == 0
    assert "full" in capsys.readouterr().out
    assert main(["monitor", "refresh", "--config", str(config)]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert main(["monitor", "show", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "baseline drift" in out and "f0" in out
    assert main(["monitor", "decide", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "retrain: True" in out and "of f0 above 0.2" in out


def test_monitor_config_error_names_the_key(tmp_path, capsys):
    config = tmp_path / "monitor.yaml"
    config.write_text(yaml.safe_dump({"table": "x", "output_dir": "y", "granularitis": ["1 day"]}))
    assert main(["monitor", "refresh", "--config", str(config)]) == 2
    assert "unknown key 'granularitis'" in capsys.readouterr().err


def test_monitor_report_writes_the_plots_and_one_page(tmp_path, capsys):
    import numpy as np

    from tests.monitoring.synthetic_tables import START, labels_for

    # A table of the user's own, with its own column names (and no serving-log columns).
    names = {"timestamp": "scored_at", "model_version": "model_ver", "customer_id": "cust",
             "probability": "churn_prob", "churn": "churned"}  # fmt: skip

    def own(table):
        return table.rename_columns([names.get(c, c) for c in table.column_names])

    preds = predictions(6, 300, shift_at=3, seed=5, versions=("1", "2"))
    days = np.array([(t - START).days for t in preds["timestamp"].to_pylist()])
    write(tmp_path / "labels", own(labels_for(preds.filter(days < 3))))
    write(tmp_path / "preds", own(preds.drop_columns(["request_id"])))
    write(tmp_path / "baseline", own(baseline_for(2000)))
    config = tmp_path / "monitor.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "table": str(tmp_path / "preds"),
                "output_dir": str(tmp_path / "out"),
                "baseline_table": str(tmp_path / "baseline"),
                "labels_table": str(tmp_path / "labels"),
                "timestamp_col": "scored_at",
                "model_id_col": "model_ver",
                "id_col": "cust",
                "prediction_proba_col": "churn_prob",
                "label_col": "churned",
                "ab": {
                    "control": "1",
                    "treatment": "2",
                    "arm_col": "model_version",
                    "expected_split": {"1": 50, "2": 50},
                    "n_bootstrap": 100,
                },
            }
        )
    )
    assert main(["monitor", "report", "--config", str(config)]) == 2
    assert "run `churnops monitor refresh` first" in capsys.readouterr().err
    assert main(["monitor", "create", "--config", str(config)]) == 0
    out_dir = tmp_path / "report"
    assert main(["monitor", "report", "--config", str(config), "--out", str(out_dir)]) == 0
    assert str(out_dir / "report.html") in capsys.readouterr().out.replace("\n", "")
    pngs = {p.stem for p in out_dir.glob("*.png")}
    assert {"drift_heatmap", "score_distribution", "quality_over_time"} <= pngs
    page = (out_dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(pngs)  # self-contained
    assert "Quality and label-free estimates" in page
    assert main(["monitor", "ab", "--config", str(config)]) == 0
    assert "verdict:" in capsys.readouterr().out


def test_monitor_baseline_names_a_missing_training_set(tmp_path, capsys):
    missing = tmp_path / "nope.parquet"
    args = ["--training-set", str(missing), "--model-uri", "models:/churn/1"]
    assert main(["monitor", "baseline", *args, "--out", str(tmp_path / "b")]) == 2
    assert f"training_set={str(missing)!r}: no such file" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
