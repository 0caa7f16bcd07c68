import pytest

from churnops.data.features.customer_table import (
    customer_table_config,
    infer_table_kind,
    parse_label_values,
)


def test_the_table_kind_comes_from_the_path(tmp_path):
    (tmp_path / "t" / "_delta_log").mkdir(parents=True)
    assert infer_table_kind("a/customers.CSV") == "csv"
    assert infer_table_kind(tmp_path / "t") == "delta"
    assert infer_table_kind(tmp_path / "folder") == "parquet"


def test_label_values_are_raw_0_1_pairs_and_a_bad_one_names_the_field():
    assert parse_label_values(" Churned=1, Active=0") == {"churned": 1, "active": 0}
    with pytest.raises(ValueError, match=r"--label-values='Yes=2': expected raw=0\|1 pairs"):
        parse_label_values("Yes=2", field="--label-values")


def test_customer_table_config_reads_typed_settings():
    cfg = customer_table_config("c.csv", id_column="None", categorical="plan, region,")
    assert (cfg.kind, cfg.id_column, cfg.categorical) == ("csv", None, ["plan", "region"])
    assert cfg.label_values == customer_table_config("c.csv").label_values  # the default
