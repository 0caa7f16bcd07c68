import pyarrow.parquet as pq

from churnops.cli import main


def test_features_build_writes_features_and_labels(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["features", "build", "--as-of", "1997-09-30", "--output-dir", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "23,570" in printed and "0.743" in printed
    assert pq.read_table(out / "features-1997-09-30.parquet").num_rows == 23_570
    assert pq.read_table(out / "labels-1997-09-30-h180.parquet").num_rows == 23_570


def test_unknown_engine_is_a_clear_error(tmp_path, capsys):
    code = main(["features", "build", "--engine", "polars", "--output-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "engine.name='polars'" in err and "duckdb" in err


def test_unknown_override_key_is_named(tmp_path, capsys):
    code = main(["features", "build", "--output-dir", str(tmp_path), "horizon=30"])
    assert code == 2
    assert "unknown key 'horizon'" in capsys.readouterr().err


def test_missing_source_file_is_named(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    code = main(["features", "build", "--source", "csv", "--path", str(missing)])
    assert code == 2
    assert str(missing) in capsys.readouterr().err


def test_customers_shows_inferred_types_rejects_and_the_train_command(tmp_path, capsys):
    src = tmp_path / "customers.csv"
    src.write_text("id,plan,usage,label\na,gold,1.5,Yes\nb,silver, ,No\nc,gold,2,maybe\nd,x\n")
    out = tmp_path / "clean.parquet"
    code = main(["features", "customers", str(src), "--id-column", "id", "--label-column",
                 "label", "--out", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "categorical" in printed and "numeric" in printed
    assert "1 label not in label_values" in printed and "malformed line 5" in printed
    assert f"data.path={out}" in printed and "'features.categorical=[plan]'" in printed
    assert pq.read_table(out).num_rows == 2


def test_customers_bad_label_values_flag_is_named(tmp_path, capsys):
    src = tmp_path / "customers.csv"
    src.write_text("customer_id,x,churn\na,1,1\n")
    code = main(["features", "customers", str(src), "--label-values", "Yes=2"])
    assert code == 2
    assert "--label-values='Yes=2'" in capsys.readouterr().err


def test_a_wrong_date_format_is_an_error_not_zero_customers(tmp_path, capsys):
    src = tmp_path / "orders.csv"
    src.write_text("customer_id,order_date,amount,quantity\na,1997-01-01,10,1\n")
    code = main(
        ["features", "build", "--source", "csv", "--path", str(src), "--no-store",
         "--output-dir", str(tmp_path / "out"), "source.date_format=%Y%m%d"]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "every row was rejected" in err and "'%Y%m%d'" in err


def test_a_non_cdnow_source_gets_its_own_feature_table():
    from churnops.cli.features import default_table
    from churnops.data.features.build import FeaturesJobConfig

    configured = "churnops.cdnow.customer_features"
    csv = FeaturesJobConfig(source={"kind": "csv", "path": "/data/My Orders.csv"})
    assert default_table(configured, csv) == "churnops.csv_my_orders.customer_features"
    assert default_table(configured, FeaturesJobConfig()) == configured
