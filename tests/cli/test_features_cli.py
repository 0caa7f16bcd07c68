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
    assert "engine='polars'" in err and "duckdb" in err


def test_unknown_override_key_is_named(tmp_path, capsys):
    code = main(["features", "build", "--output-dir", str(tmp_path), "horizon=30"])
    assert code == 2
    assert "unknown key 'horizon'" in capsys.readouterr().err


def test_missing_source_file_is_named(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    code = main(["features", "build", "--source", "csv", "--path", str(missing)])
    assert code == 2
    assert str(missing) in capsys.readouterr().err
