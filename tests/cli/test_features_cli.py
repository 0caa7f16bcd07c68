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
    # Short, real and complete: the data settings only; train reads the types again.
    assert f"scripts/train data.path={out} data.id_column=id data.label_column=label\n" in printed
    assert "features.columns" not in printed
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


def test_customers_prints_the_settings_a_semicolon_table_needs(tmp_path, capsys):
    src = tmp_path / "customers.csv"
    src.write_text("plan;total;label\ngold;1,889.5;Churned\nsilver; ;Active\n")
    code = main(["features", "customers", str(src), "--id-column", "none", "--label-column",
                 "label", "--delimiter", ";", "--label-values", "Churned=1,Active=0",
                 "--categorical", "plan"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "thousands separators read as numbers: total: 1" in " ".join(printed.split())
    assert (
        f"scripts/train data.path={src} data.id_column=null data.label_column=label "
        "'data.delimiter=;' 'data.label_values={churned: 1, active: 0}' "
        "'features.categorical=[plan]'\n"
    ) in printed
    out = tmp_path / "clean.parquet"  # already 0/1 labels, Parquet: the path, id, label only
    flags = ["--id-column", "none", "--label-column", "label", "--delimiter", ";"]
    main(["features", "customers", str(src), *flags, "--label-values", "Churned=1,Active=0",
          "--out", str(out)])  # fmt: skip
    assert (
        f"scripts/train data.path={out} data.id_column=customer_id data.label_column=label\n"
    ) in capsys.readouterr().out


def test_customers_without_the_id_column_names_the_flag(tmp_path, capsys):
    src = tmp_path / "customers.csv"
    src.write_text("plan,churn\ngold,1\n")
    assert main(["features", "customers", str(src)]) == 2
    assert "--id-column none" in capsys.readouterr().err


def test_customers_from_a_feature_store_table_prints_its_delta_path(tmp_path, monkeypatch, capsys):
    import pyarrow as pa

    from churnops.data.feature_store.local import LocalFeatureStore

    monkeypatch.chdir(tmp_path)
    store = LocalFeatureStore(".churnops/feature_store")
    rows = pa.table({"customer_id": ["a", "b"], "spend": [1.0, 2.0], "churn": [1, 0]})
    store.create_table("main.crm.customers", primary_keys="customer_id", df=rows)
    assert main(["features", "customers", "main.crm.customers", "--kind", "table"]) == 0
    path = store.table_path("main.crm.customers")
    assert f"scripts/train data.path={path} data.id_column=customer_id" in capsys.readouterr().out
